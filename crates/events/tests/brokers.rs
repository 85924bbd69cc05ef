//! The broker sources against real servers on loopback: RabbitMQ (127.0.0.1:5672,
//! guest/guest), PostgreSQL (127.0.0.1:5432, database `test`, trust) and NATS with JetStream
//! (127.0.0.1:4222). `scripts/start-services.sh` starts them. A server that does not answer
//! fails its test with the reason; none is skipped. Each test uses its own queue, table or
//! stream and removes it afterwards.
//!
//! Each publishes messages (with one duplicate id and one malformed message), runs the source
//! into a log in a temporary directory, and checks the log: every message accepted once, in
//! publish order, the duplicate not appended again, the malformed one kept as rejected with
//! its reason, and the broker left with nothing unacknowledged.

use flowctl_events::log::Log;
use flowctl_events::query::{self, Filter, Row};
use flowctl_events::source::{amqp, nats, postgres, Notes};
use flowctl_events::{Intake, Routes};
use flowctl_lang::manifest::events::{Source, SourceKind};
use flowctl_lang::manifest::Manifest;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const MESSAGES: usize = 500;
/// The message published a second time (same id) after `DUPLICATE_AFTER`.
const DUPLICATE_OF: usize = 10;
const DUPLICATE_AFTER: usize = 250;
/// The malformed message is published after this one.
const MALFORMED_AFTER: usize = 300;
const WAIT: Duration = Duration::from_secs(60);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// A manifest with `source` and one subscription taking it (so `events ls` lists its events).
fn manifest(name: &str, source: &Source) -> Manifest {
    serde_json::from_value(json!({
        "project": "brokers",
        "sources": { name: source },
        "subscriptions": { "take": { "source": name, "function": "Take" } },
    }))
    .expect("the test manifest reads")
}

struct Harness {
    _dir: tempfile::TempDir,
    path: PathBuf,
    manifest: Manifest,
    notes: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    fn new(name: &str, source: Source) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sqlite");
        Harness {
            _dir: dir,
            path,
            manifest: manifest(name, &source),
            notes: Arc::default(),
        }
    }

    /// A fresh log handle and intake over the same file (as a restarted `flowctl dev`).
    fn intake(&self) -> Intake {
        let log = Log::open(&self.path, Routes::new(&self.manifest), None).expect("the log opens");
        Intake::new(log, self.manifest.sources.clone())
    }

    fn notes(&self) -> Notes {
        let notes = self.notes.clone();
        Arc::new(move |line: String| {
            eprintln!("note: {line}");
            notes.lock().unwrap().push(line);
        })
    }

    fn rows(&self) -> Vec<Row> {
        query::list(&self.path, &Filter::default()).expect("the log lists")
    }

    /// Waits until the log holds `events` events and `rejected` rejected messages.
    async fn wait_for(&self, events: usize, rejected: usize) -> Vec<Row> {
        let start = Instant::now();
        loop {
            let rows = self.rows();
            let (e, r) = counts(&rows);
            if e >= events && r >= rejected {
                return rows;
            }
            assert!(
                start.elapsed() < WAIT,
                "after {WAIT:?} the log holds {e} of {events} events and {r} of {rejected} rejected messages; notes: {:?}",
                self.notes.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn counts(rows: &[Row]) -> (usize, usize) {
    let rejected = rows.iter().filter(|r| r.seq.is_none()).count();
    (rows.len() - rejected, rejected)
}

/// The events' ids in seq order, checking seqs increase and no id is there twice.
fn ids_in_order(rows: &[Row]) -> Vec<String> {
    let events: Vec<&Row> = rows.iter().filter(|r| r.seq.is_some()).collect();
    let mut sorted = events.clone();
    sorted.sort_by_key(|r| r.seq);
    let ids: Vec<String> = sorted.iter().map(|r| r.id.clone().unwrap()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an id was appended twice");
    ids
}

fn expected_ids(prefix: &str) -> Vec<String> {
    (0..MESSAGES).map(|i| format!("{prefix}{i}")).collect()
}

fn payload(i: usize) -> Value {
    json!({"n": i, "booking": format!("b-{}", i % 7), "event_id": format!("m-{i}")})
}

async fn stop<T: std::fmt::Debug>(
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), T>>,
) {
    shutdown.send(true).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the source stops within 30 s of shutdown")
        .expect("the source task does not panic");
    ended.expect("the source ends with Ok on shutdown");
}

// ---------------------------------------------------------------------------------------
// RabbitMQ

/// The test broker's URL and a connection to it (a test fails, never skips, without one).
async fn amqp_connect() -> (String, lapin::Connection) {
    let url = env_or(
        "FLOWCTL_TEST_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    );
    let properties = flowctl_events::source::amqp::connection_properties();
    let connection = tokio::time::timeout(
        Duration::from_secs(10),
        lapin::Connection::connect(&url, properties),
    )
    .await
    .map_err(|_| "timed out".to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .unwrap_or_else(|e| {
        panic!("RabbitMQ is not reachable at {url} ({e}); start it with scripts/start-services.sh")
    });
    (url, connection)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_queue_into_the_log_in_order_acked_once_each() {
    use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions};
    use lapin::types::FieldTable;

    let (url, connection) = amqp_connect().await;
    let channel = connection.create_channel().await.unwrap();
    let queue = unique("flowctl-test");
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(&queue, durable, FieldTable::default())
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let publish = |body: Vec<u8>, id: Option<String>| amqp_publish(&channel, &queue, body, id);
    let mut confirms = Vec::new();
    for i in 0..MESSAGES {
        confirms.push(publish(payload(i).to_string().into_bytes(), Some(format!("m-{i}"))).await);
        if i == DUPLICATE_AFTER {
            let again = payload(DUPLICATE_OF).to_string().into_bytes();
            confirms.push(publish(again, Some(format!("m-{DUPLICATE_OF}"))).await);
        }
        if i == MALFORMED_AFTER {
            confirms.push(publish(b"{not json".to_vec(), Some("bad".into())).await);
        }
    }
    for confirm in confirms {
        confirm.await.unwrap();
    }

    let name = "payments";
    let source = Source {
        kind: SourceKind::Amqp(flowctl_lang::manifest::events::Amqp {
            url: None,
            url_env: Some("FLOWCTL_TEST_AMQP_SOURCE_URL".into()),
            queue: queue.clone(),
            prefetch: Some(200),
            broker_arn: None,
            secret_arn: None,
        }),
        event_type: Some("header:type".into()),
        id: None,
        key: Some("$.booking".into()),
    };
    // Set before the source reads it; only this test reads it.
    std::env::set_var("FLOWCTL_TEST_AMQP_SOURCE_URL", &url);
    let harness = Harness::new(name, source.clone());
    let SourceKind::Amqp(config) = source.kind else {
        unreachable!()
    };

    let started = Instant::now();
    let (shutdown, stopped) = watch::channel(false);
    let task = tokio::spawn(amqp::run(
        name.into(),
        config,
        harness.intake(),
        harness.notes(),
        stopped,
    ));
    let rows = harness.wait_for(MESSAGES, 1).await;
    let took = started.elapsed();
    stop(shutdown, task).await;
    eprintln!(
        "amqp: {} messages into the log in {took:?} ({:.0}/s)",
        MESSAGES + 2,
        (MESSAGES + 2) as f64 / took.as_secs_f64()
    );

    let rows_after = harness.rows();
    assert_eq!(
        counts(&rows_after),
        (MESSAGES, 1),
        "nothing more came after"
    );
    assert_eq!(ids_in_order(&rows), expected_ids("m-"));
    let rejected: Vec<&Row> = rows.iter().filter(|r| r.seq.is_none()).collect();
    assert!(
        rejected[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("the message body is not JSON"),
        "{rejected:?}"
    );
    let event = rows
        .iter()
        .find(|r| r.id.as_deref() == Some("m-3"))
        .unwrap();
    assert_eq!(event.key.as_deref(), Some("b-3"));
    assert_eq!(event.event_type.as_deref(), Some("booking.paid"));
    let notes = harness.notes.lock().unwrap().clone();
    assert!(
        notes[0].starts_with(&format!(
            "amqp {name}: connected to 127.0.0.1:5672, consuming queue {queue}"
        )),
        "{notes:?}"
    );

    // Every message was acknowledged: after the source's connection closed, nothing was
    // requeued.
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let left = channel
        .queue_declare(&queue, passive, FieldTable::default())
        .await
        .unwrap();
    assert_eq!(
        left.message_count(),
        0,
        "messages left unacknowledged in the queue"
    );
    channel
        .queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .unwrap();
    let _ = connection.close(200, "done").await;
}

/// The source's connection closed by the broker mid-stream (`rabbitmqctl close_connection`):
/// it notes the loss, reconnects, and every message still ends in the log exactly once, in
/// publish order, with none left unacknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_reconnects_after_the_broker_closes_the_connection() {
    use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions};
    use lapin::types::FieldTable;

    const COUNT: usize = 300;
    let (url, connection) = amqp_connect().await;
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let queue = unique("flowctl-test");
    // A unique source name makes a unique connection name to find the connection by.
    let name = format!("payments-{}", uuid::Uuid::new_v4().simple());
    let config = flowctl_lang::manifest::events::Amqp {
        url: Some(url.clone()),
        url_env: None,
        queue: queue.clone(),
        prefetch: Some(20),
        broker_arn: None,
        secret_arn: None,
    };
    let source = Source {
        kind: SourceKind::Amqp(config.clone()),
        event_type: None,
        id: None,
        key: None,
    };
    let harness = Harness::new(&name, source);
    let (shutdown, stopped) = watch::channel(false);
    // The source declares the queue (durable) itself.
    let task = tokio::spawn(amqp::run(
        name.clone(),
        config,
        harness.intake(),
        harness.notes(),
        stopped,
    ));
    let start = Instant::now();
    while !harness
        .notes
        .lock()
        .unwrap()
        .iter()
        .any(|n| n.contains("connected"))
    {
        assert!(start.elapsed() < WAIT, "the source did not connect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let publisher = {
        let (channel, queue) = (channel.clone(), queue.clone());
        tokio::spawn(async move {
            for i in 0..COUNT {
                let body = payload(i).to_string().into_bytes();
                amqp_publish(&channel, &queue, body, Some(format!("m-{i}")))
                    .await
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    harness.wait_for(50, 0).await;
    let listed = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .expect("rabbitmqctl runs");
    let listing = String::from_utf8_lossy(&listed.stdout);
    let pid = listing
        .lines()
        .find(|line| line.contains(&format!("flowctl {name}")))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("the source's connection is not listed: {listing}"))
        .to_string();
    let closed = std::process::Command::new("rabbitmqctl")
        .args(["close_connection", &pid, "closed by the test"])
        .status()
        .expect("rabbitmqctl runs");
    assert!(closed.success());
    publisher.await.unwrap();
    let rows = harness.wait_for(COUNT, 0).await;
    let start = Instant::now();
    loop {
        let notes = harness.notes.lock().unwrap().clone();
        if notes.iter().filter(|n| n.contains("connected to")).count() >= 2 {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the source did not reconnect: {notes:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop(shutdown, task).await;

    assert_eq!(counts(&harness.rows()), (COUNT, 0));
    assert_eq!(
        ids_in_order(&rows),
        (0..COUNT).map(|i| format!("m-{i}")).collect::<Vec<_>>()
    );
    let notes = harness.notes.lock().unwrap().clone();
    assert!(
        notes.iter().any(
            |n| n.starts_with(&format!("amqp {name}: connection lost ("))
                && n.ends_with("retrying in 0.5 s")
        ),
        "{notes:?}"
    );
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let left = channel
        .queue_declare(&queue, passive, FieldTable::default())
        .await
        .unwrap();
    assert_eq!(
        left.message_count(),
        0,
        "messages left unacknowledged in the queue"
    );
    channel
        .queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .unwrap();
    let _ = connection.close(200, "done").await;
}

/// Publishes one message to `queue`; answers its publisher confirm (awaited later).
async fn amqp_publish(
    channel: &lapin::Channel,
    queue: &str,
    body: Vec<u8>,
    id: Option<String>,
) -> lapin::publisher_confirm::PublisherConfirm {
    let mut properties = lapin::BasicProperties::default().with_type("booking.paid".into());
    if let Some(id) = id {
        properties = properties.with_message_id(id.into());
    }
    channel
        .basic_publish("", queue, Default::default(), &body, properties)
        .await
        .unwrap()
}

#[tokio::test]
async fn amqp_missing_url_env_is_a_configuration_error() {
    let config = flowctl_lang::manifest::events::Amqp {
        url: None,
        url_env: Some("FLOWCTL_TEST_NO_SUCH_VARIABLE".into()),
        queue: "q".into(),
        prefetch: None,
        broker_arn: None,
        secret_arn: None,
    };
    let source = Source {
        kind: SourceKind::Amqp(config.clone()),
        event_type: None,
        id: None,
        key: None,
    };
    let harness = Harness::new("payments", source);
    let (_shutdown, stopped) = watch::channel(false);
    let error = amqp::run(
        "payments".into(),
        config,
        harness.intake(),
        harness.notes(),
        stopped,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "source `payments`: the environment variable `FLOWCTL_TEST_NO_SUCH_VARIABLE` (its `url_env`) is not set"
    );
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

async fn postgres_client() -> (tokio_postgres::Client, String) {
    let url = env_or(
        "FLOWCTL_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let connected = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await
    .map_err(|_| "timed out".to_string())
    .and_then(|r| r.map_err(|e| e.to_string()));
    let (client, connection) = connected.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {url} ({e}); start it with scripts/start-services.sh"
        )
    });
    tokio::spawn(connection);
    (client, url)
}

fn postgres_source(url: &str, table: &str) -> Source {
    Source {
        kind: SourceKind::Postgres(flowctl_lang::manifest::events::Postgres {
            url: Some(url.into()),
            url_env: None,
            table: table.into(),
            cursor_column: None,
            every: Some(1),
        }),
        event_type: None,
        id: Some("$.event_id".into()),
        key: Some("$.booking".into()),
    }
}

/// A table dropped when the test ends, however it ends.
struct Dropped(String);

impl Drop for Dropped {
    fn drop(&mut self) {
        let table = self.0.clone();
        let url = env_or(
            "FLOWCTL_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        );
        let _ = std::process::Command::new("psql")
            .args([
                &url,
                "-qc",
                &format!("DROP TABLE IF EXISTS public.\"{table}\""),
            ])
            .status();
    }
}

async fn insert_rows(client: &tokio_postgres::Client, table: &str, from: usize, to: usize) {
    for i in from..to {
        let p = payload(i);
        client
            .execute(
                &format!(
                    "INSERT INTO public.\"{table}\"(event_id, booking, n) VALUES ($1, $2, $3)"
                ),
                &[
                    &p["event_id"].as_str().unwrap(),
                    &p["booking"].as_str().unwrap(),
                    &(i as i32),
                ],
            )
            .await
            .unwrap();
        if i == DUPLICATE_AFTER {
            let d = payload(DUPLICATE_OF);
            client
                .execute(
                    &format!(
                        "INSERT INTO public.\"{table}\"(event_id, booking, n) VALUES ($1, $2, $3)"
                    ),
                    &[
                        &d["event_id"].as_str().unwrap(),
                        &d["booking"].as_str().unwrap(),
                        &-1i32,
                    ],
                )
                .await
                .unwrap();
        }
        if i == MALFORMED_AFTER {
            // No booking: the key cannot be read.
            client
                .execute(
                    &format!("INSERT INTO public.\"{table}\"(event_id, booking, n) VALUES ('bad', NULL, -2)"),
                    &[],
                )
                .await
                .unwrap();
        }
    }
}

async fn create_outbox(client: &tokio_postgres::Client, table: &str) {
    client
        .batch_execute(&format!(
            "CREATE TABLE public.\"{table}\"(id bigserial PRIMARY KEY, event_id text NOT NULL, booking text, n integer NOT NULL)"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outbox_into_the_log_in_cursor_order() {
    let (client, url) = postgres_client().await;
    let table = unique("flowctl_outbox");
    let _dropped = Dropped(table.clone());
    create_outbox(&client, &table).await;
    insert_rows(&client, &table, 0, MESSAGES).await;

    let name = "outbox";
    let source = postgres_source(&url, &format!("public.{table}"));
    let harness = Harness::new(name, source.clone());
    let SourceKind::Postgres(config) = source.kind else {
        unreachable!()
    };
    let started = Instant::now();
    let (shutdown, stopped) = watch::channel(false);
    let intake = harness.intake();
    let task = tokio::spawn(postgres::run(
        name.into(),
        config,
        intake.clone(),
        harness.notes(),
        stopped,
    ));
    let rows = harness.wait_for(MESSAGES, 1).await;
    let took = started.elapsed();
    stop(shutdown, task).await;
    eprintln!(
        "postgres: {} rows into the log in {took:?} (with the {:?} settle delay)",
        MESSAGES + 2,
        postgres::SETTLE
    );

    assert_eq!(counts(&harness.rows()), (MESSAGES, 1));
    assert_eq!(ids_in_order(&rows), expected_ids("m-"));
    let rejected: Vec<&Row> = rows.iter().filter(|r| r.seq.is_none()).collect();
    assert_eq!(
        rejected[0].error.as_deref(),
        Some("no event key: `$.booking` is null, not a string or a number")
    );
    // The cursor is the last row's id (500 rows, the duplicate and the malformed one).
    assert_eq!(
        intake.log().cursor(name).await.unwrap().as_deref(),
        Some(&*(MESSAGES + 2).to_string())
    );
    let shown = query::show(&harness.path, &format!("{name}/m-42")).unwrap();
    assert_eq!(shown.event["data"]["n"], json!(42));
    assert_eq!(shown.event["data"]["booking"], json!("b-0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_reads_only_the_rows_after_the_stored_cursor() {
    let (client, url) = postgres_client().await;
    let table = unique("flowctl_outbox");
    let _dropped = Dropped(table.clone());
    create_outbox(&client, &table).await;
    insert_rows(&client, &table, 0, 100).await;

    let name = "outbox";
    let source = postgres_source(&url, &table);
    let harness = Harness::new(name, source.clone());
    let SourceKind::Postgres(config) = source.kind else {
        unreachable!()
    };

    let (shutdown, stopped) = watch::channel(false);
    let task = tokio::spawn(postgres::run(
        name.into(),
        config.clone(),
        harness.intake(),
        harness.notes(),
        stopped,
    ));
    let first = harness.wait_for(100, 0).await;
    stop(shutdown, task).await;
    // Let the first run's log writer finish before the restart opens the file again.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Rows already read made unreadable: were they read again, they would be rejected.
    client
        .execute(
            &format!("UPDATE public.\"{table}\" SET booking = NULL"),
            &[],
        )
        .await
        .unwrap();
    for i in 100..150 {
        let p = payload(i);
        client
            .execute(
                &format!(
                    "INSERT INTO public.\"{table}\"(event_id, booking, n) VALUES ($1, $2, $3)"
                ),
                &[
                    &p["event_id"].as_str().unwrap(),
                    &p["booking"].as_str().unwrap(),
                    &(i as i32),
                ],
            )
            .await
            .unwrap();
    }
    let (shutdown, stopped) = watch::channel(false);
    let intake = harness.intake();
    let task = tokio::spawn(postgres::run(
        name.into(),
        config,
        intake.clone(),
        harness.notes(),
        stopped,
    ));
    let rows = harness.wait_for(150, 0).await;
    stop(shutdown, task).await;

    assert_eq!(
        counts(&harness.rows()),
        (150, 0),
        "no row read twice, none rejected"
    );
    let ids = ids_in_order(&rows);
    assert_eq!(ids, (0..150).map(|i| format!("m-{i}")).collect::<Vec<_>>());
    let first_seqs: Vec<Option<i64>> = first.iter().map(|r| r.seq).collect();
    let again: Vec<Option<i64>> = rows.iter().take(100).map(|r| r.seq).collect();
    assert_eq!(first_seqs, again, "the first run's events are as they were");
    assert_eq!(
        intake.log().cursor(name).await.unwrap().as_deref(),
        Some("150")
    );
    let notes = harness.notes.lock().unwrap().clone();
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("reading table {table} after id 100"))),
        "{notes:?}"
    );
}

#[tokio::test]
async fn postgres_table_names_are_identifiers() {
    let source = postgres_source("postgres://postgres@127.0.0.1/test", "outbox; DROP TABLE x");
    let harness = Harness::new("outbox", source.clone());
    let SourceKind::Postgres(config) = source.kind else {
        unreachable!()
    };
    let (_shutdown, stopped) = watch::channel(false);
    let error = postgres::run(
        "outbox".into(),
        config,
        harness.intake(),
        harness.notes(),
        stopped,
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("is not a table name"), "{error}");
}

// ---------------------------------------------------------------------------------------
// NATS JetStream

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_stream_into_the_log_in_order_acked_once_each() {
    use async_nats::jetstream::{self, stream};

    let url = env_or("FLOWCTL_TEST_NATS_URL", "nats://127.0.0.1:4222");
    let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(&url))
        .await
        .map_err(|_| "timed out".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .unwrap_or_else(|e| {
            panic!("NATS is not reachable at {url} ({e}); start it with scripts/start-services.sh")
        });
    let js = jetstream::new(client.clone());
    let stream_name = unique("FLOWCTL_TEST");
    let subject = format!("flowctl-test.{}", uuid::Uuid::new_v4().simple());
    let created = js
        .create_stream(stream::Config {
            name: stream_name.clone(),
            subjects: vec![subject.clone()],
            // Short, so the duplicate id below reaches the consumer (JetStream drops a
            // repeated Nats-Msg-Id within this window itself).
            duplicate_window: Duration::from_millis(100),
            ..stream::Config::default()
        })
        .await;
    created
        .unwrap_or_else(|e| panic!("JetStream is not enabled on {url} ({e}); run nats-server -js"));
    struct Delete(jetstream::Context, String);
    impl Drop for Delete {
        fn drop(&mut self) {
            let (js, name) = (self.0.clone(), self.1.clone());
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async { js.delete_stream(&name).await.map(drop) })
            })
            .join();
        }
    }
    let _delete = Delete(js.clone(), stream_name.clone());

    let publish = |body: Vec<u8>, id: String| {
        let (js, subject) = (js.clone(), subject.clone());
        async move {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            headers.insert("Ce-Type", "booking.paid");
            js.publish_with_headers(subject, headers, body.into())
                .await
                .unwrap()
        }
    };
    let mut acks = Vec::new();
    for i in 0..MESSAGES {
        acks.push(publish(payload(i).to_string().into_bytes(), format!("m-{i}")).await);
        if i == DUPLICATE_AFTER {
            tokio::time::sleep(Duration::from_millis(300)).await;
            acks.push(
                publish(
                    payload(DUPLICATE_OF).to_string().into_bytes(),
                    format!("m-{DUPLICATE_OF}"),
                )
                .await,
            );
        }
        if i == MALFORMED_AFTER {
            acks.push(publish(b"{not json".to_vec(), "bad".into()).await);
        }
    }
    for ack in acks {
        let ack = ack.await.unwrap();
        assert!(!ack.duplicate, "the stream took every message");
    }

    let name = "orders";
    let source = Source {
        kind: SourceKind::Nats(flowctl_lang::manifest::events::Nats {
            url: Some(url.clone()),
            url_env: None,
            stream: stream_name.clone(),
            subject: subject.clone(),
        }),
        event_type: Some("header:Ce-Type".into()),
        id: None,
        key: Some("$.booking".into()),
    };
    let harness = Harness::new(name, source.clone());
    let SourceKind::Nats(config) = source.kind else {
        unreachable!()
    };
    let started = Instant::now();
    let (shutdown, stopped) = watch::channel(false);
    let task = tokio::spawn(nats::run(
        name.into(),
        config,
        harness.intake(),
        harness.notes(),
        stopped,
    ));
    let rows = harness.wait_for(MESSAGES, 1).await;
    let took = started.elapsed();
    // Acks are sent after each commit; give the last ones a moment to reach the server.
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(&stream_name)
        .await
        .unwrap()
        .get_consumer(&format!("flowctl-{name}"))
        .await
        .unwrap();
    let start = Instant::now();
    let info = loop {
        let info = consumer.info().await.unwrap().clone();
        if (info.num_ack_pending == 0 && info.num_pending == 0)
            || start.elapsed() > Duration::from_secs(10)
        {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop(shutdown, task).await;
    eprintln!(
        "nats: {} messages into the log in {took:?} ({:.0}/s)",
        MESSAGES + 2,
        (MESSAGES + 2) as f64 / took.as_secs_f64()
    );

    assert_eq!(counts(&harness.rows()), (MESSAGES, 1));
    assert_eq!(ids_in_order(&rows), expected_ids("m-"));
    let rejected: Vec<&Row> = rows.iter().filter(|r| r.seq.is_none()).collect();
    assert!(
        rejected[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("the message payload is not JSON"),
        "{rejected:?}"
    );
    let event = rows
        .iter()
        .find(|r| r.id.as_deref() == Some("m-3"))
        .unwrap();
    assert_eq!(
        (event.event_type.as_deref(), event.key.as_deref()),
        (Some("booking.paid"), Some("b-3"))
    );
    assert_eq!(
        (info.num_ack_pending, info.num_pending),
        (0, 0),
        "every message acknowledged, none left"
    );
    assert_eq!(info.delivered.stream_sequence, (MESSAGES + 2) as u64);
    let notes = harness.notes.lock().unwrap().clone();
    assert!(
        notes[0].starts_with(&format!(
            "nats {name}: connected to 127.0.0.1:4222, consuming stream {stream_name}"
        )),
        "{notes:?}"
    );
}

/// A broker that does not answer is retried with notes, and shutdown still ends the source.
#[tokio::test]
async fn nats_unreachable_server_is_retried_with_notes_until_shutdown() {
    let config = flowctl_lang::manifest::events::Nats {
        url: Some("nats://127.0.0.1:1".into()),
        url_env: None,
        stream: "S".into(),
        subject: "s".into(),
    };
    let source = Source {
        kind: SourceKind::Nats(config.clone()),
        event_type: None,
        id: None,
        key: None,
    };
    let harness = Harness::new("orders", source);
    let (shutdown, stopped) = watch::channel(false);
    let task = tokio::spawn(nats::run(
        "orders".into(),
        config,
        harness.intake(),
        harness.notes(),
        stopped,
    ));
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stop(shutdown, task).await;
    let notes = harness.notes.lock().unwrap().clone();
    assert!(notes.len() >= 2, "{notes:?}");
    assert!(
        notes[0].starts_with("nats orders: cannot connect to 127.0.0.1:1"),
        "{notes:?}"
    );
    assert!(notes[0].ends_with("retrying in 0.5 s"), "{notes:?}");
    assert!(notes[1].ends_with("retrying in 1 s"), "{notes:?}");
}
