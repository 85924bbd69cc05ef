//! `examples/booking-events` as its README runs it: `flowctl check` and `flowctl graph
//! --events` on it, then `flowctl dev` on the example in place (so its functions are built in
//! the workspace's target directory, as the other tests build `booking-functions`), with the
//! log in a temporary directory, a free port and `--no-watch`.
//!
//! A booking that succeeds and one whose payment is declined go in by webhook, a payment
//! through `flowctl events send` (the running dev's control endpoint). Checked through the log
//! (`flowctl_events::query`): `book` ran Booking once per booking id with Booking's output;
//! the declined one was retried, KO'd to `RecordKo` and parked; a corrected request for it
//! waited behind the parked key and booked after `flowctl events release --skip`; `ledger`'s
//! per-key state counts each booking's events by source.
//!
//! The brokers are left alone: the example's queue and table names are fixed, and another
//! `flowctl dev` of the example may be reading them. The test's `dev` still connects to them
//! when they answer (and retries quietly when they do not); it may take rows already in
//! `booking_room_changes`, which are about other booking ids than the test's.

use flowctl_events::query::{self, Filter, Row, Shown};
use flowctl_tests::dev::{free_port, post, Dev as Process};
use flowctl_tests::{flowctl_bin, repo_root};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const EXAMPLE: &str = "examples/booking-events";

/// How long `flowctl dev` may take to come up: it builds the functions in release first
/// (minutes when nothing is built yet).
const STARTUP: Duration = Duration::from_secs(1200);

/// How long any one outcome may take once `dev` runs (a declined booking takes 3 s of retries).
const OUTCOME: Duration = Duration::from_secs(60);

fn flowctl(args: &[&str]) -> Output {
    Command::new(flowctl_bin())
        .current_dir(repo_root())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("flowctl runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_checks_and_its_diagram_names_every_source_and_subscription() {
    let out = flowctl(&["check", "-m", EXAMPLE]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "check: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let out = flowctl(&["graph", "--events", "-m", EXAMPLE]);
    assert_eq!(out.status.code(), Some(0), "graph: {}", text(&out.stderr));
    let diagram = text(&out.stdout);
    assert!(
        diagram.starts_with("flowchart LR"),
        "not Mermaid:\n{diagram}"
    );

    let manifest_text =
        std::fs::read_to_string(repo_root().join(EXAMPLE).join("flowctl.yaml")).unwrap();
    let (manifest, diagnostics) = flowctl_lang::manifest::parse(&manifest_text);
    let manifest = manifest.unwrap_or_else(|| panic!("the manifest loads: {diagnostics:#?}"));
    let names: Vec<&String> = manifest
        .sources
        .keys()
        .chain(manifest.subscriptions.keys())
        .collect();
    assert_eq!(
        names,
        [
            "booking-requests",
            "payments",
            "room-changes",
            "book",
            "ledger"
        ]
    );
    for name in names {
        // Each node's label starts with its name: `(["payments<br/>…` or `["book<br/>…`.
        assert!(
            diagram.contains(&format!("\"{name}<br/>")),
            "the diagram has no node `{name}`:\n{diagram}"
        );
    }
    for target in [
        "flow Booking",
        "function TrackBooking",
        "function RecordKo",
        "\"ko:book<br/>",
    ] {
        assert!(
            diagram.contains(target),
            "the diagram has no `{target}`:\n{diagram}"
        );
    }
}

/// A running `flowctl dev` of the example, with its log in a directory of its own; stopped
/// (SIGTERM, then SIGKILL) when dropped.
struct Dev {
    process: RefCell<Process>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Dev {
    fn start() -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let stderr = std::fs::File::create(dir.path().join("dev.stderr")).unwrap();
        let log = dir.path().join("events.sqlite");
        let mut command = Command::new(flowctl_bin());
        command
            .current_dir(repo_root())
            .args([
                "dev",
                "-m",
                EXAMPLE,
                "--no-watch",
                "--port",
                &port.to_string(),
            ])
            .arg("--log")
            .arg(&log)
            .env("NO_COLOR", "1")
            .env_remove("BOOKING_WEBHOOK_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // `dev` writes dev.json beside the log once its sources run (after the build).
        let ready = dir.path().join("dev.json");
        let stderr = dir.path().join("dev.stderr");
        let process = Process::start(command, port, &stderr, Some(&ready), STARTUP);
        Dev {
            process: RefCell::new(process),
            dir,
            port,
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("events.sqlite")
    }

    fn stderr(&self) -> String {
        self.process.borrow().stderr()
    }

    /// `flowctl events …` on the example and this log (so through this `dev`).
    fn events(&self, args: &[&str]) -> Output {
        let log = self.log();
        let mut all = vec!["events", "-m", EXAMPLE, "--log", log.to_str().unwrap()];
        all.extend_from_slice(args);
        flowctl(&all)
    }

    /// POSTs a booking request to the webhook: (status, answer).
    fn book(&self, request_id: &str, body: &Value) -> (u16, Value) {
        post(
            self.port,
            "/bookings",
            &body.to_string(),
            &[("Idempotency-Key", request_id.to_string())],
        )
        .expect("the webhook answers")
    }

    fn rows(&self, subscription: &str, key: &str) -> Vec<Row> {
        let filter = Filter {
            subscription: Some(subscription.into()),
            key: Some(key.into()),
            ..Filter::default()
        };
        query::list(&self.log(), &filter).unwrap()
    }

    fn show(&self, event: &str) -> Shown {
        query::show(&self.log(), event).unwrap_or_else(|e| panic!("no event {event}: {e}"))
    }

    /// Waits until `check` gives a value, at most [`OUTCOME`].
    fn wait_for<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + OUTCOME;
        loop {
            if let Some(value) = check() {
                return value;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "flowctl dev exited ({status}) while waiting for {what}:\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn exited(&self) -> Option<std::process::ExitStatus> {
        self.process.borrow_mut().exited()
    }

    /// SIGTERM, as Ctrl-C: `dev` drains and exits 0. Its status and stderr.
    fn stop(self) -> (std::process::ExitStatus, String) {
        let status = self.process.borrow_mut().terminate();
        (status, self.stderr())
    }
}

/// Booking's input (examples/booking/README.md): `amount` over 1000 is declined.
fn booking(id: &str, amount: u32) -> Value {
    json!({"id": id, "nights": 2, "amount": amount, "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"})
}

fn delivery<'a>(shown: &'a Shown, subscription: &str) -> &'a query::DeliveryTrail {
    shown
        .deliveries
        .iter()
        .find(|d| d.subscription == subscription)
        .unwrap_or_else(|| panic!("no delivery to `{subscription}` in {:#?}", shown.deliveries))
}

#[test]
fn dev_books_per_booking_id_parks_a_ko_and_keeps_a_ledger_per_booking() {
    let dev = Dev::start();
    // Booking ids of this run only (the brokers' contents, if read, are about others).
    let run = format!("t{}-{}", std::process::id(), dev.port);
    let (ok, declined) = (format!("{run}-ok"), format!("{run}-declined"));

    assert_eq!(dev.book(&format!("req-{ok}"), &booking(&ok, 240)).0, 202);
    assert_eq!(
        dev.book(&format!("req-{declined}"), &booking(&declined, 5000))
            .0,
        202
    );
    // The same request again (a sender's retry) is acknowledged, not booked twice.
    let (status, answer) = dev.book(&format!("req-{ok}"), &booking(&ok, 240));
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &json!(true)),
        "{answer}"
    );

    let payment = json!({"id": format!("pay-{ok}"), "type": "payment.captured", "booking_id": ok, "amount": 240});
    let out = dev.events(&["send", "payments", "--data", &payment.to_string()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "events send: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("accepted #"),
        "{}",
        text(&out.stdout)
    );

    // `book` ran Booking for the good booking, once, with Booking's output.
    dev.wait_for("book to finish the good booking", || {
        (dev.rows("book", &ok).iter().any(|r| r.status == "done")).then_some(())
    });
    let rows = dev.rows("book", &ok);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let shown = dev.show(&format!("booking-requests/req-{ok}"));
    assert_eq!(shown.event["key"], json!(ok));
    let booked = delivery(&shown, "book");
    assert_eq!((booked.status.as_str(), booked.attempts), ("done", 1));
    let output = booked.output.as_ref().expect("Booking's output");
    assert_eq!(output["ok"], true);
    assert_eq!(output["reservation"]["id"], json!(ok));
    assert_eq!(
        output["payment"]["transaction"],
        json!(format!("txn-{ok}-24000"))
    );
    assert_eq!(
        output["confirmation"]["reference"],
        json!(format!("conf-{ok}"))
    );
    assert!(booked
        .trace
        .as_ref()
        .is_some_and(|t| t.to_string().contains("ExecutionSucceeded")));

    // The declined booking: three tries, then KO: RecordKo ran, and the key is parked.
    let parked_seq = dev.wait_for("the declined booking to be parked", || {
        query::parked(&dev.log())
            .unwrap()
            .into_iter()
            .find(|(sub, key, _)| sub == "book" && *key == declined)
            .map(|(_, _, seq)| seq)
    });
    let shown = dev.show(&parked_seq.to_string());
    assert_eq!(shown.event["id"], json!(format!("req-{declined}")));
    let failed = delivery(&shown, "book");
    assert_eq!((failed.status.as_str(), failed.attempts), ("parked", 3));
    assert_eq!(failed.error.as_deref(), Some("PaymentFailed"));
    assert!(
        failed
            .cause
            .as_deref()
            .unwrap_or("")
            .contains("PaymentDeclined"),
        "{failed:?}"
    );

    let ko = dev.wait_for("RecordKo to run", || {
        let filter = Filter {
            source: Some("ko:book".into()),
            key: Some(declined.clone()),
            subscription: Some("book:ko".into()),
            status: Some("done".into()),
            ..Filter::default()
        };
        query::list(&dev.log(), &filter).unwrap().into_iter().next()
    });
    let shown = dev.show(&ko.seq.unwrap().to_string());
    assert_eq!(shown.event["data"]["error"], "PaymentFailed");
    assert_eq!(
        shown.event["data"]["event"]["id"],
        json!(format!("req-{declined}"))
    );
    let record = delivery(&shown, "book:ko")
        .output
        .clone()
        .expect("RecordKo's output");
    assert_eq!(record["booking"], json!(declined));
    assert_eq!(record["subscription"], "book");
    assert_eq!(
        record["event"],
        json!(format!("booking-requests/req-{declined}"))
    );
    assert_eq!(
        (record["error"].as_str(), record["attempts"].as_u64()),
        (Some("PaymentFailed"), Some(3))
    );

    // A corrected request for the parked booking waits behind it ...
    assert_eq!(
        dev.book(&format!("req-{declined}-2"), &booking(&declined, 500))
            .0,
        202
    );
    dev.wait_for("ledger to take the corrected request", || {
        dev.rows("ledger", &declined)
            .iter()
            .any(|r| r.id.as_deref() == Some(&format!("req-{declined}-2")) && r.status == "done")
            .then_some(())
    });
    let statuses = |dev: &Dev| -> Vec<(String, String)> {
        dev.rows("book", &declined)
            .into_iter()
            .map(|r| (r.id.unwrap_or_default(), r.status))
            .collect()
    };
    assert_eq!(
        statuses(&dev),
        [
            (format!("req-{declined}"), "parked".into()),
            (format!("req-{declined}-2"), "queued".into())
        ]
    );
    // ... and books once the parked one is skipped.
    let out = dev.events(&["release", "book", &declined, "--skip"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "release: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    dev.wait_for("the corrected request to book", || {
        (statuses(&dev).last().is_some_and(|(_, s)| s == "done")).then_some(())
    });
    assert_eq!(
        statuses(&dev),
        [
            (format!("req-{declined}"), "ko".into()),
            (format!("req-{declined}-2"), "done".into())
        ]
    );
    let corrected = dev.show(&format!("booking-requests/req-{declined}-2"));
    let output = delivery(&corrected, "book").output.clone().unwrap();
    assert_eq!(
        output["confirmation"]["reference"],
        json!(format!("conf-{declined}"))
    );
    assert!(query::parked(&dev.log())
        .unwrap()
        .iter()
        .all(|(_, key, _)| *key != declined));

    // `ledger`: per booking, its events by source, each once, and what they said.
    let ledgers = dev.wait_for("the ledgers", || {
        let states = query::states(&dev.log(), "ledger").unwrap();
        let settled = states.get(&ok).is_some_and(|s| s["events"] == 2)
            && states.get(&declined).is_some_and(|s| s["events"] == 3);
        settled.then_some(states)
    });
    let good = &ledgers[&ok];
    assert_eq!(good["booking"], json!(ok));
    assert_eq!(
        good["by_source"],
        json!({"booking-requests": 1, "payments": 1})
    );
    assert_eq!(
        good["seen"],
        json!([
            format!("booking-requests/req-{ok}"),
            format!("payments/pay-{ok}")
        ])
    );
    assert_eq!(
        (good["guest"].as_str(), good["payment"].as_str()),
        (Some("vip-ann"), Some("payment.captured"))
    );
    assert_eq!(good.get("failed"), None);
    let bad = &ledgers[&declined];
    assert_eq!(
        bad["by_source"],
        json!({"booking-requests": 2, "ko:book": 1})
    );
    assert_eq!(bad["failed"], "PaymentFailed");
    assert!(dev
        .rows("ledger", &ok)
        .iter()
        .chain(&dev.rows("ledger", &declined))
        .all(|r| r.status == "done"));

    // `events ls` shows the same through the CLI.
    let out = dev.events(&["ls", "--key", &declined, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let subscriptions: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["subscription"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        subscriptions.iter().filter(|s| **s == "book").count(),
        2,
        "{listed:#}"
    );
    assert_eq!(
        subscriptions.iter().filter(|s| **s == "book:ko").count(),
        1,
        "{listed:#}"
    );
    assert_eq!(
        subscriptions.iter().filter(|s| **s == "ledger").count(),
        3,
        "{listed:#}"
    );

    let (status, stderr) = dev.stop();
    assert!(
        status.success(),
        "flowctl dev ended with {status}:\n{stderr}"
    );
}
