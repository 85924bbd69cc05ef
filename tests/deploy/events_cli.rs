//! The events example (examples/booking-events) deployed with `flowctl deploy --localstack
//! --endpoint-url` to moto, through the recording proxy, as a user runs it: the build with the
//! subscriber feature, every queue, table, subscriber, mapping, function URL, poller, schedule
//! and role read back with boto3; a second deploy that writes nothing; `status` and `events ls
//! --target` with each subscription's numbers; faults that converge; `--prune`; `destroy`.
//! (The wiring's details are `tests/deploy_events.rs`'s, at the library level.)

use super::{edit_manifest, flowctl, flowctl_command, ok, show, stdout_json, ACCOUNT, REGION};
use flowctl_tests::example_copy;
use flowctl_tests::moto::Moto;
use flowctl_tests::proxy::{self, Proxy};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A copy of the events example named `project`, without its RabbitMQ source: moto refuses
/// Amazon MQ event source mappings (`Invalid EventSourceArn`), so that wiring is checked by
/// flowctl-aws's unit tests instead.
pub(super) fn events_copy(project: &str) -> std::path::PathBuf {
    let dir = example_copy("booking-events", project);
    edit_manifest(&dir, |m| {
        let start = m
            .find("  # {\"id\": \"pay-1\"")
            .expect("the payments source");
        let end = m[start..]
            .find("  # Rows of booking_room_changes")
            .expect("the next source");
        let without = format!("{}{}", &m[..start], &m[start + end..]);
        without.replace(
            "source: [booking-requests, payments, room-changes, \"ko:book\"]",
            "source: [booking-requests, room-changes, \"ko:book\"]",
        ) + &format!("deploy:\n  region: {REGION}\n")
    });
    dir
}

fn read_back(moto: &Moto, project: &str) -> Value {
    moto.driver("events", &json!({ "region": REGION, "project": project }))
}

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn env_json(function: &Value, variable: &str) -> Value {
    let text = function["env"][variable]
        .as_str()
        .unwrap_or_else(|| panic!("no {variable} in {function:#}"));
    serde_json::from_str(text).unwrap()
}

/// What a user checks after deploying the events example: one queue (and DLQ) and table per
/// subscription, each subscriber mapped to its queue with partial batch failures, the webhook's
/// public URL, the RabbitMQ source's mapping, the outbox's poller on a schedule.
fn assert_events_deployed(seen: &Value, p: &str) {
    let queue = |s: &str| format!("{p}-{s}.fifo");
    let dlq = |s: &str| format!("{p}-{s}-dlq.fifo");
    let mut queues = vec![
        queue("book"),
        dlq("book"),
        queue("book-ko"),
        dlq("book-ko"),
        queue("ledger"),
        dlq("ledger"),
    ];
    queues.sort();
    assert_eq!(sorted_keys(&seen["queues"]), queues, "{seen:#}");
    for s in ["book", "book-ko", "ledger"] {
        let attributes = &seen["queues"][queue(s)]["attributes"];
        assert_eq!(attributes["FifoQueue"], "true", "{s}");
        let redrive: Value =
            serde_json::from_str(attributes["RedrivePolicy"].as_str().unwrap()).unwrap();
        assert_eq!(
            redrive["deadLetterTargetArn"],
            format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", dlq(s))
        );
    }
    assert_eq!(
        sorted_keys(&seen["tables"]),
        [
            format!("{p}-book"),
            format!("{p}-book-ko"),
            format!("{p}-cursors"),
            format!("{p}-ledger")
        ]
    );

    let functions = &seen["functions"];
    for (sub, kind) in [
        ("book", "standard"),
        ("book-ko", "in_process"),
        ("ledger", "in_process"),
    ] {
        let subscriber = &functions[format!("{p}-sub-{sub}")];
        let config = env_json(subscriber, "FLOWCTL_SUBSCRIBER");
        assert_eq!(config["target"]["kind"], kind, "{sub}: {config:#}");
        let mappings = subscriber["mappings"].as_array().unwrap();
        assert_eq!(mappings.len(), 1, "{sub}: {mappings:#?}");
        assert_eq!(
            mappings[0]["EventSourceArn"],
            format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", queue(sub))
        );
        assert_eq!(
            mappings[0]["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
        assert_eq!(
            subscriber["role"],
            format!("arn:aws:iam::{ACCOUNT}:role/{p}-sub-{sub}"),
            "each subscriber its own role"
        );
    }
    let book = env_json(&functions[format!("{p}-sub-book")], "FLOWCTL_SUBSCRIBER");
    assert_eq!(
        book["target"]["arn"],
        format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{p}-Booking")
    );
    assert_eq!(book["park"], true);
    assert_eq!(book["retry"]["max"], 2);
    let ledger = env_json(&functions[format!("{p}-sub-ledger")], "FLOWCTL_SUBSCRIBER");
    assert_eq!(ledger["state"], true);
    assert_eq!(ledger["target"]["function"], "TrackBooking");

    // The webhook: a public URL whose ingest routes to book and ledger.
    let ingest = &functions[format!("{p}-in-booking-requests")];
    assert_eq!(ingest["url"]["auth"], "NONE", "{ingest:#}");
    let ingest_config = env_json(ingest, "FLOWCTL_INGEST");
    let routes: Vec<&str> = ingest_config["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["subscription"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["book", "ledger"]);
    // The outbox: a poller on a one-minute schedule.
    let poller = &functions[format!("{p}-poll-room-changes")];
    let config = env_json(poller, "FLOWCTL_POLLER");
    assert_eq!(config["kind"]["postgres"]["table"], "booking_room_changes");
    let groups = &seen["schedule_groups"];
    let schedules = &groups[format!("{p}-schedules")]["schedules"];
    let schedule = &schedules[format!("{p}-poll-room-changes")];
    assert_eq!(
        schedule["ScheduleExpression"], "rate(1 minute)",
        "{groups:#}"
    );
    assert_eq!(
        schedule["Target"]["Arn"],
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{p}-poll-room-changes")
    );
}

fn assert_nothing_left(seen: &Value) {
    for kind in ["queues", "tables", "functions", "schedule_groups", "roles"] {
        assert_eq!(seen[kind], json!({}), "{kind} left: {seen:#}");
    }
}

#[test]
fn the_events_example_deploys_redeploys_without_writes_shows_its_numbers_prunes_and_is_destroyed() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint);
    let project = "evcli";
    let dir = events_copy(project);
    let at = proxy.endpoint.as_str();

    let plan = stdout_json(&ok(flowctl(
        &dir,
        at,
        &["--output", "json", "deploy", "--dry-run"],
    )));
    let kinds: std::collections::BTreeSet<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    for kind in [
        "queue",
        "table",
        "event_source_mapping",
        "function_url",
        "schedule",
    ] {
        assert!(kinds.contains(kind), "the dry run shows {kind}s: {kinds:?}");
    }
    assert_eq!(
        proxy::mutations(&proxy.take()),
        Vec::<String>::new(),
        "a dry run writes nothing"
    );

    let deployed = ok(flowctl(&dir, at, &["deploy"]));
    assert_events_deployed(&read_back(moto, project), project);
    let stderr = String::from_utf8_lossy(&deployed.stderr);
    assert!(
        stderr.contains("webhook booking-requests: POST http"),
        "the webhook's URL is said: {}",
        show(&deployed)
    );
    proxy.take();
    let again = ok(flowctl(&dir, at, &["deploy"]));
    assert_eq!(
        proxy::mutations(&proxy.take()),
        Vec::<String>::new(),
        "a second deploy writes nothing: {}",
        show(&again)
    );

    let status = stdout_json(&ok(flowctl(&dir, at, &["--output", "json", "status"])));
    assert_eq!(status["in_sync"], true, "{status:#}");
    let rows = status["subscriptions"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["subscription"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["book", "book:ko", "ledger"]);
    assert!(rows
        .iter()
        .all(|r| r["deployed"] == true && r["depth"] == 0 && r["parked_keys"] == json!([])));
    let ls = ok(flowctl(
        &dir,
        at,
        &["events", "ls", "--target", "localstack"],
    ));
    let text = String::from_utf8_lossy(&ls.stdout);
    assert!(
        text.contains("subscription") && text.contains("ledger") && text.contains("DLQ"),
        "{}",
        show(&ls)
    );
    let not_parked = flowctl(
        &dir,
        at,
        &["events", "release", "book", "b-1", "--target", "localstack"],
    );
    assert_eq!(not_parked.status.code(), Some(1), "{}", show(&not_parked));
    assert!(String::from_utf8_lossy(&not_parked.stdout).contains("not parked"));

    // The ledger subscription leaves the manifest: kept without --prune, deleted with it.
    edit_manifest(&dir, |m| {
        let cut = m
            .find("  # Every event about a booking")
            .expect("the ledger block");
        let end = m.find("deploy:\n").expect("the deploy section");
        format!("{}{}", &m[..cut], &m[end..])
    });
    let pruned = stdout_json(&ok(flowctl(
        &dir,
        at,
        &["--output", "json", "deploy", "--prune"],
    )));
    assert!(
        pruned["summary"]["delete"].as_u64().unwrap() >= 6,
        "queue, DLQ, table, subscriber, mapping and role: {pruned:#}"
    );
    let seen = read_back(moto, project);
    assert!(
        !sorted_keys(&seen["queues"])
            .iter()
            .any(|q| q.contains("ledger")),
        "{seen:#}"
    );
    assert!(seen["functions"]
        .get(format!("{project}-sub-ledger"))
        .is_none());

    ok(flowctl(&dir, at, &["destroy"]));
    assert_nothing_left(&read_back(moto, project));
}

#[test]
fn an_events_deploy_converges_through_throttling_server_errors_a_target_dying_half_way_and_a_kill()
{
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint);
    let project = "evfaults";
    let dir = events_copy(project);
    let at = proxy.endpoint.as_str();

    proxy.fail_every(3);
    ok(flowctl(&dir, at, &["deploy"]));
    proxy.fail_every(0);
    assert!(
        proxy.take().iter().filter(|r| r.fault.is_some()).count() >= 5,
        "faults were injected"
    );
    assert_events_deployed(&read_back(moto, project), project);

    ok(flowctl(&dir, at, &["destroy"]));
    assert_nothing_left(&read_back(moto, project));
    proxy.take();
    proxy.break_after(40, 1_000_000);
    let broken = flowctl(&dir, at, &["deploy", "--no-build"]);
    proxy.heal();
    assert_eq!(broken.status.code(), Some(1), "{}", show(&broken));
    ok(flowctl(&dir, at, &["deploy", "--no-build"]));
    assert_events_deployed(&read_back(moto, project), project);
    proxy.take();
    ok(flowctl(&dir, at, &["deploy", "--no-build"]));
    assert_eq!(
        proxy::mutations(&proxy.take()),
        Vec::<String>::new(),
        "converged after the interrupted deploy"
    );

    // Killed (SIGKILL) while the events wiring is being created: the next deploy finishes it.
    ok(flowctl(&dir, at, &["destroy"]));
    proxy.take();
    proxy.latency(400);
    let mut deploy = flowctl_command(&dir, Some(at), &["deploy", "--no-build"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowctl runs");
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        seen.extend(proxy.take());
        if seen.iter().any(|r| r.operation == "CreateQueue") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no queue creation seen: {seen:#?}"
        );
        assert!(
            deploy.try_wait().unwrap().is_none(),
            "the deploy ended early: {seen:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    deploy.kill().expect("SIGKILL");
    deploy.wait().unwrap();
    proxy.latency(0);
    ok(flowctl(&dir, at, &["deploy", "--no-build"]));
    assert_events_deployed(&read_back(moto, project), project);
    proxy.take();
    ok(flowctl(&dir, at, &["deploy", "--no-build"]));
    assert_eq!(
        proxy::mutations(&proxy.take()),
        Vec::<String>::new(),
        "converged after the killed deploy"
    );
    ok(flowctl(&dir, at, &["destroy"]));
    assert_nothing_left(&read_back(moto, project));
}
