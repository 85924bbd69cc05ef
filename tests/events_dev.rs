//! `flowctl dev` end to end, as a user runs it: the binary, its webhook server, a real
//! RabbitMQ queue, functions as local Lambda processes (`events-fixture`), the SQLite log.
//!
//! The long test sends 10,000 events over 100 keys, shuffled across a signed webhook and an
//! AMQP queue, with random handler delays and injected KOs, kills `flowctl dev` with SIGKILL
//! part-way and starts it again, then checks: no acknowledged event lost, no per-key
//! reordering, no invocation whose success was recorded started again, exactly-once state
//! transitions, and that parked keys held no other key back.

use flowctl_events::query::{self, Filter};
use flowctl_tests::dev::{free_port, post, Dev};
use flowctl_tests::flowctl_bin;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeleteOptions};
use lapin::{BasicProperties, Connection};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIXTURE: &str = env!("CARGO_BIN_EXE_events-fixture");
const SECRET: &str = "test-secret";
const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

struct Project {
    dir: tempfile::TempDir,
    queue: String,
}

impl Project {
    fn new(subscriptions: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let queue = format!("flowctl-events-dev-{}-{}", std::process::id(), free_port());
        let record = dir.path().join("record.jsonl");
        let function = |name: &str| {
            format!(
                "  {name}: {{ package: fixture, timeout: 30, env: {{ RECORD: \"{}\", FIXTURE_FUNCTION: {name} }} }}\n",
                record.display()
            )
        };
        let manifest = format!(
            "project: evdev\nfunctions:\n{}{}{}\
             sources:\n  hooks:\n    webhook: {{ secret_env: HOOK_SECRET }}\n    id: $.id\n    key: $.key\n\
             \x20 payments:\n    amqp: {{ url: \"{AMQP_URL}\", queue: {queue} }}\n    id: $.id\n    key: $.key\n\
             subscriptions:\n{subscriptions}",
            function("Work"),
            function("Audit"),
            function("OnKo"),
        );
        std::fs::write(dir.path().join("flowctl.yaml"), manifest).unwrap();
        Project { dir, queue }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> PathBuf {
        self.path().join(".flowctl/events.sqlite")
    }

    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path().join("record.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn dev(&self, port: u16) -> Dev {
        self.dev_with(port, &["--no-watch"])
    }

    fn dev_with(&self, port: u16, extra: &[&str]) -> Dev {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path().join("dev.stderr"))
            .unwrap();
        let mut cmd = Command::new(flowctl_bin());
        cmd.current_dir(self.path())
            .args(["dev", "--port", &port.to_string()])
            .args(extra)
            .env("HOOK_SECRET", SECRET)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for f in ["Work", "Audit", "OnKo"] {
            cmd.args(["--function-binary", &format!("{f}={FIXTURE}")]);
        }
        let stderr = self.path().join("dev.stderr");
        Dev::start(cmd, port, &stderr, None, Duration::from_secs(60))
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.path().join("dev.stderr")).unwrap_or_default()
    }

    fn flowctl(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(flowctl_bin())
            .current_dir(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn rows(&self, filter: Filter) -> Vec<query::Row> {
        query::list(&self.log(), &filter).unwrap()
    }
}

fn signature(body: &str) -> String {
    format!(
        "sha256={}",
        flowctl_events::source::webhook::sign(SECRET.as_bytes(), &[body.as_bytes()])
    )
}

/// A signed webhook POST, retried until the server acknowledges it (202, or 200 for a
/// duplicate): what a sender with at-least-once delivery does across a restart.
fn send_hook(port: &AtomicUsize, body: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let port = port.load(Ordering::SeqCst) as u16;
        match post(
            port,
            "/events/hooks",
            body,
            &[("X-Hub-Signature-256", signature(body))],
        ) {
            Some((202 | 200, _)) => return,
            Some((status, answer)) => panic!("webhook answered {status}: {answer}"),
            None => {
                assert!(Instant::now() < deadline, "the webhook never came back");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool, project: &Project) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            tail(&project.stderr())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<_> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

const KEYS: usize = 100;
const EVENTS: usize = 10_000;

/// Keys k0..k4 fail at every 20th event from their 10th: `orders` skips them (KO handler),
/// `audit` parks the key at the first.
fn injected_ko(key: usize, n: usize) -> bool {
    key < 5 && n % 20 == 10
}

#[test]
fn ten_thousand_events_survive_a_kill_in_order_without_duplicates() {
    let project = Project::new(
        "  orders:\n    source: [hooks, payments]\n    function: Work\n    retry: { max: 1, interval: 0 }\n    ko: { function: OnKo }\n    concurrency: 32\n\
         \x20 audit:\n    source: [hooks, payments]\n    function: Audit\n    state: true\n    ko: { then: park }\n    concurrency: 32\n",
    );
    let port = AtomicUsize::new(free_port().into());
    let mut dev = project.dev(port.load(Ordering::SeqCst) as u16);

    // The events, each to a random source; per key, `n` counts its events in send order.
    let events: Vec<(bool, String)> = (0..EVENTS)
        .map(|i| {
            let (key, n) = (i % KEYS, i / KEYS);
            let body = json!({
                "id": format!("e{i}"), "key": format!("k{key}"), "n": n,
                "sleep_ms": fastrand::u64(0..4), "ko": injected_ko(key, n),
            });
            (fastrand::bool(), body.to_string())
        })
        .collect();
    let acked = AtomicUsize::new(0);
    let killed = Mutex::new(Option::<HashSet<(String, i64)>>::None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let publisher = runtime.block_on(async {
        let properties = flowctl_events::source::amqp::connection_properties();
        let conn = Connection::connect(AMQP_URL, properties)
            .await
            .expect("RabbitMQ answers on 127.0.0.1:5672 (scripts/start-services.sh starts it)");
        let channel = conn.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        channel
            .queue_declare(
                &project.queue,
                lapin::options::QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        (conn, channel)
    });
    let queue = project.queue.clone();
    let hooks: Vec<&str> = events
        .iter()
        .filter(|(hook, _)| *hook)
        .map(|(_, b)| b.as_str())
        .collect();
    let amqp: Vec<&str> = events
        .iter()
        .filter(|(hook, _)| !*hook)
        .map(|(_, b)| b.as_str())
        .collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(body) = hooks.get(i) else { return };
                send_hook(&port, body);
                acked.fetch_add(1, Ordering::SeqCst);
            });
        }
        scope.spawn(|| {
            runtime.block_on(async {
                let channel = &publisher.1;
                for chunk in amqp.chunks(200) {
                    let mut confirms = Vec::new();
                    for body in chunk {
                        let confirm = channel
                            .basic_publish(
                                "",
                                queue.as_str(),
                                BasicPublishOptions::default(),
                                body.as_bytes(),
                                BasicProperties::default().with_delivery_mode(2),
                            )
                            .await
                            .unwrap();
                        confirms.push(confirm);
                    }
                    for c in confirms {
                        assert!(
                            c.await.unwrap().is_ack(),
                            "RabbitMQ did not confirm a publish"
                        );
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        });
        // SIGKILL once 40% of the events are acknowledged, then start again at once.
        scope.spawn(|| {
            while acked.load(Ordering::SeqCst) < EVENTS * 2 / 5 {
                std::thread::sleep(Duration::from_millis(5));
            }
            dev.kill();
            let done: HashSet<_> = project
                .rows(Filter {
                    status: Some("done".into()),
                    ..Filter::default()
                })
                .into_iter()
                .map(|r| (r.subscription.unwrap(), r.seq.unwrap()))
                .collect();
            *killed.lock().unwrap() = Some(done);
            let fresh = free_port();
            dev = project.dev(fresh);
            port.store(fresh.into(), Ordering::SeqCst);
        });
    });
    let done_before_kill = killed
        .lock()
        .unwrap()
        .take()
        .expect("dev was killed mid-run");
    let kill_at = project.records().len();
    assert!(
        !done_before_kill.is_empty(),
        "the kill came before any event was done"
    );

    // Everything acknowledged is in the log, once; everything not parked finishes.
    wait_until(
        "every event in the log",
        Duration::from_secs(300),
        || {
            project
                .rows(Filter {
                    subscription: Some("orders".into()),
                    ..Filter::default()
                })
                .len()
                == EVENTS
        },
        &project,
    );
    let open = |sub: &str| {
        project
            .rows(Filter {
                subscription: Some(sub.into()),
                status: Some("queued".into()),
                ..Filter::default()
            })
            .into_iter()
            .map(|r| r.key.unwrap())
            .collect::<HashSet<_>>()
    };
    wait_until(
        "orders and its KO handler to finish",
        Duration::from_secs(300),
        || open("orders").is_empty() && open("orders:ko").is_empty(),
        &project,
    );
    let parked: HashSet<String> = (0..5).map(|k| format!("k{k}")).collect();
    wait_until(
        "audit's unparked keys to finish",
        Duration::from_secs(300),
        || open("audit").is_subset(&parked),
        &project,
    );

    let rows = project.rows(Filter {
        subscription: Some("orders".into()),
        ..Filter::default()
    });
    let ids: HashSet<_> = rows.iter().map(|r| r.id.clone().unwrap()).collect();
    assert_eq!(
        ids.len(),
        EVENTS,
        "every acknowledged event accepted exactly once"
    );
    let kos = rows.iter().filter(|r| r.status == "ko").count();
    let injected = (0..EVENTS)
        .filter(|i| injected_ko(i % KEYS, i / KEYS))
        .count();
    assert_eq!(kos, injected, "exactly the injected events are KO");

    // Invocations, as the functions recorded them.
    let records = project.records();
    let sub_of = |f: &str| match f {
        "Work" => "orders",
        "Audit" => "audit",
        _ => "orders:ko",
    };
    // No invocation whose success was recorded before the kill started again after it.
    for r in &records[kill_at..] {
        if r["at"] == "start" {
            let sub = sub_of(r["fn"].as_str().unwrap()).to_string();
            let seq = r["seq"].as_i64().unwrap();
            assert!(
                !done_before_kill.contains(&(sub.clone(), seq)),
                "{sub} #{seq} was done before the kill and ran again"
            );
        }
    }
    // Per subscription and key, invocations start in acceptance (seq) order: a retry or a
    // re-run after the restart repeats the last seq, never an earlier one.
    let mut last: HashMap<(String, String), i64> = HashMap::new();
    let mut successes: HashMap<(String, i64), usize> = HashMap::new();
    for r in &records {
        let sub = sub_of(r["fn"].as_str().unwrap()).to_string();
        let seq = r["seq"].as_i64().unwrap();
        if r["at"] == "ok" {
            *successes.entry((sub, seq)).or_default() += 1;
            continue;
        }
        let previous = last.insert((sub.clone(), r["key"].as_str().unwrap().to_string()), seq);
        if let Some(previous) = previous {
            assert!(
                seq >= previous,
                "{sub} key {}: #{seq} started after #{previous}",
                r["key"]
            );
        }
    }
    // A success may repeat only for what was in flight at the kill (at most the keys in flight).
    let repeated: Vec<_> = successes.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.len() <= 3 * 32,
        "{} successes repeated: {repeated:?}",
        repeated.len()
    );
    assert!(
        repeated.iter().all(|(_, n)| **n == 2),
        "a success repeated more than once: {repeated:?}"
    );

    // Audit's state counts each key's events exactly once; a parked key stops at its first
    // KO in acceptance order (its sources race, so that is not always its 10th event).
    let index = |id: &str| id[1..].parse::<usize>().unwrap();
    let mut audit: HashMap<String, Vec<(i64, bool)>> = HashMap::new();
    for r in project.rows(Filter {
        subscription: Some("audit".into()),
        ..Filter::default()
    }) {
        let i = index(r.id.as_deref().unwrap());
        audit
            .entry(r.key.unwrap())
            .or_default()
            .push((r.seq.unwrap(), injected_ko(i % KEYS, i / KEYS)));
    }
    // (seq of the n-th KO, events accepted before it) per key.
    let before_ko = |key: &str, nth: usize| {
        let mut events = audit[key].clone();
        events.sort();
        let at = events.iter().filter(|(_, ko)| *ko).nth(nth).unwrap().0;
        (
            at,
            events.iter().filter(|(seq, _)| *seq < at).count() as u64,
        )
    };
    let states = query::states(&project.log(), "audit").unwrap();
    let parked_now: BTreeMap<String, i64> = query::parked(&project.log())
        .unwrap()
        .into_iter()
        .filter(|(s, _, _)| s == "audit")
        .map(|(_, k, seq)| (k, seq))
        .collect();
    for key in 0..KEYS {
        let name = format!("k{key}");
        let expected = if key < 5 {
            let (at, count) = before_ko(&name, 0);
            assert_eq!(
                parked_now.get(&name),
                Some(&at),
                "{name} is parked at its first KO"
            );
            count
        } else {
            (EVENTS / KEYS) as u64
        };
        let count = states
            .get(&name)
            .and_then(|s| s["count"].as_u64())
            .unwrap_or(0);
        assert_eq!(
            count, expected,
            "audit state of {name}: one transition per event done"
        );
    }
    assert_eq!(parked_now.keys().cloned().collect::<HashSet<_>>(), parked);

    // Releasing a parked key past its KO lets it run on, to its next KO.
    let (code, _) = project.flowctl(&["events", "release", "audit", "k0", "--skip"]);
    assert_eq!(code, 0);
    let (next_ko, before_next) = before_ko("k0", 1);
    wait_until(
        "k0 to reach its next KO",
        Duration::from_secs(60),
        || {
            query::parked(&project.log())
                .unwrap()
                .contains(&("audit".into(), "k0".into(), next_ko))
        },
        &project,
    );
    // The skipped KO changed nothing: every other event before the next KO counted once.
    assert_eq!(
        query::states(&project.log(), "audit").unwrap()["k0"]["count"],
        before_next - 1
    );

    // SIGTERM drains and ends with 0.
    let status = dev.terminate();
    assert!(
        status.success(),
        "dev ended with {status}: {}",
        tail(&project.stderr())
    );
    runtime.block_on(async {
        let _ = publisher
            .1
            .queue_delete(&project.queue, QueueDeleteOptions::default())
            .await;
        let _ = publisher.0.close(0, "done").await;
    });
}

#[test]
fn webhook_signatures_bodies_and_keys() {
    let project = Project::new("  orders:\n    source: hooks\n    function: Work\n");
    let port = free_port();
    let mut dev = project.dev(port);
    let body = r#"{"id": "w1", "key": "a"}"#;
    let good = post(
        port,
        "/events/hooks",
        body,
        &[("X-Hub-Signature-256", signature(body))],
    )
    .unwrap();
    assert_eq!(good.0, 202, "{good:?}");
    let again = post(
        port,
        "/events/hooks",
        body,
        &[("X-Hub-Signature-256", signature(body))],
    )
    .unwrap();
    assert_eq!((again.0, &again.1["duplicate"]), (200, &json!(true)));
    let bad = post(
        port,
        "/events/hooks",
        body,
        &[("X-Hub-Signature-256", "sha256=00".into())],
    )
    .unwrap();
    assert_eq!(bad.0, 401);
    assert!(bad.1["error"]
        .as_str()
        .unwrap()
        .starts_with("bad signature"));
    let missing = post(port, "/events/hooks", body, &[]).unwrap();
    assert_eq!(missing.0, 401);
    assert!(missing.1["error"]
        .as_str()
        .unwrap()
        .contains("X-Hub-Signature-256"));
    let text = "not json";
    let malformed = post(
        port,
        "/events/hooks",
        text,
        &[("X-Hub-Signature-256", signature(text))],
    )
    .unwrap();
    assert_eq!(malformed.0, 400);
    assert!(malformed.1["error"]
        .as_str()
        .unwrap()
        .starts_with("the body is not JSON"));
    let keyless = r#"{"id": "w2"}"#;
    let rejected = post(
        port,
        "/events/hooks",
        keyless,
        &[("X-Hub-Signature-256", signature(keyless))],
    )
    .unwrap();
    assert_eq!(rejected.0, 422);
    let unknown = post(port, "/nowhere", body, &[]).unwrap();
    assert_eq!(unknown.0, 404);

    // Only the good event and the keyless one are in the log: the first as an event, the
    // second in the rejected list with its reason; `events ls` shows both.
    let (code, listed) = project.flowctl(&["events", "ls", "--output", "json"]);
    assert_eq!(code, 0);
    let listed: Vec<Value> = serde_json::from_str(&listed).unwrap();
    let statuses: Vec<_> = listed
        .iter()
        .map(|r| (r["id"].clone(), r["status"].as_str().unwrap().to_string()))
        .collect();
    wait_until(
        "w1 to run",
        Duration::from_secs(30),
        || {
            project
                .rows(Filter {
                    status: Some("done".into()),
                    ..Filter::default()
                })
                .len()
                == 1
        },
        &project,
    );
    assert_eq!(statuses.len(), 2, "{listed:?}");
    assert!(statuses.contains(&(json!(null), "rejected".to_string())));
    let rejected = project.rows(Filter {
        status: Some("rejected".into()),
        ..Filter::default()
    });
    assert_eq!(
        rejected[0].error.as_deref(),
        Some("no event key: the payload has nothing at `$.key`")
    );

    // `events send` goes through the running dev (the control endpoint, with its token).
    let (code, out) = project.flowctl(&[
        "events",
        "send",
        "hooks",
        "--data",
        r#"{"id": "w3", "key": "a"}"#,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{out}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["accepted"], true);
    wait_until(
        "w3 to run",
        Duration::from_secs(30),
        || {
            project
                .rows(Filter {
                    status: Some("done".into()),
                    ..Filter::default()
                })
                .len()
                == 2
        },
        &project,
    );
    let (code, shown) = project.flowctl(&["events", "show", "hooks/w3", "--output", "json"]);
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["deliveries"][0]["status"], "done");
    assert_eq!(shown["deliveries"][0]["output"], json!({"handled": "w3"}));
    assert!(dev.terminate().success());
}

#[test]
fn events_sent_without_dev_wait_in_the_log_and_replay_runs_one_again() {
    let project = Project::new("  orders:\n    source: hooks\n    function: Work\n");
    // No dev running: `events send` writes straight into the log.
    let (code, out) = project.flowctl(&[
        "events",
        "send",
        "hooks",
        "--data",
        r#"{"id": "q1", "key": "a"}"#,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("accepted #1"), "{out}");
    let queued = project.rows(Filter {
        status: Some("queued".into()),
        ..Filter::default()
    });
    assert_eq!(queued.len(), 1);
    // A rejected one says why and exits 1.
    let (code, out) = project.flowctl(&["events", "send", "hooks", "--data", r#"{"id": "q2"}"#]);
    assert_eq!(code, 1);
    assert!(out.contains("no event key"), "{out}");

    let port = free_port();
    let mut dev = project.dev(port);
    let done = |n: usize| {
        project
            .rows(Filter {
                status: Some("done".into()),
                ..Filter::default()
            })
            .len()
            == n
    };
    wait_until(
        "the queued event to run",
        Duration::from_secs(30),
        || done(1),
        &project,
    );
    let (code, out) = project.flowctl(&["events", "replay", "hooks/q1", "--output", "json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["deliveries"],
        1
    );
    wait_until(
        "the replay to run",
        Duration::from_secs(30),
        || done(2),
        &project,
    );
    let starts = project
        .records()
        .iter()
        .filter(|r| r["at"] == "start" && r["id"] == "q1")
        .count();
    assert_eq!(starts, 2, "the first run and the replay");
    assert!(dev.terminate().success());
}

#[test]
fn dev_restarts_with_the_changed_manifest_and_keeps_the_log() {
    let project = Project::new("  orders:\n    source: hooks\n    function: Work\n");
    let port = free_port();
    let mut dev = project.dev_with(port, &[]);
    let body = r#"{"id": "r1", "key": "a"}"#;
    let (status, _) = post(
        port,
        "/events/hooks",
        body,
        &[("X-Hub-Signature-256", signature(body))],
    )
    .unwrap();
    assert_eq!(status, 202);
    // A second subscription appears in the manifest: dev drains, reloads and runs it.
    let manifest = project.path().join("flowctl.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}  audit:\n    source: hooks\n    function: Audit\n"),
    )
    .unwrap();
    wait_until(
        "the restart",
        Duration::from_secs(60),
        || project.stderr().contains("files changed"),
        &project,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = r#"{"id": "r2", "key": "a"}"#;
    loop {
        match post(
            port,
            "/events/hooks",
            body,
            &[("X-Hub-Signature-256", signature(body))],
        ) {
            Some((202, answer)) => {
                assert_eq!(answer["deliveries"], 2, "both subscriptions take it");
                break;
            }
            other => {
                assert!(
                    Instant::now() < deadline,
                    "dev did not come back: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    wait_until(
        "audit to run r2",
        Duration::from_secs(30),
        || {
            project
                .records()
                .iter()
                .any(|r| r["fn"] == "Audit" && r["id"] == "r2" && r["at"] == "ok")
        },
        &project,
    );
    assert!(dev.terminate().success());
}
