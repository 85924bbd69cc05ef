//! `flowctl new` as a user runs it: each template rendered into a temporary directory must
//! pass `flowctl check` and `flowctl fmt --check`, run with `flowctl invoke` at once (which
//! builds its functions crate in release), and pass its own `flowctl test` cases with every
//! branch of its flows taken; bad names and occupied directories are refused.
//!
//! The release builds use the workspace's target directory (or `CARGO_TARGET_DIR`) and the
//! workspace's `Cargo.lock`, copied into the new project: the dependencies are then the very
//! ones `tests/build.rs` and the booking example build with the same release settings
//! (flowctl adds them itself), so CI compiles them once and the test only compiles the
//! template's own crate.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo().join("target"),
    }
}

/// Runs `flowctl args…` in `dir`, without colours, with the shared target directory.
fn flowctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("FLOWCTL_MANIFEST")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        stdout(o),
        stderr(o)
    )
}

/// `flowctl new NAME --template T` in a fresh temporary directory; returns it and the project.
fn new_project(name: &str, template: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = flowctl(tmp.path(), &["new", name, "--template", template]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let project = tmp.path().join(name);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("created {template} project `{name}`")),
        "{text}"
    );
    assert!(text.contains(&format!("cd {name}\n")), "{text}");
    // The workspace's lock file: the dependency versions CI has already built.
    std::fs::copy(repo().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    (tmp, project)
}

/// `flowctl check` and `flowctl fmt --check` accept a project as `flowctl new` wrote it, and
/// its functions crate depends on this checkout's flowctl-shim.
fn assert_clean(project: &Path, name: &str) {
    let out = flowctl(project, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = flowctl(project, &["fmt", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let cargo = std::fs::read_to_string(project.join("functions/Cargo.toml")).unwrap();
    assert!(
        cargo.contains(&format!("name = \"{name}-functions\"")),
        "{cargo}"
    );
    let shim = std::fs::canonicalize(repo().join("lambda-shim")).unwrap();
    assert!(
        cargo.contains(&format!(
            "flowctl-shim = {{ path = \"{}\" }}",
            shim.display()
        )),
        "{cargo}"
    );
}

fn invoke(project: &Path, flow: &str, input: &Value, extra: &[&str]) -> Output {
    let input = input.to_string();
    let mut args = vec!["invoke", flow, "--input", input.as_str()];
    args.extend_from_slice(extra);
    flowctl(project, &args)
}

/// `flowctl test --output json` in a project as `flowctl new` wrote it: every case of its test
/// files passes (the mocked ones and the `real: true` one, which runs the built functions) and
/// they take every branch of every flow; `flows` are the flows that must have cases.
fn assert_tests_pass_with_full_coverage(project: &Path, flows: &[&str]) {
    let out = flowctl(project, &["test", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["errors"], 0, "{report:#}");
    let cases = report["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "{report:#}");
    assert_eq!(report["passed"], cases.len(), "{report:#}");
    for case in cases {
        assert_eq!(case["verdict"], "passed", "{case:#}");
    }
    for flow in flows {
        assert!(
            cases.iter().any(|c| c["flow"] == *flow),
            "no case of {flow}: {report:#}"
        );
    }
    let coverage = report["coverage"].as_array().unwrap();
    assert_eq!(coverage.len(), flows.len(), "{report:#}");
    for flow in coverage {
        assert_eq!(flow["has_cases"], true, "{flow:#}");
        let total = flow["total"].as_u64().unwrap();
        assert!(total > 0, "{flow:#}");
        assert_eq!(flow["covered"].as_u64().unwrap(), total, "{flow:#}");
        assert_eq!(flow["missed"], json!([]), "{flow:#}");
    }
}

#[test]
fn the_basic_template_checks_builds_and_runs() {
    let (_tmp, project) = new_project("newtest-basic", "basic");
    assert_clean(&project, "newtest-basic");

    // The first invoke builds the functions crate (release), then runs the flow.
    let out = invoke(&project, "Main", &json!({"name": "  ada   lovelace "}), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, json!({"message": "Hello, Ada Lovelace!"}));

    // The else branch.
    let out = invoke(&project, "Main", &json!({"name": "42"}), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr(&out).contains("InvalidName in state `fail InvalidName`"),
        "{}",
        show(&out)
    );

    // Its test cases pass and take both ways of the `if`.
    assert_tests_pass_with_full_coverage(&project, &["Main"]);
}

#[test]
fn the_saga_template_checks_builds_runs_and_compensates() {
    let (_tmp, project) = new_project("newtest-saga", "saga");
    assert_clean(&project, "newtest-saga");
    let trip = |changes: Value| {
        let mut input = json!({"trip": "t-1", "from": "LHR", "to": "Lisbon", "nights": 3, "amount": 900, "travellers": ["Ada", "Grace"]});
        input
            .as_object_mut()
            .unwrap()
            .extend(changes.as_object().unwrap().clone());
        input
    };

    let out = invoke(&project, "Trip", &trip(json!({})), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output["flight"]["reference"], "FL-t-1", "{output}");
    assert_eq!(output["hotel"]["reference"], "HT-t-1", "{output}");
    // CURRENCY comes from the manifest's `env` for ChargeCard.
    assert_eq!(
        output["payment"],
        json!({"trip": "t-1", "amount": 900.0, "currency": "EUR", "transaction": "TX-t-1-90000"})
    );
    let confirmations = output["confirmations"].as_array().unwrap();
    assert_eq!(confirmations.len(), 2, "{output}");
    assert_eq!(confirmations[1]["traveller"], "Grace");

    // The card is declined: the hotel and the flight are cancelled, in parallel, and the trip
    // fails with the flow's own error, the decline as its cause.
    let declined = trip(json!({"amount": 9000}));
    let out = invoke(
        &project,
        "Trip",
        &declined,
        &["--output", "json", "--trace"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"], "PaymentFailed", "{report}");
    assert!(
        report["cause"]
            .as_str()
            .unwrap()
            .contains("PaymentDeclined"),
        "{report}"
    );
    let entered: Vec<&str> = report["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_str().unwrap().ends_with("StateEntered"))
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    for state in [
        "payment = ChargeCard",
        "_ = parallel",
        "hotel_cancelled = CancelHotel",
        "flight_cancelled = CancelFlight",
        "fail PaymentFailed",
    ] {
        assert!(entered.contains(&state), "{state} not in {entered:?}");
    }
    assert!(!entered.iter().any(|s| s.contains("SendConfirmation")));

    // No room: only the flight is cancelled.
    let out = invoke(&project, "Trip", &trip(json!({"nights": 30})), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stderr(&out).contains("HotelFailed"), "{}", show(&out));
    assert!(stderr(&out).contains("NoRooms"), "{}", show(&out));

    // Its test cases pass and take every catch, exhausted retry, parallel branch and map body.
    assert_tests_pass_with_full_coverage(&project, &["Trip"]);
}

#[test]
fn bad_names_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, says) in [
        ("my app", "try `my-app`"),
        ("2fast", "must start with a letter"),
        ("null", "YAML"),
        (&"x".repeat(60), "shorter"),
    ] {
        let out = flowctl(tmp.path(), &["new", name]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", show(&out));
        assert!(
            stderr(&out).contains("cannot name a project"),
            "{}",
            show(&out)
        );
        assert!(stderr(&out).contains(says), "{name}: {}", show(&out));
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    let out = flowctl(tmp.path(), &["new", "ok-name", "--template", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn an_occupied_directory_is_left_alone_and_an_empty_one_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = tmp.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("notes.txt"), "mine").unwrap();
    let out = flowctl(tmp.path(), &["new", "taken"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stderr(&out).contains("already exists and is not empty"),
        "{}",
        show(&out)
    );
    let out = flowctl(tmp.path(), &["new", "other", "--dir", "taken"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let left: Vec<_> = std::fs::read_dir(&taken).unwrap().collect();
    assert_eq!(left.len(), 1);
    assert_eq!(
        std::fs::read_to_string(taken.join("notes.txt")).unwrap(),
        "mine"
    );

    // A file in the way.
    std::fs::write(tmp.path().join("file"), "").unwrap();
    let out = flowctl(tmp.path(), &["new", "file"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains("not a directory"), "{}", show(&out));

    // An empty directory, given with --dir, is filled; the next steps `cd` there.
    std::fs::create_dir(tmp.path().join("empty dir")).unwrap();
    let out = flowctl(
        tmp.path(),
        &["new", "filled", "--dir", "empty dir", "--template", "saga"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).contains("cd 'empty dir'"), "{}", show(&out));
    assert!(
        stdout(&out).contains("flowctl invoke Trip --input '{"),
        "{}",
        show(&out)
    );
    let manifest = std::fs::read_to_string(tmp.path().join("empty dir/flowctl.yaml")).unwrap();
    assert!(manifest.contains("project: filled\n"), "{manifest}");
}

#[test]
fn the_shim_path_can_be_given_and_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = flowctl(
        tmp.path(),
        &["new", "app", "--shim-path", tmp.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stderr(&out).contains("no flowctl-shim package there"),
        "{}",
        show(&out)
    );
    assert!(!tmp.path().join("app").exists());

    let shim = repo().join("lambda-shim");
    let out = flowctl(
        tmp.path(),
        &[
            "new",
            "app",
            "--shim-path",
            shim.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["template"], "basic");
    assert_eq!(
        report["flowctl_shim"]["path"],
        std::fs::canonicalize(&shim).unwrap().to_str().unwrap()
    );
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&"functions/src/main.rs"), "{files:?}");
    for file in files {
        assert!(tmp.path().join("app").join(file).is_file(), "{file}");
    }
}
