//! The deployed subscriber end to end: the shim's subscriber (`subscriber-fixture`, a unit on
//! flowctl-shim with the `subscriber` feature) run as a local Lambda process through flowctl's
//! Runtime API, handed SQS-shaped batches of messages really sent to and received from moto's
//! SQS, with its state table in moto's DynamoDB: order per key, partial batch failures, dedup
//! of redeliveries (by the `done#` marker and by the state item's condition), retries, KO
//! events on the KO route's queue, park and skip.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use flowctl::local::{LocalOptions, LocalProcesses, UnitConfig};
use flowctl_engine::Invoker;
use flowctl_protocol::subscriber::{
    RetryPolicy, Route, SubscriberConfig, TargetRef, SUBSCRIBER_ENV,
};
use flowctl_tests::moto::Moto;
use flowctl_tests::sdk::{self, REGION};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const FIXTURE: &str = env!("CARGO_BIN_EXE_subscriber-fixture");

struct Aws {
    endpoint: String,
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    sfn: aws_sdk_sfn::Client,
}

async fn aws() -> Aws {
    let sdk = sdk::config().await;
    Aws {
        endpoint: Moto::shared().endpoint.clone(),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sfn: aws_sdk_sfn::Client::new(&sdk),
    }
}

/// A received message: what Lambda's event source mapping puts in a batch.
#[derive(Clone, Debug)]
struct Message {
    id: String,
    receipt: String,
    body: String,
    group: String,
}

impl Message {
    fn record(&self) -> Value {
        json!({
            "messageId": self.id,
            "receiptHandle": self.receipt,
            "body": self.body,
            "attributes": {"MessageGroupId": self.group, "ApproximateReceiveCount": "1"},
            "eventSource": "aws:sqs",
            "awsRegion": REGION,
        })
    }

    fn event_id(&self) -> String {
        serde_json::from_str::<Value>(&self.body).unwrap()["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Aws {
    /// The FIFO queue `<name>.fifo` as deploy creates it, with a long visibility timeout:
    /// only the subscriber's backoff makes a message visible again within the test.
    async fn queue(&self, name: &str) -> String {
        sdk::fifo_queue(&self.sqs, name, Some(600)).await
    }

    async fn table(&self, name: &str) {
        sdk::table(&self.dynamodb, name).await
    }

    /// Sends events `(id, key, data)` as flowctl does (group = key, dedup id = event id), then
    /// receives them all back: real receipt handles for the subscriber's visibility changes.
    async fn send(&self, queue: &str, events: &[(&str, &str, Value)]) -> Vec<Message> {
        for (id, key, data) in events {
            let body = json!({"source": "orders", "type": "order", "id": id, "key": key,
                              "accepted_at": "2026-01-01T00:00:00.000Z", "data": data});
            self.sqs
                .send_message()
                .queue_url(queue)
                .message_body(body.to_string())
                .message_group_id(*key)
                .message_deduplication_id(*id)
                .send()
                .await
                .unwrap();
        }
        let mut received = self.receive(queue, events.len()).await;
        let order: Vec<&str> = events.iter().map(|(id, _, _)| *id).collect();
        received.sort_by_key(|m| order.iter().position(|id| *id == m.event_id()));
        received
    }

    async fn receive(&self, queue: &str, count: usize) -> Vec<Message> {
        let mut messages = Vec::new();
        for _ in 0..20 {
            if messages.len() >= count {
                break;
            }
            for m in sdk::receive(&self.sqs, queue).await {
                messages.push(Message {
                    group: sdk::system_attribute(&m, MessageSystemAttributeName::MessageGroupId),
                    id: m.message_id.unwrap(),
                    receipt: m.receipt_handle.unwrap(),
                    body: m.body.unwrap(),
                });
            }
        }
        assert_eq!(messages.len(), count, "received {messages:?}");
        messages
    }

    async fn item(
        &self,
        table: &str,
        key: &str,
        item: &str,
    ) -> Option<HashMap<String, AttributeValue>> {
        sdk::item(&self.dynamodb, table, key, item).await
    }

    /// The key's state item as JSON-ish text fields: version, state, parked, failing, attempts.
    async fn state(&self, table: &str, key: &str) -> Value {
        let item = self.item(table, key, "state").await.unwrap_or_default();
        let n = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .map(|n| n.parse::<u64>().unwrap())
        };
        json!({
            "version": n("version"),
            "state": item.get("state").and_then(|v| v.as_s().ok()).map(|s| serde_json::from_str::<Value>(s).unwrap()),
            "parked": item.get("parked").and_then(|v| v.as_bool().ok()),
            "failing": item.get("failing").and_then(|v| v.as_s().ok()),
            "attempts": n("attempts"),
            "park_seq": n("park_seq"),
        })
    }

    async fn approximate_messages(&self, queue: &str) -> String {
        self.sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::ApproximateNumberOfMessages]
            .clone()
    }
}

/// The subscriber of `config` as a local Lambda unit named `unit`; its target calls go to
/// the returned record file.
fn subscriber(aws: &Aws, unit: &str, config: &SubscriberConfig) -> (LocalProcesses, PathBuf) {
    let record = std::env::temp_dir().join(format!(
        "flowctl-subscriber-{unit}-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&record);
    let local = LocalProcesses::with_options(LocalOptions {
        forward_output: std::env::var_os("FLOWCTL_TEST_VERBOSE").is_some(),
        region: REGION.into(),
        ..LocalOptions::default()
    })
    .unit(
        UnitConfig::new(unit, FIXTURE)
            .timeout(Duration::from_secs(30))
            .env(SUBSCRIBER_ENV, serde_json::to_string(config).unwrap())
            .env("AWS_ENDPOINT_URL", &aws.endpoint)
            .env("AWS_ACCESS_KEY_ID", sdk::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", sdk::SECRET_ACCESS_KEY)
            .env("RECORD", record.display().to_string()),
    );
    (local, record)
}

/// Hands a batch to the subscriber; answers the failed message ids, in order.
async fn batch(local: &LocalProcesses, unit: &str, messages: &[&Message]) -> Vec<String> {
    let records: Vec<Value> = messages.iter().map(|m| m.record()).collect();
    let answer = local
        .invoke(unit, Arc::new(json!({ "Records": records })))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the subscriber failed: {e:?}\n{}",
                local.output_tail(unit).join("\n")
            )
        });
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures in {answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

/// The target calls so far: event ids of `key`, in call order.
fn calls(record: &PathBuf, key: &str) -> Vec<String> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["key"] == key)
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

fn ids(messages: &[&Message]) -> Vec<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

fn config(
    name: &str,
    queue: &str,
    ko_queue: &str,
    function: &str,
    retry_max: u32,
    park: bool,
) -> SubscriberConfig {
    SubscriberConfig {
        subscription: name.into(),
        queue_url: queue.into(),
        table: name.into(),
        target: TargetRef::InProcess {
            function: function.into(),
        },
        state: function == "Apply",
        retry: RetryPolicy {
            max: retry_max,
            interval: 0.0,
            backoff: 1.0,
        },
        park,
        ko_routes: vec![Route {
            subscription: format!("{name}:ko"),
            queue_url: ko_queue.into(),
            types: vec![],
            key: None,
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_run_in_key_order_fail_partially_retry_ko_and_park() {
    let aws = aws().await;
    let queue = aws.queue("orders").await;
    let ko_queue = aws.queue("orders-ko").await;
    aws.table("orders").await;
    let config = config("orders", &queue, &ko_queue, "Apply", 1, true);
    let (local, record) = subscriber(&aws, "p-sub-orders", &config);

    let fail = json!({"fail": true});
    let m = aws
        .send(
            &queue,
            &[
                ("a1", "a", json!({})),
                ("b1", "b", json!({})),
                ("a2", "a", fail),
                ("c1", "c", json!({})),
                ("b2", "b", json!({})),
                ("a3", "a", json!({})),
            ],
        )
        .await;
    let [a1, b1, a2, c1, b2, a3] = [&m[0], &m[1], &m[2], &m[3], &m[4], &m[5]];

    // One batch, three keys: each key in order, a2's failure holds back a3 only.
    let failed = batch(&local, "p-sub-orders", &[a1, b1, a2, c1, b2, a3]).await;
    assert_eq!(failed, ids(&[a2, a3]));
    assert_eq!(calls(&record, "a"), ["a1", "a2"]);
    assert_eq!(calls(&record, "b"), ["b1", "b2"]);
    assert_eq!(calls(&record, "c"), ["c1"]);
    assert_eq!(
        aws.state("orders", "b").await,
        json!({"version": 2, "state": {"seen": ["b1", "b2"]}, "parked": null, "failing": null,
               "attempts": null, "park_seq": null})
    );
    for id in ["b1", "b2"] {
        let done = aws
            .item("orders", "b", &format!("done#{id}"))
            .await
            .unwrap();
        let expires: u64 = done["expires"].as_n().unwrap().parse().unwrap();
        let week = 7 * 24 * 3600;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            expires > now + week - 60 && expires <= now + week + 60,
            "{expires}"
        );
    }
    // a1 applied, then a2's first failure recorded (each write a version).
    assert_eq!(
        aws.state("orders", "a").await,
        json!({"version": 2, "state": {"seen": ["a1"]}, "parked": null, "failing": "a2",
               "attempts": 1, "park_seq": null})
    );
    assert!(aws.item("orders", "a", "done#a2").await.is_none());
    // The retry's backoff (0 s) made a2 visible again at once.
    assert_eq!(aws.approximate_messages(&queue).await, "1");

    // The redelivery: a1 again (its batch's answer lost), a2 (its retry), a3.
    let failed = batch(&local, "p-sub-orders", &[a1, a2, a3]).await;
    assert!(failed.is_empty(), "{failed:?}");
    // a1 ran nothing; a2 ran once more and is KO (2 attempts > 1 retry); a3 is parked.
    assert_eq!(calls(&record, "a"), ["a1", "a2", "a2"]);
    assert_eq!(
        aws.state("orders", "a").await,
        json!({"version": 4, "state": {"seen": ["a1"]}, "parked": true, "failing": null,
               "attempts": null, "park_seq": 2})
    );
    for (seq, id) in [(1, "a2"), (2, "a3")] {
        let parked = aws
            .item("orders", "a", &format!("parked#{seq:020}"))
            .await
            .unwrap_or_else(|| panic!("parked#{seq} missing"));
        let body: Value = serde_json::from_str(parked["body"].as_s().unwrap()).unwrap();
        assert_eq!(body["id"], id);
    }

    // The KO event on the KO route's queue, in the key's message group.
    let ko = aws.receive(&ko_queue, 1).await;
    assert_eq!(ko[0].group, "a");
    let ko: Value = serde_json::from_str(&ko[0].body).unwrap();
    assert_eq!(ko["source"], "ko:orders");
    assert_eq!(ko["type"], "ko");
    assert_eq!(ko["key"], "a");
    assert!(ko["id"].as_str().unwrap().starts_with("orders/a2@"), "{ko}");
    assert_eq!(ko["data"]["error"], "Injected");
    assert_eq!(ko["data"]["cause"], "event \"a2\" asked to fail");
    assert_eq!(ko["data"]["attempts"], 2);
    assert_eq!(ko["data"]["subscription"], "orders");
    assert_eq!(ko["data"]["event"]["id"], "a2");
    assert!(ko["data"]["event"].get("released").is_none());

    // A released event runs though the key is parked; an applied one is still recognised.
    let mut released: Value = serde_json::from_str(&a3.body).unwrap();
    released["released"] = json!(true);
    let released = Message {
        id: "released-a3".into(),
        body: released.to_string(),
        ..a3.clone()
    };
    assert!(batch(&local, "p-sub-orders", &[&released, &released])
        .await
        .is_empty());
    assert_eq!(calls(&record, "a"), ["a1", "a2", "a2", "a3"]);
    assert_eq!(
        aws.state("orders", "a").await["state"],
        json!({"seen": ["a1", "a3"]})
    );
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_apply_once_and_skip_and_bad_messages_are_kept() {
    let aws = aws().await;
    let queue = aws.queue("ledger").await;
    let ko_queue = aws.queue("ledger-ko").await;
    aws.table("ledger").await;
    let config = config("ledger", &queue, &ko_queue, "Apply", 0, false);
    let (local, record) = subscriber(&aws, "p-sub-ledger", &config);

    // The same message in two batches at once (its visibility ran out during a slow run):
    // the state item's condition lets one write; the other finds done#d1.
    let m = aws
        .send(&queue, &[("d1", "d", json!({"sleep_ms": 3000}))])
        .await;
    let once = [&m[0]];
    let (first, second) = tokio::join!(
        batch(&local, "p-sub-ledger", &once),
        batch(&local, "p-sub-ledger", &once)
    );
    assert!(
        first.is_empty() && second.is_empty(),
        "{first:?} {second:?}"
    );
    // Invocations are at-least-once: both run the target when the second reads the state
    // before the first writes it (the 3 s sleep makes that the usual case), a second process
    // started late under load finds done#d1 and runs nothing, and two transactions that
    // collide (DynamoDB's TransactionConflict) are read again and the loser run once more.
    // Whatever the interleaving, the state moves once.
    let runs = calls(&record, "d");
    assert!(
        !runs.is_empty() && runs.len() <= 3 && runs.iter().all(|r| r == "d1"),
        "{runs:?}"
    );
    assert_eq!(
        aws.state("ledger", "d").await,
        json!({"version": 1, "state": {"seen": ["d1"]}, "parked": null, "failing": null,
               "attempts": null, "park_seq": null})
    );

    // No retries, skip: e1 is KO at once and marked done, e2 goes on in the same batch; a
    // body that is no event is KO'd with InvalidEvent, kept in its KO event.
    let m = aws
        .send(
            &queue,
            &[("e1", "e", json!({"fail": true})), ("e2", "e", json!({}))],
        )
        .await;
    let garbage = Message {
        id: "garbage".into(),
        receipt: m[0].receipt.clone(),
        body: "not json".into(),
        group: "g".into(),
    };
    let failed = batch(&local, "p-sub-ledger", &[&m[0], &garbage, &m[1]]).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(calls(&record, "e"), ["e1", "e2"]);
    assert_eq!(
        aws.state("ledger", "e").await,
        json!({"version": 2, "state": {"seen": ["e2"]}, "parked": null, "failing": null,
               "attempts": null, "park_seq": null})
    );
    assert!(aws.item("ledger", "e", "done#e1").await.is_some());
    // Redelivered, the skipped event is not run again.
    assert!(batch(&local, "p-sub-ledger", &[&m[0]]).await.is_empty());
    assert_eq!(calls(&record, "e"), ["e1", "e2"]);

    let mut kos: Vec<Value> = aws
        .receive(&ko_queue, 2)
        .await
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect();
    kos.sort_by_key(|ko| ko["data"]["error"].as_str().unwrap().to_string());
    assert_eq!(kos[0]["data"]["error"], "Injected");
    assert_eq!(kos[0]["data"]["attempts"], 1);
    assert_eq!(kos[1]["data"]["error"], "InvalidEvent");
    assert_eq!(kos[1]["data"]["event"], "not json");
    assert_eq!(kos[1]["key"], "g");

    // A record without its group is handed back; a payload that is no batch fails whole.
    let mut lost = m[1].record();
    lost["attributes"] = json!({});
    let answer = local
        .invoke("p-sub-ledger", Arc::new(json!({ "Records": [lost] })))
        .await
        .unwrap();
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": m[1].id}])
    );
    let error = local
        .invoke("p-sub-ledger", Arc::new(json!({"hello": 1})))
        .await
        .unwrap_err();
    assert_eq!(error.error, "InvalidBatch", "{error:?}");
    local.shutdown().await;
}

/// A standard flow as the target: one execution per event and attempt, named after the
/// event, waited for; its failure's error and cause are the KO event's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_flows_run_as_executions_named_after_the_event() {
    let aws = aws().await;
    let queue = aws.queue("flows").await;
    let ko_queue = aws.queue("flows-ko").await;
    aws.table("flows").await;
    let machine = |name: &str, state: Value| {
        let definition = json!({"StartAt": "Only", "States": {"Only": state}});
        let sfn = aws.sfn.clone();
        let name = name.to_string();
        async move {
            sfn.create_state_machine()
                .name(name)
                .definition(definition.to_string())
                .role_arn("arn:aws:iam::123456789012:role/flows-sfn")
                .send()
                .await
                .unwrap()
                .state_machine_arn
        }
    };
    let done = machine("flows-Done", json!({"Type": "Pass", "End": true})).await;
    let boom = machine(
        "flows-Boom",
        json!({"Type": "Fail", "Error": "Boom", "Cause": "asked to fail"}),
    )
    .await;
    let m = aws
        .send(&queue, &[("f1", "f", json!({})), ("f2", "f", json!({}))])
        .await;
    for (arn, message) in [(&done, &m[0]), (&boom, &m[1])] {
        let mut config = config("flows", &queue, &ko_queue, "Notify", 0, false);
        config.target = TargetRef::Standard { arn: arn.clone() };
        let unit = format!("p-sub-{}", message.event_id());
        let (local, _record) = subscriber(&aws, &unit, &config);
        let failed = batch(&local, &unit, &[message]).await;
        assert!(failed.is_empty(), "{failed:?}");
        local.shutdown().await;
    }
    let status = |machine: &str, name: &str| {
        let arn = format!(
            "{}:{name}",
            machine.replace(":stateMachine:", ":execution:")
        );
        let sfn = aws.sfn.clone();
        async move {
            sfn.describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .unwrap()
                .status
                .as_str()
                .to_string()
        }
    };
    assert_eq!(status(&done, "f1-1").await, "SUCCEEDED");
    assert_eq!(status(&boom, "f2-1").await, "FAILED");
    // f1 applied, f2 skipped after its KO.
    assert_eq!(aws.state("flows", "f").await["version"], 2);
    assert!(aws.item("flows", "f", "done#f2").await.is_some());
    let ko = aws.receive(&ko_queue, 1).await;
    let ko: Value = serde_json::from_str(&ko[0].body).unwrap();
    assert_eq!(ko["data"]["error"], "Boom");
    assert_eq!(ko["data"]["cause"], "asked to fail");
    assert_eq!(ko["data"]["event"]["id"], "f2");
}

/// The subscriber's cost per batch, measured locally: the shim's subscriber as a local Lambda
/// process (flowctl's Runtime API) against moto, handed batches of 10 messages already
/// received, with a target that does nothing but record the call. What is timed is the
/// invocation: reading each key's state, the invocation in-process, the versioned write with
/// its `done#` marker, and the answer. `cargo test -p flowctl-tests --test subscriber_aws --
/// --ignored --nocapture bench`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand, figures in BENCHMARKS.md"]
async fn bench_subscriber_batch() {
    use std::time::Instant;
    let aws = aws().await;
    // The subscriber talks to moto through the recording proxy: its requests are counted.
    let proxy = flowctl_tests::proxy::Proxy::start(&aws.endpoint);
    let through_proxy = Aws {
        endpoint: proxy.endpoint.clone(),
        sqs: aws.sqs.clone(),
        dynamodb: aws.dynamodb.clone(),
        sfn: aws.sfn.clone(),
    };
    for (name, function, keys) in [
        ("bench-state-10keys", "Apply", 10),
        ("bench-state-1key", "Apply", 1),
        ("bench-plain-10keys", "Notify", 10),
    ] {
        let queue = aws.queue(name).await;
        let ko_queue = aws.queue(&format!("{name}-ko")).await;
        aws.table(name).await;
        let config = config(name, &queue, &ko_queue, function, 0, false);
        let (local, _record) = subscriber(&through_proxy, name, &config);
        let mut times = Vec::new();
        let mut requests = 0;
        for round in 0..12 {
            let events: Vec<(String, String)> = (0..10)
                .map(|i| (format!("{name}-{round}-{i}"), format!("k{}", i % keys)))
                .collect();
            let events: Vec<(&str, &str, Value)> = events
                .iter()
                .map(|(id, key)| (id.as_str(), key.as_str(), json!({})))
                .collect();
            let messages = aws.send(&queue, &events).await;
            let batch_of: Vec<&Message> = messages.iter().collect();
            proxy.take();
            let started = Instant::now();
            let failed = batch(&local, name, &batch_of).await;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            requests = proxy.take().len();
            assert!(failed.is_empty(), "{failed:?}");
            // What Lambda's event source mapping does with a batch that succeeded, so the next
            // round's messages of the same groups can be received.
            for m in &messages {
                aws.sqs
                    .delete_message()
                    .queue_url(&queue)
                    .receipt_handle(&m.receipt)
                    .send()
                    .await
                    .unwrap();
            }
            // The first round starts the process: not a batch's cost.
            if round > 1 {
                times.push(elapsed);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name} ({function}, 10 messages over {keys} key(s)): median {:.1} ms per batch ({:.2} ms per message), min {:.1}, max {:.1}, {} batches; {requests} AWS requests per batch",
            times[times.len() / 2],
            times[times.len() / 2] / 10.0,
            times[0],
            times[times.len() - 1],
            times.len()
        );
    }
}
