//! The Amazon MQ ingest (`flowctl_subscriber::mq`) against moto's SQS: an MQ-shaped event's
//! messages reach the queues of the subscriptions that take them in the event's order, with
//! their group (the route's key) and deduplication (the message id) ids; a message without an
//! id is kept as rejected on every route's queue, a message that is not an event, with its
//! reason; a queue that refuses a message fails the invocation.

use base64::Engine;
use flowctl_protocol::subscriber::{message_group_id, IngestConfig, Route};
use flowctl_subscriber::mq::{handle, MqError, MqReport};
use flowctl_tests::sdk::{self, drain, route};
use serde_json::{json, Value};

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk::config().await)
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sdk::fifo_queue(sqs, name, None).await
}

/// The `amqp` source `payments`: its events' type and key read from the payload, the id the
/// message's; to `routes`.
fn config(routes: Vec<Route>) -> IngestConfig {
    serde_json::from_value(json!({
        "source": "payments", "event_type": "$.type", "key": "$.booking",
        "routes": routes, "kind": "amqp",
    }))
    .expect("an ingest configuration")
}

/// A broker message as Lambda hands it: the id a property, a text header as its bytes.
fn message(id: Option<&str>, payload: Value) -> Value {
    json!({
        "basicProperties": {
            "contentType": "application/json", "messageId": id,
            "headers": {"trace": {"bytes": [116, 49]}, "attempt": 1},
            "deliveryMode": 2, "timestamp": "Jan 1, 1970, 12:33:41 AM", "bodySize": 40,
        },
        "redelivered": false,
        "data": base64::engine::general_purpose::STANDARD.encode(payload.to_string()),
    })
}

fn mq_event(messages: Vec<Value>) -> Value {
    json!({
        "eventSource": "aws:rmq",
        "eventSourceArn": "arn:aws:mq:us-east-1:123456789012:broker:payments:b-9bcfa592-423a-4942-879d-eb284b418fc8",
        "rmqMessagesByQueue": {"payments::/": messages},
    })
}

#[tokio::test]
async fn messages_reach_the_routes_in_order_and_a_message_without_id_is_kept() {
    let sqs = sqs().await;
    let (all, paid) = (queue(&sqs, "mq-all").await, queue(&sqs, "mq-paid").await);
    let config = config(vec![
        route("all", &all),
        Route {
            types: vec!["paid".into()],
            ..route("paid", &paid)
        },
    ]);
    let event = mq_event(vec![
        message(Some("m-1"), json!({"type": "paid", "booking": "b-1"})),
        message(Some("m-2"), json!({"type": "held", "booking": "b-2"})),
        message(
            Some("m-3"),
            json!({"type": "paid", "booking": "b-1", "n": 3}),
        ),
        message(None, json!({"type": "paid", "booking": "b-2"})),
    ]);
    let report = handle(&config, &event, &sqs).await.unwrap();
    assert_eq!(
        report,
        MqReport {
            messages: 4,
            events: 3,
            rejected: 1
        }
    );
    let on_all = drain(&sqs, &all).await;
    let events: Vec<_> = on_all
        .iter()
        .filter(|(_, _, body)| body.get("id").is_some())
        .map(|(group, dedup, body)| {
            (
                group.as_str(),
                dedup.as_str(),
                body["key"].as_str().unwrap(),
                body["type"].as_str().unwrap(),
            )
        })
        .collect();
    // Per key, in the event's order (FIFO keeps a group's order; groups may interleave).
    let b1: Vec<_> = events.iter().filter(|e| e.0 == "b-1").collect();
    assert_eq!(
        b1,
        [
            &("b-1", "m-1", "b-1", "paid"),
            &("b-1", "m-3", "b-1", "paid")
        ]
    );
    assert!(
        events.contains(&("b-2", "m-2", "b-2", "held")),
        "{events:?}"
    );
    assert_eq!(events.len(), 3);
    let m1 = &on_all.iter().find(|m| m.2["id"] == "m-1").unwrap().2;
    assert_eq!(m1["source"], "payments");
    assert_eq!(m1["data"], json!({"type": "paid", "booking": "b-1"}));
    // The message without an id: kept, not an event, with its reason, in the source-wide group.
    let kept: Vec<_> = on_all
        .iter()
        .filter(|(_, _, body)| body.get("rejected").is_some())
        .collect();
    let [(group, dedup, body)] = &kept[..] else {
        panic!("one rejected message on `all`: {on_all:?}")
    };
    assert_eq!(group, &message_group_id(""));
    assert_eq!(dedup.len(), 64);
    assert!(
        body["rejected"]["reason"]
            .as_str()
            .unwrap()
            .contains("no `message_id` property"),
        "{body}"
    );
    assert_eq!(body["rejected"]["source"], "payments");
    assert_eq!(body["rejected"]["queue"], "payments::/");
    assert_eq!(
        body["rejected"]["message"],
        event["rmqMessagesByQueue"]["payments::/"][3]
    );
    assert!(flowctl_subscriber::queue::Event::parse(&body.to_string()).is_err());

    let on_paid = drain(&sqs, &paid).await;
    let ids: Vec<_> = on_paid.iter().map(|m| m.2["id"].clone()).collect();
    assert_eq!(ids, [json!("m-1"), json!("m-3"), Value::Null]);
    assert!(on_paid[2].2.get("rejected").is_some());

    // Handed back (Lambda's retry): the same messages with the same deduplication ids (SQS
    // drops them within its window; moto forgets deleted ones, so they are compared here).
    handle(&config, &event, &sqs).await.unwrap();
    let dedups = |messages: &[(String, String, Value)]| {
        let mut ids: Vec<String> = messages.iter().map(|m| m.1.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(dedups(&drain(&sqs, &all).await), dedups(&on_all));
}

#[tokio::test]
async fn a_queue_that_refuses_fails_the_invocation_and_stops_there() {
    let sqs = sqs().await;
    let exists = queue(&sqs, "mq-exists").await;
    let missing = exists.replace("mq-exists", "mq-missing");
    let config = config(vec![
        route("all", &exists),
        Route {
            types: vec!["held".into()],
            ..route("gone", &missing)
        },
    ]);
    let event = mq_event(vec![
        message(Some("r-1"), json!({"type": "paid", "booking": "b-1"})),
        message(Some("r-2"), json!({"type": "held", "booking": "b-1"})),
        message(Some("r-3"), json!({"type": "paid", "booking": "b-1"})),
    ]);
    let error = handle(&config, &event, &sqs).await.unwrap_err();
    let MqError::Send(send) = &error else {
        panic!("{error}")
    };
    assert_eq!(
        (send.queue_url.as_str(), send.event_id.as_str()),
        (missing.as_str(), "r-2")
    );
    assert!(error.to_string().contains("handed back"), "{error}");
    // r-3 was not sent ahead of r-2: the key's order holds when the batch comes again.
    let ids: Vec<_> = drain(&sqs, &exists)
        .await
        .into_iter()
        .map(|m| m.2["id"].clone())
        .collect();
    assert!(
        ids == [json!("r-1")] || ids == [json!("r-1"), json!("r-2")],
        "{ids:?}"
    );
    assert!(!ids.contains(&json!("r-3")));
    let not_mq = handle(&config, &json!({"eventSource": "aws:rmq"}), &sqs).await;
    assert!(matches!(not_mq, Err(MqError::NotAnMqEvent(_))));
}
