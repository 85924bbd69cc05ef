//! The webhook ingest (`flowctl_subscriber::ingest`) against moto's SQS: a signed function
//! URL request reaches the queue of every subscription that takes its type, with its group
//! (the route's key) and deduplication (the event id, hashed when SQS would refuse it) ids; a
//! base64 body is decoded; a refused request (bad signature, no id, not a POST, the secret
//! variable unset, not JSON, too large) puts nothing on the queues; a queue that refuses the
//! event is a 503 with its reason.

use base64::Engine;
use flowctl_protocol::event::MAX_BODY;
use flowctl_protocol::signature::sign;
use flowctl_protocol::subscriber::{message_group_id, IngestConfig, Route};
use flowctl_subscriber::ingest::handle;
use flowctl_tests::sdk::{self, drain, route};
use serde_json::{json, Value};

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk::config().await)
}

/// The webhook source `hooks`: its events' type read from the payload, unsigned; to `routes`.
fn config(routes: Vec<Route>) -> IngestConfig {
    serde_json::from_value(json!({"source": "hooks", "event_type": "$.type", "routes": routes}))
        .expect("an ingest configuration")
}

/// A function URL request (payload format 2.0).
fn request(method: &str, headers: Value, body: &str) -> Value {
    json!({
        "version": "2.0",
        "rawPath": "/",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": "/"}},
        "body": body,
        "isBase64Encoded": false,
    })
}

/// The secret of the signed tests: `PATH`, a variable every test process has, so no test
/// sets one (setting the environment races the other tests' threads).
fn path_secret() -> Vec<u8> {
    std::env::var("PATH").expect("PATH is set").into_bytes()
}

fn status_and_body(response: &Value) -> (u64, Value) {
    let body = response["body"].as_str().expect("a text body");
    (
        response["statusCode"].as_u64().expect("a status"),
        serde_json::from_str(body).expect("a JSON body"),
    )
}

#[tokio::test]
async fn a_signed_request_reaches_every_route_that_takes_its_type() {
    let sqs = sqs().await;
    let (all, by_booking, others) = (
        sdk::fifo_queue(&sqs, "ingest-all", None).await,
        sdk::fifo_queue(&sqs, "ingest-booking", None).await,
        sdk::fifo_queue(&sqs, "ingest-others", None).await,
    );
    let mut config = config(vec![
        route("all", &all),
        Route {
            key: Some("$.booking.id".into()),
            ..route("booking", &by_booking)
        },
        Route {
            types: vec!["other".into()],
            ..route("others", &others)
        },
    ]);
    config.secret_env = Some("PATH".into());
    let body = r#"{"type":"booking.requested","booking":{"id":"b-9"}}"#;
    let signature = format!("sha256={}", sign(&path_secret(), &[body.as_bytes()]));
    let headers = json!({"x-github-delivery": "d-1", "x-hub-signature-256": signature});
    let response = handle(&config, request("POST", headers, body), &sqs).await;
    assert_eq!(
        response["headers"]["content-type"], "application/json",
        "{response}"
    );
    assert_eq!(
        status_and_body(&response),
        (202, json!({"accepted": true, "id": "d-1", "routes": 2}))
    );
    let [(group, dedup, event)] = &drain(&sqs, &all).await[..] else {
        panic!("one message on the queue of `all`")
    };
    assert_eq!((group, dedup), (&message_group_id(""), &"d-1".to_string()));
    let accepted_at = event["accepted_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        accepted_at.len() == 24 && accepted_at.ends_with('Z'),
        "{accepted_at}"
    );
    assert_eq!(
        event,
        &json!({
            "source": "hooks", "type": "booking.requested", "id": "d-1", "key": "",
            "accepted_at": accepted_at,
            "data": {"type": "booking.requested", "booking": {"id": "b-9"}},
        })
    );
    let [(group, dedup, keyed)] = &drain(&sqs, &by_booking).await[..] else {
        panic!("one message on the queue of `booking`")
    };
    assert_eq!((group.as_str(), dedup.as_str()), ("b-9", "d-1"));
    assert_eq!(keyed["key"], "b-9");
    assert_eq!(keyed["data"], event["data"]);
    assert!(drain(&sqs, &others).await.is_empty());
}

#[tokio::test]
async fn base64_bodies_are_decoded_and_odd_ids_hashed_for_deduplication() {
    let sqs = sqs().await;
    let queue_url = sdk::fifo_queue(&sqs, "ingest-base64", None).await;
    let mut config = config(vec![route("all", &queue_url)]);
    config.id = Some("$.id".into());
    config.key = Some("$.customer".into());
    let body = r#"{"type":"paid","id":"order 7","customer":"c-1"}"#;
    let mut request = request(
        "POST",
        json!({}),
        &base64::engine::general_purpose::STANDARD.encode(body),
    );
    request["isBase64Encoded"] = json!(true);
    let (status, answer) = status_and_body(&handle(&config, request.clone(), &sqs).await);
    assert_eq!(
        (status, &answer["id"]),
        (202, &json!("order 7")),
        "{answer}"
    );
    let [(group, dedup, event)] = &drain(&sqs, &queue_url).await[..] else {
        panic!("one message")
    };
    assert_eq!(group, "c-1");
    assert_eq!(
        dedup,
        &flowctl_protocol::subscriber::deduplication_id("order 7")
    );
    assert_eq!(dedup.len(), 64);
    assert_eq!(event["data"]["customer"], "c-1");
    request["body"] = json!("not base64!");
    let (status, answer) = status_and_body(&handle(&config, request, &sqs).await);
    assert_eq!(status, 400);
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("not valid base64"));
}

#[tokio::test]
async fn refused_requests_put_nothing_on_the_queues() {
    let sqs = sqs().await;
    let queue_url = sdk::fifo_queue(&sqs, "ingest-refused", None).await;
    let mut signed = config(vec![route("all", &queue_url)]);
    signed.secret_env = Some("PATH".into());
    let body = r#"{"type":"t"}"#;
    let good = format!("sha256={}", sign(&path_secret(), &[body.as_bytes()]));
    let bad = format!("sha256={}", sign(b"not the secret", &[body.as_bytes()]));

    let answer = |config: IngestConfig, request: Value| {
        let sqs = sqs.clone();
        async move { status_and_body(&handle(&config, request, &sqs).await) }
    };
    let (status, body401) = answer(
        signed.clone(),
        request(
            "POST",
            json!({"x-hub-signature-256": bad, "idempotency-key": "i-1"}),
            body,
        ),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        body401["error"],
        "bad signature: X-Hub-Signature-256 does not match the body"
    );
    let (status, body422) = answer(
        signed.clone(),
        request("POST", json!({"x-hub-signature-256": good}), body),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body422,
        json!({"error": "no event id: the request has none of the headers Idempotency-Key, X-GitHub-Delivery, X-Request-Id and the source names no `id` path", "rejected": true})
    );
    let (status, body405) = answer(signed.clone(), request("GET", json!({}), "")).await;
    assert_eq!(
        (status, body405),
        (405, json!({"error": "webhooks take POST"}))
    );
    let mut unset = signed.clone();
    unset.secret_env = Some("FLOWCTL_INGEST_TEST_SECRET_NEVER_SET".into());
    let (status, body500) = answer(
        unset,
        request("POST", json!({"x-hub-signature-256": "sha256=00"}), body),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body500["error"]
        .as_str()
        .unwrap()
        .contains("FLOWCTL_INGEST_TEST_SECRET_NEVER_SET is not set"));
    let (status, body400) = answer(
        config(vec![route("all", &queue_url)]),
        request("POST", json!({"idempotency-key": "i-2"}), "{"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body400["error"]
        .as_str()
        .unwrap()
        .starts_with("the body is not JSON"));
    let big = format!(r#"{{"type":"t","pad":"{}"}}"#, "x".repeat(MAX_BODY));
    let (status, _) = answer(
        config(vec![route("all", &queue_url)]),
        request("POST", json!({"idempotency-key": "i-3"}), &big),
    )
    .await;
    assert_eq!(status, 413);
    assert!(drain(&sqs, &queue_url).await.is_empty());
}

#[tokio::test]
async fn a_queue_that_refuses_is_a_503_with_its_reason() {
    let sqs = sqs().await;
    let queue_url = sdk::fifo_queue(&sqs, "ingest-exists", None).await;
    let missing = queue_url.replace("ingest-exists", "ingest-missing");
    let config = config(vec![route("all", &queue_url), route("gone", &missing)]);
    let response = handle(
        &config,
        request("POST", json!({"idempotency-key": "i-1"}), r#"{"type":"t"}"#),
        &sqs,
    )
    .await;
    let (status, body) = status_and_body(&response);
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("sqs:SendMessage to {missing} (event `i-1`)"))
            && error.ends_with("; retry later"),
        "{error}"
    );
}
