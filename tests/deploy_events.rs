//! The events wiring deployed by `flowctl_aws`'s own API (desired → observe → compare →
//! apply) against a moto server this test binary starts, from a small manifest and build
//! record written here (the zips are tiny: moto does not run them). What was created is read
//! back with boto3 (`moto_driver.py events`), not with flowctl's observer: queue attributes
//! (FIFO, deduplication, visibility, redrive to the DLQ), table key schema and TTL, mappings
//! with ReportBatchItemFailures, the webhook's URL and public permission, the schedule's
//! target and role, and each role's inline policy resources exactly. A second compare is a
//! no-op; a prune after removing a subscription deletes its resources; destroy leaves
//! nothing tagged. `status` and `release` run against a deployed subscription's queue and
//! table.
//!
//! Polled sources (a poll function and a PostgreSQL outbox) are deployed the same way: the
//! pollers read back with their configuration, reserved concurrency and event invoke
//! config, the cursor table, the schedules invoking them and the roles' policies; a no-op
//! second compare with the owner's connection string set on a poller; prune and destroy.
//!
//! moto's gaps, worked around here and nowhere else: moto runs a queue's mapped function as
//! soon as a message is sent (and deletes the batch), so the release test disables the
//! mapping first, as a subscriber that is not running. moto refuses an event source mapping
//! from an Amazon MQ broker (CreateEventSourceMapping answers "Invalid EventSourceArn" for
//! anything but an SQS queue, a DynamoDB stream or a Kinesis stream, even for a broker its
//! own MQ API created), so `amqp` sources are covered by flowctl-aws's unit tests only.

use flowctl_aws::model::{self, Account, Desired};
use flowctl_aws::record::{BuildRecord, FlowRecord, UnitRecord};
use flowctl_aws::{apply, config::Target, diff, events, observe, Clients};
use flowctl_tests::moto::Moto;
use serde_json::{json, Value};
use std::path::Path;

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

fn sqs_arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

/// A build of `project` in `dir`: units A (serving A and RecordKo) and B, flow Main
/// (standard, calling B), each unit's zip a tiny archive; and the manifest, with
/// `subscriptions` as given.
fn project(
    dir: &Path,
    project: &str,
    subscriptions: &str,
) -> (BuildRecord, flowctl_lang::manifest::Manifest) {
    project_with(dir, project, "", subscriptions)
}

/// [`project`] with `sources` added to the manifest's.
fn project_with(
    dir: &Path,
    project: &str,
    sources: &str,
    subscriptions: &str,
) -> (BuildRecord, flowctl_lang::manifest::Manifest) {
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    let doc = json!({"StartAt": "b", "States": {"b": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${unit:B}", "Payload.$": "$"}, "End": true}}});
    std::fs::write(dir.join("flows/Main.asl.json"), doc.to_string()).unwrap();
    let unit = |name: &str, functions: &[&str]| {
        std::fs::create_dir_all(dir.join("units").join(name)).unwrap();
        let zip = flowctl::build::zip::write(&[flowctl::build::zip::Entry {
            name: "bootstrap",
            data: format!("#!/bin/sh\n# {name}\n").as_bytes(),
            mode: 0o755,
        }])
        .unwrap();
        std::fs::write(dir.join(format!("units/{name}/{name}.zip")), &zip).unwrap();
        UnitRecord {
            name: name.into(),
            functions: functions.iter().map(|f| f.to_string()).collect(),
            package: Some("fns".into()),
            runtime: flowctl_aws::record::PROVIDED_RUNTIME.into(),
            handler: "bootstrap".into(),
            source: None,
            bootstrap: Some(format!("units/{name}/bootstrap")),
            zip: format!("units/{name}/{name}.zip"),
            code_sha256: flowctl::build::zip::code_sha256(&zip),
            size: zip.len() as u64,
            glibc_max: None,
            env: [("FLOWCTL_FUNCTIONS".to_string(), functions.join(","))]
                .into_iter()
                .collect(),
            memory: 128,
            timeout: 3,
        }
    };
    let record = BuildRecord {
        project: project.into(),
        architecture: "x86_64".into(),
        flowctl: "0".into(),
        units: vec![unit("A", &["A", "RecordKo"]), unit("B", &["B"])],
        flows: vec![FlowRecord {
            name: "Main".into(),
            kind: "standard".into(),
            asl: "flows/Main.asl.json".into(),
            sha256: "x".into(),
        }],
    };
    let yaml = format!(
        r#"project: {project}
functions:
  A: {{ package: fns }}
  B: {{ package: fns }}
  RecordKo: {{ package: fns }}
flows:
  Main: {{ source: flows/main.flow }}
sources:
  hooks:
    webhook: {{ secret_env: HOOK_SECRET }}
    key: $.order
  nightly:
    schedule: {{ expression: "cron(0 3 * * ? *)" }}
{sources}subscriptions:
{subscriptions}"#
    );
    let (manifest, diags) = flowctl_lang::manifest::parse(&yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    (record, manifest.unwrap())
}

const BOOK: &str = "  book:
    source: hooks
    flow: Main
    retry: { max: 2 }
    ko: { function: RecordKo, then: park }
";
const COUNT: &str = "  count:
    source: [hooks, nightly]
    function: A
    state: true
";

struct Aws {
    runtime: tokio::runtime::Runtime,
    clients: Clients,
    account: Account,
    moto: &'static Moto,
}

fn aws() -> Aws {
    let moto = Moto::shared();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = Target {
        endpoint: Some(moto.endpoint.clone()),
        region: Some(REGION.into()),
        profile: None,
        localstack: true,
    };
    let (clients, account) = runtime.block_on(async {
        let config = target.load().await.unwrap();
        let clients = Clients::new(&config);
        let account = clients.account(&config).await.unwrap();
        (clients, account)
    });
    assert_eq!(account.id, ACCOUNT);
    Aws {
        runtime,
        clients,
        account,
        moto,
    }
}

impl Aws {
    fn desired(&self, dir: &Path, name: &str, subscriptions: &str) -> Desired {
        let (record, manifest) = project(dir, name, subscriptions);
        model::desired(&record, dir, &manifest, &self.account).unwrap()
    }

    fn desired_with(&self, dir: &Path, name: &str, sources: &str, subscriptions: &str) -> Desired {
        let (record, manifest) = project_with(dir, name, sources, subscriptions);
        model::desired(&record, dir, &manifest, &self.account).unwrap()
    }

    fn compare(&self, desired: &Desired, prune: bool) -> diff::Changes {
        let observed = self
            .runtime
            .block_on(observe::observe(&self.clients, &desired.project))
            .unwrap();
        diff::compare(desired, &observed, prune)
    }

    fn apply(&self, desired: &Desired, changes: &diff::Changes) {
        let outcome =
            self.runtime
                .block_on(apply::apply(&self.clients, desired, changes, 8, &|_| {}));
        assert!(
            outcome.ok(),
            "apply failed: {:#?}",
            outcome
                .failed
                .iter()
                .map(|(s, e)| format!("{} {}: {e}", s.kind.as_str(), s.name))
                .collect::<Vec<_>>()
        );
    }

    fn deploy(&self, desired: &Desired, prune: bool) {
        let changes = self.compare(desired, prune);
        self.apply(desired, &changes);
    }

    fn read_back(&self, project: &str) -> Value {
        self.moto
            .driver("events", &json!({ "region": REGION, "project": project }))
    }

    fn calls(&self, service: &str, calls: Value) -> Value {
        self.moto
            .driver(service, &json!({ "region": REGION, "calls": calls }))
    }
}

fn statement_resources(role: &Value) -> Vec<(String, Value)> {
    role["policies"]["flowctl"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["Action"].to_string(), s["Resource"].clone()))
        .collect()
}

#[test]
fn the_events_wiring_is_deployed_read_back_pruned_and_destroyed() {
    let aws = aws();
    let dir = tempfile::tempdir().unwrap();
    let name = "evt-wiring";
    let desired = aws.desired(dir.path(), name, &format!("{BOOK}{COUNT}"));
    let first = aws.compare(&desired, false);
    aws.apply(&desired, &first);
    // A run stopped after it created everything is run again with the diff it had: every
    // create meets what is there and brings it up to date.
    aws.apply(&desired, &first);
    let seen = aws.read_back(name);

    // Queues: FIFO with content-based deduplication, each redriving to its own FIFO DLQ.
    let queues = seen["queues"].as_object().unwrap();
    let mut queue_names: Vec<&str> = queues.keys().map(String::as_str).collect();
    queue_names.sort();
    assert_eq!(
        queue_names,
        [
            "evt-wiring-book-dlq.fifo",
            "evt-wiring-book-ko-dlq.fifo",
            "evt-wiring-book-ko.fifo",
            "evt-wiring-book.fifo",
            "evt-wiring-count-dlq.fifo",
            "evt-wiring-count.fifo"
        ]
    );
    let book = &queues["evt-wiring-book.fifo"]["attributes"];
    assert_eq!(book["FifoQueue"], "true");
    assert_eq!(book["ContentBasedDeduplication"], "true");
    assert_eq!(book["VisibilityTimeout"], "5400");
    assert_eq!(book["MessageRetentionPeriod"], "1209600");
    let redrive: Value = serde_json::from_str(book["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        sqs_arn("evt-wiring-book-dlq.fifo")
    );
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "1000"
    );
    assert_eq!(
        queues["evt-wiring-count.fifo"]["attributes"]["VisibilityTimeout"],
        "180"
    );
    let dlq = &queues["evt-wiring-book-dlq.fifo"]["attributes"];
    assert_eq!(dlq["FifoQueue"], "true");
    assert!(dlq.get("RedrivePolicy").is_none_or(Value::is_null), "{dlq}");
    assert_eq!(
        queues["evt-wiring-book-ko.fifo"]["tags"]["flowctl:subscription"],
        "book:ko"
    );

    // Tables: hash `key` S, range `item` S, on demand, TTL on `expires`.
    let tables = seen["tables"].as_object().unwrap();
    assert_eq!(tables.len(), 3, "{tables:#?}");
    let table = &tables["evt-wiring-count"];
    assert_eq!(
        table["key_schema"],
        json!([{"AttributeName": "key", "KeyType": "HASH"}, {"AttributeName": "item", "KeyType": "RANGE"}])
    );
    let mut types: Vec<String> = table["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["AttributeName"].as_str().unwrap(),
                a["AttributeType"].as_str().unwrap()
            )
        })
        .collect();
    types.sort();
    assert_eq!(types, ["item:S", "key:S"]);
    assert_eq!(table["billing"], "PAY_PER_REQUEST");
    assert_eq!(table["ttl"]["TimeToLiveStatus"], "ENABLED");
    assert_eq!(table["ttl"]["AttributeName"], "expires");

    // Subscribers: their unit's package, their configuration, one mapping each.
    let functions = &seen["functions"];
    let sub = &functions["evt-wiring-sub-book"];
    assert_eq!(sub["timeout"], 900);
    assert_eq!(
        sub["role"],
        format!("arn:aws:iam::{ACCOUNT}:role/evt-wiring-sub-book")
    );
    assert_eq!(sub["code_sha256"], functions["evt-wiring-B"]["code_sha256"]);
    let config: Value =
        serde_json::from_str(sub["env"]["FLOWCTL_SUBSCRIBER"].as_str().unwrap()).unwrap();
    assert_eq!(config["target"]["kind"], "standard");
    assert_eq!(config["ko_routes"][0]["subscription"], "book:ko");
    for (function, queue) in [
        ("evt-wiring-sub-book", "evt-wiring-book.fifo"),
        ("evt-wiring-sub-book-ko", "evt-wiring-book-ko.fifo"),
        ("evt-wiring-sub-count", "evt-wiring-count.fifo"),
    ] {
        let mappings = functions[function]["mappings"].as_array().unwrap();
        assert_eq!(mappings.len(), 1, "{function}: {mappings:#?}");
        assert_eq!(mappings[0]["EventSourceArn"], sqs_arn(queue));
        assert_eq!(mappings[0]["BatchSize"], 10);
        assert_eq!(
            mappings[0]["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
    }

    // The webhook's ingest: a public URL, its two permissions.
    let ingest = &functions["evt-wiring-in-hooks"];
    assert_eq!(ingest["url"]["auth"], "NONE");
    let config: Value =
        serde_json::from_str(ingest["env"]["FLOWCTL_INGEST"].as_str().unwrap()).unwrap();
    assert_eq!(config["secret_env"], "HOOK_SECRET");
    let statements = ingest["policy"]["Statement"].as_array().unwrap();
    let sids: Vec<&str> = statements
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert!(
        sids.contains(&"flowctl-url") && sids.contains(&"flowctl-url-invoke"),
        "{statements:#?}"
    );
    let url = statements
        .iter()
        .find(|s| s["Sid"] == "flowctl-url")
        .unwrap();
    assert_eq!(url["Action"], "lambda:InvokeFunctionUrl");

    // The schedule: in the project's tagged group, to count's queue, with the scheduler role.
    let group = &seen["schedule_groups"]["evt-wiring-schedules"];
    assert_eq!(group["tags"]["flowctl:project"], name);
    let schedule = &group["schedules"]["evt-wiring-nightly-count"];
    assert_eq!(schedule["ScheduleExpression"], "cron(0 3 * * ? *)");
    assert_eq!(schedule["Target"]["Arn"], sqs_arn("evt-wiring-count.fifo"));
    assert_eq!(
        schedule["Target"]["RoleArn"],
        format!("arn:aws:iam::{ACCOUNT}:role/evt-wiring-scheduler")
    );
    // The source-wide key's group: "" hashed (FNV-1a's offset basis), as the subscriber reads it.
    assert_eq!(
        schedule["Target"]["SqsParameters"]["MessageGroupId"],
        "~cbf29ce484222325"
    );
    let input: Value = serde_json::from_str(schedule["Target"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(input["id"], "<aws.scheduler.execution-id>");

    // Roles: exactly the resources each needs.
    let roles = &seen["roles"];
    let table_arn = |t: &str| format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}");
    assert_eq!(
        statement_resources(&roles["evt-wiring-sub-book"]),
        [
            (
                json!([
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents"
                ])
                .to_string(),
                json!("*")
            ),
            (
                json!([
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage"
                ])
                .to_string(),
                json!([sqs_arn("evt-wiring-book.fifo")])
            ),
            (
                json!("sqs:SendMessage").to_string(),
                json!([
                    sqs_arn("evt-wiring-book-ko.fifo"),
                    sqs_arn("evt-wiring-book.fifo")
                ])
            ),
            (
                json!([
                    "dynamodb:ConditionCheckItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:Query",
                    "dynamodb:UpdateItem"
                ])
                .to_string(),
                json!([table_arn("evt-wiring-book")])
            ),
            (
                json!("states:StartExecution").to_string(),
                json!([format!(
                    "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:evt-wiring-Main"
                )])
            ),
            (
                json!("states:DescribeExecution").to_string(),
                json!([format!(
                    "arn:aws:states:{REGION}:{ACCOUNT}:execution:evt-wiring-Main:*"
                )])
            ),
        ]
    );
    let count = statement_resources(&roles["evt-wiring-sub-count"]);
    assert_eq!(count.len(), 4);
    assert_eq!(count[2].1, json!([sqs_arn("evt-wiring-count.fifo")]));
    assert_eq!(count[3].1, json!([table_arn("evt-wiring-count")]));
    assert_eq!(
        statement_resources(&roles["evt-wiring-in-hooks"])[1],
        (
            json!("sqs:SendMessage").to_string(),
            json!([
                sqs_arn("evt-wiring-book.fifo"),
                sqs_arn("evt-wiring-count.fifo")
            ])
        )
    );
    assert_eq!(
        statement_resources(&roles["evt-wiring-scheduler"]),
        [(
            json!("sqs:SendMessage").to_string(),
            json!([sqs_arn("evt-wiring-count.fifo")])
        )]
    );
    assert_eq!(
        roles["evt-wiring-scheduler"]["trust"]["Statement"][0]["Principal"]["Service"],
        "scheduler.amazonaws.com"
    );

    // A second compare finds nothing to do.
    let again = aws.compare(&desired, true);
    assert!(
        again.is_noop(),
        "{:#?}",
        again.mutations().collect::<Vec<_>>()
    );

    // Without `count`, a pruning deploy deletes its queue, DLQ, table, subscriber, mapping
    // and role, and the schedule only it took, with the group and the scheduler's role.
    let fewer = aws.desired(dir.path(), name, BOOK);
    aws.deploy(&fewer, true);
    let seen = aws.read_back(name);
    let queues: Vec<&String> = seen["queues"].as_object().unwrap().keys().collect();
    assert!(queues.iter().all(|q| !q.contains("count")), "{queues:?}");
    assert_eq!(queues.len(), 4);
    assert!(seen["tables"].get("evt-wiring-count").is_none());
    assert!(seen["functions"].get("evt-wiring-sub-count").is_none());
    assert!(seen["roles"].get("evt-wiring-sub-count").is_none());
    assert!(seen["roles"].get("evt-wiring-scheduler").is_none());
    assert_eq!(seen["schedule_groups"], json!({}));
    assert_eq!(
        statement_resources(&seen["roles"]["evt-wiring-in-hooks"])[1].1,
        json!([sqs_arn("evt-wiring-book.fifo")])
    );
    assert!(aws.compare(&fewer, true).is_noop());

    // Destroy leaves nothing tagged for the project.
    let observed = aws
        .runtime
        .block_on(observe::observe(&aws.clients, name))
        .unwrap();
    let changes = diff::destroy(&observed);
    aws.apply(&Desired::empty(name, &aws.account), &changes);
    let seen = aws.read_back(name);
    assert_eq!(
        seen,
        json!({"queues": {}, "tables": {}, "functions": {}, "schedule_groups": {}, "roles": {}})
    );
}

#[test]
fn status_counts_and_release_resends_parked_events_in_order() {
    let aws = aws();
    let dir = tempfile::tempdir().unwrap();
    let name = "evt-release";
    let desired = aws.desired(dir.path(), name, BOOK);
    aws.deploy(&desired, false);
    let seen = aws.read_back(name);
    let uuid = seen["functions"]["evt-release-sub-book"]["mappings"][0]["UUID"].clone();
    // moto runs a mapped function on every send; a subscriber that is not running is a
    // disabled mapping.
    aws.calls(
        "lambda",
        json!([["update_event_source_mapping", {"UUID": uuid, "Enabled": false}]]),
    );

    // Key k-1 parked after e-1's KO, e-2 arrived while it was.
    let s = |v: &str| json!({ "S": v });
    let event = |id: &str| {
        json!({"source": "hooks", "type": "hooks", "id": id, "key": "k-1", "accepted_at": "2026-12-06T00:00:00Z", "data": {}}).to_string()
    };
    let table = "evt-release-book";
    aws.calls(
        "dynamodb",
        json!([
            ["put_item", {"TableName": table, "Item": {"key": s("k-1"), "item": s("state"), "version": {"N": "3"}, "parked": {"BOOL": true}, "park_seq": {"N": "2"}}}],
            ["put_item", {"TableName": table, "Item": {"key": s("k-1"), "item": s("parked#00000000000000000001"), "body": s(&event("e-1"))}}],
            ["put_item", {"TableName": table, "Item": {"key": s("k-1"), "item": s("parked#00000000000000000002"), "body": s(&event("e-2"))}}],
            ["put_item", {"TableName": table, "Item": {"key": s("k-2"), "item": s("state"), "version": {"N": "1"}, "parked": {"BOOL": false}}}],
        ]),
    );
    let subscriptions = vec!["book".to_string(), "book:ko".to_string()];
    let status = aws
        .runtime
        .block_on(events::status(
            &aws.clients,
            &aws.account,
            name,
            &subscriptions,
        ))
        .unwrap();
    assert_eq!(status.len(), 2);
    assert_eq!(status[0].queue, "evt-release-book.fifo");
    assert!(status[0].deployed);
    assert_eq!(
        (status[0].depth, status[0].in_flight, status[0].dlq_depth),
        (0, 0, 0)
    );
    assert_eq!(status[0].parked_keys, ["k-1"]);
    assert!(status[1].parked_keys.is_empty());

    let outcome = aws
        .runtime
        .block_on(events::release(
            &aws.clients,
            &aws.account,
            name,
            "book",
            "k-1",
            true,
        ))
        .unwrap();
    assert_eq!(
        outcome,
        events::ReleaseOutcome::Released {
            resent: vec!["e-2".into()],
            skipped: Some("e-1".into())
        }
    );
    let status = aws
        .runtime
        .block_on(events::status(
            &aws.clients,
            &aws.account,
            name,
            &subscriptions[..1],
        ))
        .unwrap();
    assert_eq!(status[0].depth, 1);
    assert!(status[0].parked_keys.is_empty());

    let url = &seen["queues"]["evt-release-book.fifo"]["url"];
    let received = aws.calls(
        "sqs",
        json!([["receive_message", {"QueueUrl": url, "MaxNumberOfMessages": 10,
                "MessageSystemAttributeNames": ["All"]}]]),
    );
    let messages = received[0]["Messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let body: Value = serde_json::from_str(messages[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (body["id"].as_str(), body["released"].as_bool()),
        (Some("e-2"), Some(true))
    );
    assert_eq!(messages[0]["Attributes"]["MessageGroupId"], "k-1");
    assert_eq!(
        messages[0]["Attributes"]["MessageDeduplicationId"],
        "e-2#r2"
    );

    let items = aws.calls(
        "dynamodb",
        json!([["query", {"TableName": table, "KeyConditionExpression": "#k = :k",
                "ExpressionAttributeNames": {"#k": "key"}, "ExpressionAttributeValues": {":k": s("k-1")},
                "ConsistentRead": true}]]),
    );
    let items = items[0]["Items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the parked items are gone: {items:#?}");
    assert_eq!(items[0]["parked"], json!({"BOOL": false}));
    assert_eq!(items[0]["version"], json!({"N": "4"}));

    // Not parked any more: nothing to release.
    let again = aws
        .runtime
        .block_on(events::release(
            &aws.clients,
            &aws.account,
            name,
            "book",
            "k-1",
            false,
        ))
        .unwrap();
    assert_eq!(again, events::ReleaseOutcome::NotParked);

    let observed = aws
        .runtime
        .block_on(observe::observe(&aws.clients, name))
        .unwrap();
    aws.apply(
        &Desired::empty(name, &aws.account),
        &diff::destroy(&observed),
    );
}

/// A poll source (its function in unit B) and a PostgreSQL outbox, both taken by `count`.
const POLLED: &str = "  feed:
    poll: { function: B, every: 10 }
    id: $.id
  outbox:
    postgres: { url_env: DB_URL, table: outbox }
";
const POLLED_BY_COUNT: &str = "  count:
    source: [feed, outbox]
    function: A
";
const FEED_ONLY: &str = "  count:
    source: feed
    function: A
";

#[test]
fn polled_sources_are_deployed_as_scheduled_pollers_read_back_pruned_and_destroyed() {
    let aws = aws();
    let dir = tempfile::tempdir().unwrap();
    let name = "evt-poll";
    let desired = aws.desired_with(dir.path(), name, POLLED, POLLED_BY_COUNT);
    let first = aws.compare(&desired, false);
    aws.apply(&desired, &first);
    // As a stopped run run again: every create meets what is there.
    aws.apply(&desired, &first);
    let seen = aws.read_back(name);
    let lambda = |f: &str| format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{f}");
    let role = |r: &str| format!("arn:aws:iam::{ACCOUNT}:role/{r}");
    let cursors = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/evt-poll-cursors");

    // The pollers: their unit's package, 60 s, one at a time, async invokes not kept.
    let functions = &seen["functions"];
    for (poller, unit) in [("evt-poll-poll-feed", "B"), ("evt-poll-poll-outbox", "A")] {
        let f = &functions[poller];
        assert_eq!(
            f["code_sha256"],
            functions[format!("evt-poll-{unit}")]["code_sha256"],
            "{poller}"
        );
        assert_eq!(f["timeout"], 60, "{poller}");
        assert_eq!(f["concurrency"], 1, "{poller}");
        assert_eq!(
            f["event_invoke_config"],
            json!({"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}),
            "{poller}"
        );
        assert_eq!(f["role"], role(poller));
        assert_eq!(f["tags"]["flowctl:unit"], unit);
        assert_eq!(f["mappings"], json!([]));
    }
    let config = |poller: &str| -> Value {
        serde_json::from_str(functions[poller]["env"]["FLOWCTL_POLLER"].as_str().unwrap()).unwrap()
    };
    let feed = config("evt-poll-poll-feed");
    assert_eq!(
        feed["kind"],
        json!({"poll": {"target": {"kind": "in_process", "function": "B"}}})
    );
    assert_eq!(
        (
            feed["every_seconds"].as_u64(),
            feed["cursor_table"].as_str()
        ),
        (Some(10), Some("evt-poll-cursors"))
    );
    assert_eq!(feed["routes"][0]["subscription"], "count");
    let outbox = config("evt-poll-poll-outbox");
    assert_eq!(
        outbox["kind"],
        json!({"postgres": {"url_env": "DB_URL", "table": "outbox", "cursor_column": "id"}})
    );
    assert_eq!(outbox["every_seconds"], 5);
    assert_eq!(
        functions["evt-poll-poll-outbox"]["env"]["FLOWCTL_FUNCTIONS"],
        "A,RecordKo"
    );
    // The subscriber is not a poller: nothing reserved.
    assert!(functions["evt-poll-sub-count"]["concurrency"].is_null());

    // The cursor table: the state tables' key schema, on demand, no TTL.
    let table = &seen["tables"]["evt-poll-cursors"];
    assert_eq!(
        table["key_schema"],
        json!([{"AttributeName": "key", "KeyType": "HASH"}, {"AttributeName": "item", "KeyType": "RANGE"}])
    );
    assert_eq!(table["billing"], "PAY_PER_REQUEST");
    assert_eq!(table["ttl"]["TimeToLiveStatus"], "DISABLED");
    assert_eq!(table["tags"], json!({"flowctl:project": name}));

    // A schedule per poller, once a minute, to the function with the scheduler's role.
    let schedules = &seen["schedule_groups"]["evt-poll-schedules"]["schedules"];
    let mut schedule_names: Vec<&str> = schedules
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    schedule_names.sort();
    assert_eq!(
        schedule_names,
        ["evt-poll-poll-feed", "evt-poll-poll-outbox"]
    );
    for poller in ["evt-poll-poll-feed", "evt-poll-poll-outbox"] {
        let s = &schedules[poller];
        assert_eq!(s["ScheduleExpression"], "rate(1 minute)");
        assert_eq!(s["Target"]["Arn"], lambda(poller));
        assert_eq!(s["Target"]["RoleArn"], role("evt-poll-scheduler"));
        assert!(
            s["Target"].get("SqsParameters").is_none_or(Value::is_null),
            "{s}"
        );
    }

    // Roles: exactly what each calls.
    let roles = &seen["roles"];
    let logs = (
        json!([
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents"
        ])
        .to_string(),
        json!("*"),
    );
    for poller in ["evt-poll-poll-feed", "evt-poll-poll-outbox"] {
        assert_eq!(
            statement_resources(&roles[poller]),
            [
                logs.clone(),
                (
                    json!("sqs:SendMessage").to_string(),
                    json!([sqs_arn("evt-poll-count.fifo")])
                ),
                (
                    json!(["dynamodb:GetItem", "dynamodb:PutItem"]).to_string(),
                    json!([cursors])
                ),
            ],
            "{poller}"
        );
    }
    assert_eq!(
        statement_resources(&roles["evt-poll-scheduler"]),
        [(
            json!("lambda:InvokeFunction").to_string(),
            json!([lambda("evt-poll-poll-feed"), lambda("evt-poll-poll-outbox")])
        )]
    );

    // The owner sets the outbox's connection string on its poller: a redeploy keeps it.
    let outbox_env = functions["evt-poll-poll-outbox"]["env"].clone();
    let mut with_url = outbox_env.as_object().unwrap().clone();
    with_url.insert("DB_URL".into(), json!("postgres://db.internal/app"));
    aws.calls(
        "lambda",
        json!([["update_function_configuration", {"FunctionName": "evt-poll-poll-outbox",
                "Environment": {"Variables": with_url}}]]),
    );
    let again = aws.compare(&desired, true);
    assert!(
        again.is_noop(),
        "{:#?}",
        again.mutations().collect::<Vec<_>>()
    );

    // Without `outbox`'s subscription, a pruning deploy removes its poller, role and
    // schedule; `feed` keeps the cursor table.
    let fewer = aws.desired_with(dir.path(), name, POLLED, FEED_ONLY);
    aws.deploy(&fewer, true);
    let seen = aws.read_back(name);
    assert!(seen["functions"].get("evt-poll-poll-outbox").is_none());
    assert!(seen["roles"].get("evt-poll-poll-outbox").is_none());
    let schedules = &seen["schedule_groups"]["evt-poll-schedules"]["schedules"];
    assert!(
        schedules.get("evt-poll-poll-outbox").is_none(),
        "{schedules}"
    );
    assert!(seen["tables"].get("evt-poll-cursors").is_some());
    assert_eq!(
        statement_resources(&seen["roles"]["evt-poll-scheduler"])[0].1,
        json!([lambda("evt-poll-poll-feed")])
    );
    assert!(aws.compare(&fewer, true).is_noop());

    // Without subscriptions, a pruning deploy leaves no event resource: no poller, no
    // cursor table, no schedule.
    let bare = aws.desired_with(dir.path(), name, "", "  {}\n");
    aws.deploy(&bare, true);
    let seen = aws.read_back(name);
    assert_eq!(seen["tables"], json!({}));
    assert_eq!(seen["queues"], json!({}));
    assert_eq!(seen["schedule_groups"], json!({}));
    let mut left: Vec<&String> = seen["functions"].as_object().unwrap().keys().collect();
    left.sort();
    assert_eq!(left, ["evt-poll-A", "evt-poll-B"]);

    // Destroy leaves nothing tagged for the project.
    let observed = aws
        .runtime
        .block_on(observe::observe(&aws.clients, name))
        .unwrap();
    aws.apply(
        &Desired::empty(name, &aws.account),
        &diff::destroy(&observed),
    );
    let seen = aws.read_back(name);
    assert_eq!(
        seen,
        json!({"queues": {}, "tables": {}, "functions": {}, "schedule_groups": {}, "roles": {}})
    );
}
