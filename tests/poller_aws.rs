//! The deployed poller (`flowctl_subscriber::poller`) against moto's SQS and DynamoDB and the
//! real PostgreSQL (127.0.0.1:5432, database `test`, user `postgres`, as the brokers tests
//! use it; `FLOWCTL_TEST_POSTGRES_URL` overrides): an outbox's rows reach the queues of the
//! subscriptions that take them in cursor order with their group and deduplication ids, the
//! cursor item holds the last row, a second invocation sends nothing again, a row whose key
//! cannot be read is kept as a rejected item with its reason; a poll function (an in-process
//! closure) is paged through, its garbage answer kept and reported, and a cursor moved by
//! another poller stops this one without an error.

use aws_sdk_dynamodb::types::AttributeValue;
use flowctl_protocol::subscriber::{cursors, table, PollerConfig, PollerKind, Route, TargetRef};
use flowctl_subscriber::config::Clients;
use flowctl_subscriber::poller::{serve_once, PollError};
use flowctl_subscriber::target::InProcess;
use flowctl_tests::sdk::{self, drain, route};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const CURSORS: &str = "p-cursors";

async fn clients() -> Clients {
    let clients = Clients::new(&sdk::config().await);
    cursor_table(&clients.dynamodb).await;
    clients
}

/// The project's cursor table, created once per moto server (the tests share it, each
/// source its own partition).
async fn cursor_table(dynamodb: &aws_sdk_dynamodb::Client) {
    static CREATED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    CREATED.get_or_init(|| sdk::table(dynamodb, CURSORS)).await;
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sdk::fifo_queue(sqs, name, None).await
}

/// The source's items of the cursor table: (sort key, attributes).
async fn items(
    dynamodb: &aws_sdk_dynamodb::Client,
    source: &str,
) -> Vec<(String, std::collections::HashMap<String, AttributeValue>)> {
    let out = dynamodb
        .query()
        .table_name(CURSORS)
        .key_condition_expression("#k = :k")
        .expression_attribute_names("#k", table::KEY)
        .expression_attribute_values(":k", AttributeValue::S(source.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            let sort = item[table::SORT].as_s().unwrap().clone();
            (sort, item)
        })
        .collect()
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    item[name].as_s().unwrap().clone()
}

fn config(source: &str, routes: Vec<Route>, kind: PollerKind) -> PollerConfig {
    PollerConfig {
        source: source.into(),
        event_type: None,
        id: Some("$.event_id".into()),
        key: Some("$.booking".into()),
        every_seconds: 1,
        cursor_table: CURSORS.into(),
        routes,
        kind,
    }
}

/// A deadline leaving a few polls before the poller's margin.
fn deadline() -> SystemTime {
    SystemTime::now() + Duration::from_secs(14)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbox_reaches_the_routed_queues_in_cursor_order() {
    let url = std::env::var("FLOWCTL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (db, connection) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await
    .expect("PostgreSQL answers within 10 s")
    .unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {url} ({e}); start it with scripts/start-services.sh"
        )
    });
    tokio::spawn(connection);
    let name = format!("flowctl_poller_{}", std::process::id());
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS public.{name};
         CREATE TABLE public.{name}(id bigserial PRIMARY KEY, event_id text NOT NULL, booking text, amount numeric);
         INSERT INTO public.{name}(event_id, booking, amount) VALUES
           ('e-1', 'b-1', 10), ('e-2', 'b-2', 20.5), ('e-3', NULL, 0), ('e-4', 'b-1', 40);"
    ))
    .await
    .unwrap();

    let clients = clients().await;
    let all = queue(&clients.sqs, "poller-pg-all").await;
    let by_amount = queue(&clients.sqs, "poller-pg-amount").await;
    let config = config(
        "outbox",
        vec![
            route("all", &all),
            Route {
                key: Some("$.amount".into()),
                ..route("by-amount", &by_amount)
            },
        ],
        PollerKind::Postgres {
            url: None,
            url_env: Some("FLOWCTL_TEST_POLLER_URL_NEVER_SET".into()),
            table: format!("public.{name}"),
            cursor_column: "id".into(),
        },
    );
    let unset = serve_once(&config, &clients, deadline(), None).await;
    assert!(
        matches!(&unset, Err(PollError::Config { reason, .. }) if reason.contains("FLOWCTL_TEST_POLLER_URL_NEVER_SET")),
        "{unset:?}"
    );
    let config = PollerConfig {
        kind: PollerKind::Postgres {
            url: Some(url.clone()),
            url_env: None,
            table: format!("public.{name}"),
            cursor_column: "id".into(),
        },
        ..config
    };

    let report = serve_once(&config, &clients, deadline(), None)
        .await
        .unwrap();
    assert_eq!(
        (report.events, report.rejected, report.cursor.as_deref()),
        (3, 1, Some("4")),
        "{report:?}"
    );
    assert!(
        report.polls >= 2,
        "the first read waits for the rows to settle: {report:?}"
    );
    let messages = drain(&clients.sqs, &all).await;
    let seen: Vec<(&str, &str, &str)> = messages
        .iter()
        .map(|(g, d, e)| (g.as_str(), d.as_str(), e["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("b-1", "e-1", "e-1"),
            ("b-2", "e-2", "e-2"),
            ("b-1", "e-4", "e-4")
        ]
    );
    let (_, _, first) = &messages[0];
    let accepted_at = first["accepted_at"].as_str().unwrap().to_string();
    assert!(
        accepted_at.len() == 24 && accepted_at.ends_with('Z'),
        "{accepted_at}"
    );
    assert_eq!(
        first,
        &json!({"source": "outbox", "type": "outbox", "id": "e-1", "key": "b-1",
                "accepted_at": accepted_at,
                "data": {"id": 1, "event_id": "e-1", "booking": "b-1", "amount": 10}})
    );
    let keyed: Vec<(String, Value)> = drain(&clients.sqs, &by_amount)
        .await
        .into_iter()
        .map(|(g, _, e)| (g, e["key"].clone()))
        .collect();
    assert_eq!(
        keyed,
        [
            ("10".to_string(), json!("10")),
            ("20.5".to_string(), json!("20.5")),
            ("40".to_string(), json!("40"))
        ]
    );

    let stored = items(&clients.dynamodb, "outbox").await;
    let [(cursor_item, cursor), (rejected_item, rejected)] = &stored[..] else {
        panic!("a cursor and one rejected item: {stored:?}")
    };
    assert_eq!(cursor_item, cursors::CURSOR_ITEM);
    assert_eq!(text(cursor, cursors::CURSOR), "4");
    assert!(
        rejected_item.starts_with(cursors::REJECTED_PREFIX),
        "{rejected_item}"
    );
    assert_eq!(
        text(rejected, cursors::REASON),
        "no event key: `$.booking` is null, not a string or a number"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&text(rejected, table::BODY)).unwrap(),
        json!({"id": 3, "event_id": "e-3", "booking": null, "amount": 0})
    );

    let again = serve_once(&config, &clients, deadline(), None)
        .await
        .unwrap();
    assert_eq!(
        (again.events, again.rejected, again.cursor.as_deref()),
        (0, 0, Some("4")),
        "{again:?}"
    );
    assert!(drain(&clients.sqs, &all).await.is_empty());
    assert_eq!(items(&clients.dynamodb, "outbox").await.len(), 2);

    db.batch_execute(&format!(
        "INSERT INTO public.{name}(event_id, booking, amount) VALUES ('e-5', 'b-2', 50)"
    ))
    .await
    .unwrap();
    let after = serve_once(&config, &clients, deadline(), None)
        .await
        .unwrap();
    assert_eq!((after.events, after.cursor.as_deref()), (1, Some("5")));
    let ids: Vec<Value> = drain(&clients.sqs, &all)
        .await
        .into_iter()
        .map(|(_, _, e)| e["id"].clone())
        .collect();
    assert_eq!(ids, [json!("e-5")]);
    db.batch_execute(&format!("DROP TABLE public.{name}"))
        .await
        .unwrap();
}

/// A poll function answering `pages` in turn (the last one for ever after), recording the
/// cursors it is called with.
fn pages(pages: Vec<Value>) -> (Arc<dyn InProcess>, Arc<Mutex<Vec<Value>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let function: Arc<dyn InProcess> = Arc::new(move |name: String, payload: Value| {
        let mut calls = seen.lock().unwrap();
        let answer = pages[calls.len().min(pages.len() - 1)].clone();
        calls.push(payload);
        async move {
            assert_eq!(name, "Feed");
            Ok(answer)
        }
    });
    (function, calls)
}

fn poll_kind() -> PollerKind {
    PollerKind::Poll {
        target: TargetRef::InProcess {
            function: "Feed".into(),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_function_is_paged_through() {
    let clients = clients().await;
    let feed = queue(&clients.sqs, "poller-feed").await;
    let only_paid = queue(&clients.sqs, "poller-feed-paid").await;
    let mut config = config(
        "feed",
        vec![
            route("all", &feed),
            Route {
                types: vec!["paid".into()],
                ..route("paid", &only_paid)
            },
        ],
        poll_kind(),
    );
    config.event_type = Some("$.type".into());
    let (function, calls) = pages(vec![
        json!({"events": [{"event_id": "f-1", "booking": "b-1", "type": "paid"},
                          {"event_id": "f-2", "booking": "b-2", "type": "new"}],
               "cursor": {"page": 1}}),
        json!({"events": [{"event_id": "f-3", "booking": "b-1", "type": "paid"}],
               "cursor": {"page": 2}}),
        json!({"events": [], "cursor": {"page": 2}}),
    ]);
    let report = serve_once(&config, &clients, deadline(), Some(function))
        .await
        .unwrap();
    assert_eq!(
        (report.events, report.rejected, report.cursor.as_deref()),
        (3, 0, Some(r#"{"page":2}"#)),
        "{report:?}"
    );
    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls[..3],
        [
            json!({"cursor": null}),
            json!({"cursor": {"page": 1}}),
            json!({"cursor": {"page": 2}})
        ]
    );
    assert!(calls[3..]
        .iter()
        .all(|c| c == &json!({"cursor": {"page": 2}})));
    assert_eq!(report.polls as usize, calls.len());
    let all: Vec<(String, String, String)> = drain(&clients.sqs, &feed)
        .await
        .into_iter()
        .map(|(g, d, e)| (g, d, e["type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        all,
        [
            ("b-1".into(), "f-1".into(), "paid".into()),
            ("b-2".into(), "f-2".into(), "new".into()),
            ("b-1".into(), "f-3".into(), "paid".into())
        ]
    );
    let paid: Vec<String> = drain(&clients.sqs, &only_paid)
        .await
        .into_iter()
        .map(|(_, d, _)| d)
        .collect();
    assert_eq!(paid, ["f-1", "f-3"]);
    let stored = items(&clients.dynamodb, "feed").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(text(&stored[0].1, cursors::CURSOR), r#"{"page":2}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_answer_is_kept_and_reported_with_the_cursor_unchanged() {
    let clients = clients().await;
    let feed = queue(&clients.sqs, "poller-garbage").await;
    let config = config("garbage", vec![route("all", &feed)], poll_kind());
    let (function, _) = pages(vec![json!({"items": [1], "next": 2})]);
    let error = serve_once(&config, &clients, deadline(), Some(function))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "source `garbage`: the poll function must answer {\"events\": [...], \"cursor\": ...}; function `Feed` answered something else"
    );
    let stored = items(&clients.dynamodb, "garbage").await;
    let [(item, rejected)] = &stored[..] else {
        panic!("one rejected item and no cursor: {stored:?}")
    };
    assert!(item.starts_with(cursors::REJECTED_PREFIX));
    assert_eq!(text(rejected, table::BODY), r#"{"items":[1],"next":2}"#);
    assert!(drain(&clients.sqs, &feed).await.is_empty());

    let failing: Arc<dyn InProcess> = Arc::new(|_: String, _: Value| async {
        Err(flowctl_protocol::Error::new("Upstream", "the feed is down"))
    });
    let error = serve_once(&config, &clients, deadline(), Some(failing))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "source `garbage`: the poll function function `Feed` failed: Upstream: the feed is down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_moved_by_another_poller_stops_this_one() {
    let clients = clients().await;
    let feed = queue(&clients.sqs, "poller-raced").await;
    let config = config("raced", vec![route("all", &feed)], poll_kind());
    let dynamodb = clients.dynamodb.clone();
    // While this poller waits for its function, "another" one stores its own cursor.
    let function: Arc<dyn InProcess> = Arc::new(move |_: String, _: Value| {
        let dynamodb = dynamodb.clone();
        async move {
            dynamodb
                .put_item()
                .table_name(CURSORS)
                .item(table::KEY, AttributeValue::S("raced".into()))
                .item(table::SORT, AttributeValue::S(cursors::CURSOR_ITEM.into()))
                .item(cursors::CURSOR, AttributeValue::S("\"theirs\"".into()))
                .send()
                .await
                .unwrap();
            Ok(json!({"events": [{"event_id": "r-1", "booking": "b"}], "cursor": "mine"}))
        }
    });
    let report = serve_once(&config, &clients, deadline(), Some(function))
        .await
        .unwrap();
    assert!(report.cursor_moved_elsewhere, "{report:?}");
    assert_eq!((report.polls, report.cursor), (1, None));
    let stored = items(&clients.dynamodb, "raced").await;
    assert_eq!(text(&stored[0].1, cursors::CURSOR), "\"theirs\"");
    // Sent before the cursor moved (at-least-once): the other poller's or the subscriber's
    // deduplication absorbs it.
    assert_eq!(drain(&clients.sqs, &feed).await.len(), 1);
}
