//! The runtime's semantics with in-process functions: per-key order under concurrency,
//! deduplication, retries and KO, parking and release, per-key state, restart.

use flowctl_events::dispatch::{BoxFuture, Invocation, Invoke};
use flowctl_events::query::{self, Filter};
use flowctl_events::{Accepted, Failure, Incoming, Intake, Intook, Quiet, Routes, Runtime};
use flowctl_lang::manifest::events::Target;
use flowctl_lang::manifest::{self, Manifest};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records every call; fails an event whose payload says `"fail": n` for its first n attempts
/// (`"fail": "always"` every time); sleeps `"sleep_ms"`.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, Value)>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    attempts: Mutex<HashMap<String, u64>>,
}

impl Invoke for Recorder {
    fn invoke<'a>(&'a self, target: &'a Target, input: Value) -> BoxFuture<'a, Invocation> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            let event = input.get("event").cloned().unwrap_or_else(|| input.clone());
            let data = event["data"].clone();
            if let Some(ms) = data["sleep_ms"].as_u64() {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let id = format!("{}/{}", target.name(), event["id"].as_str().unwrap_or(""));
            let attempt = {
                let mut attempts = self.attempts.lock().unwrap();
                let n = attempts.entry(id).or_default();
                *n += 1;
                *n
            };
            self.calls
                .lock()
                .unwrap()
                .push((target.name().to_string(), input.clone()));
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let fails = match &data["fail"] {
                Value::String(s) if s == "always" => true,
                Value::Number(n) => attempt <= n.as_u64().unwrap_or(0),
                _ => false,
            };
            let result = if fails && target.name() != "OnKo" {
                Err(Failure {
                    error: "Boom".into(),
                    cause: format!("attempt {attempt}"),
                })
            } else if input.get("state").is_some() {
                let count = input["state"]["count"].as_u64().unwrap_or(0);
                Ok(json!({"state": {"count": count + 1, "last": event["id"]}}))
            } else {
                Ok(json!({"ok": event["id"]}))
            };
            Invocation {
                result,
                trace: None,
            }
        })
    }
}

impl Recorder {
    fn calls_of(&self, target: &str) -> Vec<Value> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn manifest(subscription: &str) -> Manifest {
    let yaml = format!(
        "project: t\nfunctions:\n  Handle: {{ package: p }}\n  OnKo: {{ package: p }}\n\
         sources:\n  hook:\n    webhook: {{}}\n    id: $.id\n    key: $.key\n\
         subscriptions:\n  sub:\n    source: hook\n    function: Handle\n{subscription}"
    );
    let (manifest, diagnostics) = manifest::parse(&yaml);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    manifest.unwrap()
}

struct Running {
    runtime: Runtime,
    intake: Intake,
}

fn start(path: &Path, manifest: &Manifest, recorder: &Arc<Recorder>) -> Running {
    let runtime = Runtime::start(
        path,
        Routes::new(manifest),
        recorder.clone(),
        Arc::new(Quiet),
    )
    .unwrap();
    let intake = Intake::new(runtime.log().clone(), manifest.sources.clone());
    Running { runtime, intake }
}

async fn send(intake: &Intake, id: &str, key: &str, extra: Value) -> Intook {
    let mut payload = json!({"id": id, "key": key});
    payload
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    intake.submit("hook", Incoming::new(payload)).await.unwrap()
}

/// Waits (bounded) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

fn statuses(path: &Path, subscription: &str) -> Vec<(String, String)> {
    query::list(
        path,
        &Filter {
            subscription: Some(subscription.into()),
            ..Filter::default()
        },
    )
    .unwrap()
    .into_iter()
    .map(|r| (r.id.unwrap_or_default(), r.status))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_run_in_order_concurrently_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let recorder = Arc::new(Recorder::default());
    let m = manifest("    concurrency: 8\n");
    let run = start(&path, &m, &recorder);
    let mut waits = Vec::new();
    for i in 0..600 {
        let key = format!("k{}", i % 30);
        let mut payload = json!({"id": format!("e{i}"), "key": key, "i": i});
        payload["sleep_ms"] = json!(fastrand::u64(0..3));
        waits.push(run.intake.submit("hook", Incoming::new(payload)));
    }
    for w in waits {
        assert!(matches!(
            w.await.unwrap(),
            Intook::Accepted(Accepted::New { .. })
        ));
    }
    until("600 calls", || recorder.calls_of("Handle").len() == 600).await;
    let mut last: HashMap<String, i64> = HashMap::new();
    for call in recorder.calls_of("Handle") {
        let (key, i) = (
            call["key"].as_str().unwrap().to_string(),
            call["data"]["i"].as_i64().unwrap(),
        );
        let previous = last.insert(key.clone(), i).unwrap_or(-1);
        assert!(i > previous, "key {key}: event {i} ran after {previous}");
    }
    let most = recorder.most_in_flight.load(Ordering::SeqCst);
    assert!(most <= 8, "{most} invocations at once, concurrency is 8");
    assert!(most > 1, "keys should run concurrently");
    run.runtime.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let recorder = Arc::new(Recorder::default());
    let run = start(&path, &manifest(""), &recorder);
    let first = send(&run.intake, "same", "k", json!({})).await;
    until("the first run", || recorder.calls_of("Handle").len() == 1).await;
    let again = send(&run.intake, "same", "k", json!({})).await;
    let Intook::Accepted(Accepted::New { seq, .. }) = first else {
        panic!("{first:?}")
    };
    assert_eq!(again, Intook::Accepted(Accepted::Duplicate { seq }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(recorder.calls_of("Handle").len(), 1);
    run.runtime.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_then_ko_to_the_handler_and_the_key_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let recorder = Arc::new(Recorder::default());
    let m =
        manifest("    retry: { max: 2, interval: 0.01, backoff: 1 }\n    ko: { function: OnKo }\n");
    let run = start(&path, &m, &recorder);
    send(&run.intake, "flaky", "k", json!({"fail": 2})).await;
    send(&run.intake, "bad", "k", json!({"fail": "always"})).await;
    send(&run.intake, "after", "k", json!({})).await;
    until("the KO handler", || recorder.calls_of("OnKo").len() == 1).await;
    until("the last event", || {
        statuses(&path, "sub").iter().all(|(_, s)| s != "queued")
    })
    .await;
    assert_eq!(
        statuses(&path, "sub"),
        [
            ("flaky".into(), "done".into()),
            ("bad".into(), "ko".into()),
            ("after".into(), "done".into())
        ]
    );
    let ko = &recorder.calls_of("OnKo")[0]["data"];
    assert_eq!(
        (ko["error"].as_str(), ko["attempts"].as_u64()),
        (Some("Boom"), Some(3))
    );
    assert_eq!(ko["event"]["id"], "bad");
    let handled = recorder
        .calls_of("Handle")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(
        handled,
        ["flaky", "flaky", "flaky", "bad", "bad", "bad", "after"]
    );
    run.runtime.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_key_waits_for_release_and_holds_no_other_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let recorder = Arc::new(Recorder::default());
    let m = manifest("    ko: { then: park }\n    concurrency: 1\n");
    let run = start(&path, &m, &recorder);
    send(&run.intake, "p1", "parked", json!({"fail": 1})).await;
    send(&run.intake, "p2", "parked", json!({})).await;
    for i in 0..5 {
        send(&run.intake, &format!("o{i}"), "other", json!({})).await;
    }
    until("the other key", || {
        statuses(&path, "sub")
            .iter()
            .filter(|(id, s)| id.starts_with('o') && s == "done")
            .count()
            == 5
    })
    .await;
    let now = statuses(&path, "sub");
    assert!(now.contains(&("p1".into(), "parked".into())), "{now:?}");
    assert!(now.contains(&("p2".into(), "queued".into())), "{now:?}");
    assert_eq!(
        query::parked(&path).unwrap(),
        [("sub".to_string(), "parked".to_string(), 1)]
    );
    // Released: the parked event runs again (it fails only once), then the next.
    assert!(run
        .runtime
        .log()
        .release("sub", "parked", false)
        .await
        .unwrap());
    until("the released key", || {
        statuses(&path, "sub").iter().all(|(_, s)| s == "done")
    })
    .await;
    run.runtime.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_kept_per_key_across_a_restart_and_a_ko_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let recorder = Arc::new(Recorder::default());
    let m = manifest("    state: true\n");
    {
        let run = start(&path, &m, &recorder);
        send(&run.intake, "s1", "a", json!({})).await;
        send(&run.intake, "s2", "a", json!({"fail": "always"})).await;
        send(&run.intake, "s3", "b", json!({})).await;
        until("three calls", || recorder.calls_of("Handle").len() == 3).await;
        run.runtime.drain().await;
    }
    let run = start(&path, &m, &recorder);
    send(&run.intake, "s4", "a", json!({})).await;
    until("the fourth call", || recorder.calls_of("Handle").len() == 4).await;
    let fourth = &recorder.calls_of("Handle")[3];
    assert_eq!(fourth["state"], json!({"count": 1, "last": "s1"}));
    run.runtime.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_work_survives_a_stop_and_done_work_is_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let recorder = Arc::new(Recorder::default());
    let m = manifest("    concurrency: 1\n");
    {
        let run = start(&path, &m, &recorder);
        send(&run.intake, "fast", "k", json!({})).await;
        until("the first call", || recorder.calls_of("Handle").len() == 1).await;
        for i in 0..3 {
            send(
                &run.intake,
                &format!("slow{i}"),
                "k",
                json!({"sleep_ms": 30}),
            )
            .await;
        }
        // Drain: what runs finishes, the rest stays queued.
        run.runtime.drain().await;
    }
    let before = recorder.calls_of("Handle").len();
    assert!(before < 4, "drain should leave work queued");
    let run = start(&path, &m, &recorder);
    until("the rest", || {
        statuses(&path, "sub").iter().all(|(_, s)| s == "done")
    })
    .await;
    let ids: Vec<_> = recorder
        .calls_of("Handle")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["fast", "slow0", "slow1", "slow2"]);
    run.runtime.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_ends_the_dedup_window_of_finished_events_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let recorder = Arc::new(Recorder::default());
    let m = manifest("    ko: { then: park }\n");
    let run = start(&path, &m, &recorder);
    send(&run.intake, "finished", "a", json!({})).await;
    send(&run.intake, "parked", "b", json!({"fail": "always"})).await;
    until("both to end", || {
        statuses(&path, "sub").iter().all(|(_, s)| s != "queued")
    })
    .await;
    let later = flowctl_events::time::now_ms() + 60_000;
    // The finished event goes; the parked one (and the KO event it made, routed nowhere) stay
    // while they are open.
    assert_eq!(run.runtime.log().prune(later).await.unwrap(), 2);
    assert!(matches!(
        send(&run.intake, "finished", "a", json!({})).await,
        Intook::Accepted(Accepted::New { .. })
    ));
    assert!(matches!(
        send(&run.intake, "parked", "b", json!({})).await,
        Intook::Accepted(Accepted::Duplicate { .. })
    ));
    run.runtime.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_event_that_fails_again_is_a_second_ko() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let recorder = Arc::new(Recorder::default());
    let m = manifest("    ko: { function: OnKo, then: park }\n");
    let run = start(&path, &m, &recorder);
    send(&run.intake, "doomed", "k", json!({"fail": "always"})).await;
    until("the first KO", || recorder.calls_of("OnKo").len() == 1).await;
    until("the key to park", || {
        !query::parked(&path).unwrap().is_empty()
    })
    .await;
    assert!(run.runtime.log().release("sub", "k", false).await.unwrap());
    until("the second KO", || recorder.calls_of("OnKo").len() == 2).await;
    until("the key to park again", || {
        !query::parked(&path).unwrap().is_empty()
    })
    .await;
    let kos = query::list(
        &path,
        &Filter {
            source: Some("ko:sub".into()),
            ..Filter::default()
        },
    )
    .unwrap();
    assert_eq!(
        kos.len(),
        2,
        "two KO events, each delivered to the handler: {kos:?}"
    );
    run.runtime.drain().await;
}
