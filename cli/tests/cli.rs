//! The `flowctl` binary as a user runs it: exit codes, text and JSON output.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `flowctl args…` in `dir` without colours.
fn flowctl_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLOWCTL_MANIFEST")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap()
}

fn flowctl(args: &[&str]) -> Output {
    flowctl_in(&repo(), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temporary project with one flow calling `Reserve`.
fn project(flow: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::write(
        dir.path().join("flowctl.yaml"),
        "project: demo\nfunctions:\n  Reserve: { package: demo-functions }\nflows:\n  Main: { source: flows/main.flow }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("flows/main.flow"), flow).unwrap();
    dir
}

#[test]
fn check_passes_on_the_example() {
    let out = flowctl(&["check", "-m", "examples/booking/flowctl.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 flow(s), 7 function(s), no problems"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_finds_the_manifest_upwards() {
    let out = flowctl_in(&repo().join("examples/booking/flows"), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn check_reports_every_problem_with_place_and_fix_and_exits_1() {
    let dir =
        project("flow Main(input) {\n  r = Reserv(input)\n  x = Reserve(nope)\n  return(r)\n}\n");
    let out = flowctl_in(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error[C001]: unknown function `Reserv`"),
        "{err}"
    );
    assert!(err.contains("flows/main.flow:2:7"), "{err}");
    assert!(err.contains("help: did you mean `Reserve`?"), "{err}");
    assert!(
        err.contains("error[C003]: unknown variable `nope`"),
        "{err}"
    );
    assert!(err.contains("2 error(s) found"), "{err}");
}

#[test]
fn check_json_gives_file_line_column_code() {
    let dir = project("flow Main(input) {\n  r = Reserv(input)\n  return(r)\n}\n");
    let out = flowctl_in(dir.path(), &["check", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["errors"], 1);
    let d = &report["diagnostics"][0];
    assert_eq!(d["file"], "flows/main.flow");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(7))
    );
    assert_eq!(d["code"], "C001");
    assert_eq!(d["hint"], "did you mean `Reserve`?");
}

#[test]
fn usage_and_environment_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = flowctl_in(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no flowctl.yaml"), "{}", stderr(&out));
    assert_eq!(flowctl(&["check", "--bogus"]).status.code(), Some(2));
    assert_eq!(
        flowctl(&["check", "-m", "nope/flowctl.yaml"]).status.code(),
        Some(2)
    );
}

#[test]
fn fmt_check_accepts_the_examples_and_rejects_a_messy_file() {
    let out = flowctl(&["fmt", "--check", "-m", "examples/booking/flowctl.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let dir = project("flow Main(input){\nr=Reserve(input)\n    return(r)}\n");
    let out = flowctl_in(dir.path(), &["fmt", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("not formatted"), "{}", stdout(&out));
    let out = flowctl_in(dir.path(), &["fmt"]);
    assert_eq!(out.status.code(), Some(0));
    let formatted = std::fs::read_to_string(dir.path().join("flows/main.flow")).unwrap();
    assert_eq!(
        formatted,
        "flow Main(input) {\n  r = Reserve(input)\n  return(r)\n}\n"
    );
    assert_eq!(
        flowctl_in(dir.path(), &["fmt", "--check"]).status.code(),
        Some(0)
    );
}

#[test]
fn fmt_refuses_a_broken_file_and_leaves_it_alone() {
    let src = "flow Main(input) {\n  r = Reserve(input\n}\n";
    let dir = project(src);
    let out = flowctl_in(dir.path(), &["fmt"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flows/main.flow")).unwrap(),
        src
    );
}

#[test]
fn graph_draws_mermaid_and_dot() {
    let out = flowctl(&["graph", "Booking", "-m", "examples/booking"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("flowchart TD"), "{}", stdout(&out));
    assert!(stdout(&out).contains("ReserveAvailability"));
    let out = flowctl(&[
        "graph",
        "Booking",
        "--format",
        "dot",
        "-m",
        "examples/booking",
    ]);
    assert!(stdout(&out).starts_with("digraph"), "{}", stdout(&out));
    let out = flowctl(&["graph", "Bokking", "-m", "examples/booking"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `Booking`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn schema_is_a_json_schema_of_the_manifest() {
    let out = flowctl(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    let props = schema["properties"].as_object().unwrap();
    for key in ["project", "functions", "flows", "deploy"] {
        assert!(props.contains_key(key), "{key} missing from {schema}");
    }
}

#[test]
fn completions_for_bash() {
    let out = flowctl(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("flowctl"));
}

#[test]
fn compile_prints_the_state_machine() {
    let out = flowctl(&["compile", "Booking", "-m", "examples/booking/flowctl.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["StartAt"], "Start");
    // The colocation plan puts every function but the isolated ProcessPayment in the
    // `reservations` unit, and the adjacent calls to them before and after the payment
    // become one Task each.
    let unit_of =
        |doc: &Value, state: &str| doc["States"][state]["Parameters"]["FunctionName"].clone();
    assert_eq!(
        unit_of(
            &doc,
            "fused QuoteRate + LookupLoyalty + ReserveAvailability"
        ),
        "${unit:reservations}"
    );
    assert_eq!(
        unit_of(&doc, "fused ConfirmReservation + NotifyGuest"),
        "${unit:reservations}"
    );
    assert_eq!(
        unit_of(&doc, "payment = ProcessPayment"),
        "${unit:ProcessPayment}"
    );
    assert!(doc["States"]
        .get("reservation = ReserveAvailability")
        .is_none());
    // Without fusion every call is a Task of its own, in the same units.
    let unfused = flowctl(&[
        "compile",
        "Booking",
        "--no-fuse",
        "-m",
        "examples/booking/flowctl.yaml",
    ]);
    assert_eq!(unfused.status.code(), Some(0), "{}", stderr(&unfused));
    let unfused: Value = serde_json::from_slice(&unfused.stdout).unwrap();
    assert_eq!(
        unit_of(&unfused, "reservation = ReserveAvailability"),
        "${unit:reservations}"
    );
    // Byte-stable: a second run prints the same bytes.
    assert_eq!(
        flowctl(&["compile", "Booking", "-m", "examples/booking/flowctl.yaml"]).stdout,
        out.stdout
    );
}

#[test]
fn compile_refuses_a_flow_with_errors() {
    let dir = project("flow Main(input) {\n  r = Reserv(input)\n  return(r)\n}\n");
    let out = flowctl_in(dir.path(), &["compile", "Main"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error[C001]"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn build_asl_only_writes_every_flow() {
    let dir = project("flow Main(input) {\n  r = Reserve(input)\n  return(r)\n}\n");
    let out = flowctl_in(dir.path(), &["build", "--asl-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = dir.path().join("target/flowctl/demo/flows/Main.asl.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    assert_eq!(doc["States"]["r = Reserve"]["Type"], "Task");
    let compiled = flowctl_in(dir.path(), &["compile", "Main"]);
    assert_eq!(
        std::fs::read(&written).unwrap(),
        compiled.stdout,
        "build and compile agree byte for byte"
    );
}

#[test]
fn build_zips_functions_in_other_languages_without_cargo() {
    // A temporary directory is outside any cargo workspace: cargo must not be needed.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in [
        "flows",
        "fns/score/__pycache__",
        "fns/mail/node_modules/dep",
        "fns/resize",
    ] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(
        root.join("flowctl.yaml"),
        "project: poly
functions:
  Score: { runtime: python3.12, handler: app.handler, source: fns/score }
  Mail: { runtime: nodejs22.x, handler: index.handler, source: fns/mail, memory: 256 }
  Resize: { runtime: provided.al2023, source: fns/resize }
flows:
  Main: { source: flows/main.flow }
",
    )
    .unwrap();
    std::fs::write(
        root.join("flows/main.flow"),
        "flow Main(input) {\n  s = Score(input)\n  m = Mail(s)\n  return(m)\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("fns/score/app.py"),
        "def handler(event, context):\n    return event\n",
    )
    .unwrap();
    std::fs::write(
        root.join("fns/score/__pycache__/app.cpython-312.pyc"),
        "cache",
    )
    .unwrap();
    std::fs::write(
        root.join("fns/mail/index.mjs"),
        "export const handler = async (e) => e;\n",
    )
    .unwrap();
    std::fs::write(
        root.join("fns/mail/node_modules/dep/index.js"),
        "module.exports = 1;\n",
    )
    .unwrap();
    std::fs::write(root.join("fns/resize/bootstrap"), "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let bootstrap = root.join("fns/resize/bootstrap");
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let out = flowctl_in(root, &["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out_dir = root.join("target/flowctl/poly");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("build.json")).unwrap())
            .unwrap();
    let units: Vec<(&str, &str, &str)> = record["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            assert!(
                u.get("package").is_none() && u.get("bootstrap").is_none(),
                "{u}"
            );
            (
                u["name"].as_str().unwrap(),
                u["runtime"].as_str().unwrap(),
                u["handler"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        units,
        [
            ("Score", "python3.12", "app.handler"),
            ("Mail", "nodejs22.x", "index.handler"),
            ("Resize", "provided.al2023", "bootstrap"),
        ]
    );
    assert_eq!(record["units"][1]["source"], "fns/mail");
    let zip = std::fs::read(out_dir.join("units/Mail/Mail.zip")).unwrap();
    let text = String::from_utf8_lossy(&zip);
    assert!(text.contains("node_modules/dep/index.js") && text.contains("index.mjs"));
    let score = std::fs::read(out_dir.join("units/Score/Score.zip")).unwrap();
    assert!(!String::from_utf8_lossy(&score).contains("__pycache__"));

    // A second build of the same files makes the same packages.
    let again = flowctl_in(root, &["build"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("unchanged Score (python3.12)"),
        "{}",
        stderr(&again)
    );
    let record_again = std::fs::read_to_string(out_dir.join("build.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&record_again).unwrap(),
        record
    );

    let plan = flowctl_in(root, &["plan", "--explain"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let explained = format!("{}{}", stdout(&plan), stderr(&plan));
    assert!(
        explained.contains("`runtime: python3.12`: never shares a Lambda"),
        "{explained}"
    );
}

/// Writes a state machine document into a temporary directory.
fn asl_file(doc: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("machine.asl.json");
    std::fs::write(&path, doc).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

const CHOOSE: &str = r#"{
  "StartAt": "Pick",
  "States": {
    "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}], "Default": "Small"},
    "Big": {"Type": "Pass", "Parameters": {"size": "big", "n.$": "$.n"}, "End": true},
    "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "n must be above 10"}
  }
}"#;

#[test]
fn invoke_runs_a_state_machine_document() {
    let (_dir, path) = asl_file(CHOOSE);
    let out = flowctl(&["invoke", "--asl", &path, "--input", r#"{"n": 42}"#]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, serde_json::json!({"size": "big", "n": 42}));
}

#[test]
fn invoke_reports_a_failed_execution_with_error_cause_and_state() {
    let (_dir, path) = asl_file(CHOOSE);
    let out = flowctl(&[
        "invoke",
        "--asl",
        &path,
        "--input",
        r#"{"n": 1}"#,
        "--trace",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("TooSmall in state `Small`"), "{err}");
    assert!(err.contains("cause: n must be above 10"), "{err}");
    assert!(
        err.contains("Pick  Choice"),
        "the trace lists the states: {err}"
    );
    let out = flowctl(&[
        "invoke",
        "--asl",
        &path,
        "--input",
        r#"{"n": 1}"#,
        "--output",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["status"].as_str(), report["error"].as_str()),
        (Some("FAILED"), Some("TooSmall"))
    );
    assert_eq!(report["failed_state"], "Small");
}

#[test]
fn invoke_rejects_bad_documents_and_bad_input_before_running() {
    let (_dir, path) =
        asl_file(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Nxt": "B", "End": true}}}"#);
    let out = flowctl(&["invoke", "--asl", &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("A`, field `Nxt`: unknown field; did you mean `Next`?"),
        "{}",
        stderr(&out)
    );
    let (_dir, path) = asl_file(CHOOSE);
    let out = flowctl(&["invoke", "--asl", &path, "--input", "{n: 1}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not JSON"), "{}", stderr(&out));
}

#[test]
fn invoke_enforces_step_functions_payload_quota() {
    // A Pass state whose output is 300 KB fails as on AWS, whatever its Catch says.
    let big = "x".repeat(300 * 1024);
    let doc = format!(
        r#"{{"StartAt": "P", "States": {{"P": {{"Type": "Parallel", "Branches": [{{"StartAt": "Big", "States": {{"Big": {{"Type": "Pass", "Result": "{big}", "End": true}}}}}}], "Catch": [{{"ErrorEquals": ["States.ALL"], "Next": "H"}}], "End": true}}, "H": {{"Type": "Pass", "End": true}}}}}}"#
    );
    let (dir, path) = asl_file(&doc);
    let out = flowctl(&["invoke", "--asl", &path, "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"], "States.DataLimitExceeded");
    assert_eq!(report["failed_state"], "Big");
    // An input over the quota is refused before anything runs (exit 2, like input that is not
    // JSON).
    let input = dir.path().join("input.json");
    std::fs::write(&input, serde_json::json!({ "s": big }).to_string()).unwrap();
    let (_dir, path) = asl_file(CHOOSE);
    let out = flowctl(&[
        "invoke",
        "--asl",
        &path,
        "--input",
        &format!("@{}", input.display()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("over 262144 bytes") && err.contains("Nothing was run"),
        "{err}"
    );
}

#[test]
fn invoke_runs_a_project_flow() {
    let dir = project("flow Main(input) {\n  if gt(input.n, 10) {\n    return({\"big\": input.n})\n  }\n  fail(\"TooSmall\", \"n must be above 10\")\n}\n");
    let out = flowctl_in(dir.path(), &["invoke", "Main", "--input", r#"{"n": 11}"#]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!({"big": 11})
    );
    let out = flowctl_in(dir.path(), &["invoke", "Main", "--input", r#"{"n": 1}"#]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("TooSmall"), "{}", stderr(&out));
}

#[test]
fn invoke_builds_the_functions_it_calls_and_says_when_it_cannot() {
    // No cargo project around the functions: nothing to build them from (exit 2, says why).
    let dir = project("flow Main(input) {\n  r = Reserve(input)\n  return(r)\n}\n");
    let out = flowctl_in(dir.path(), &["invoke", "Main"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no Cargo.toml"), "{}", stderr(&out));
    // A binary given on the command line is used as it is: here one that is not a Lambda
    // runtime at all, which Lambda would report as a runtime exit.
    let out = flowctl_in(
        dir.path(),
        &["invoke", "Main", "--function-binary", "Reserve=/bin/true"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Runtime.ExitError"),
        "{}",
        stderr(&out)
    );
}

/// The README's main job: the booking flow on the local engine over the example's built
/// function binaries (`flowctl invoke` builds them first), on each of its paths.
#[test]
fn main_job_runs_the_booking_flow_on_built_binaries() {
    let run = |input: &str| {
        flowctl(&[
            "invoke",
            "Booking",
            "-m",
            "examples/booking/flowctl.yaml",
            "--input",
            input,
        ])
    };
    let out = run(
        r#"{"id": "b-1", "nights": 2, "amount": 120, "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"}"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output["ok"], true);
    assert_eq!(output["reservation"]["status"], "available");
    assert_eq!(output["payment"]["status"], "charged");
    assert_eq!(output["confirmation"]["status"], "confirmed");
    assert_eq!(output["confirmation"]["reference"], "conf-b-1");
    assert_eq!(output["rate"]["rate"], 120.0);
    assert_eq!(output["tier"]["tier"], "gold");

    let out = run(
        r#"{"id": "full-1", "nights": 2, "amount": 120, "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"}"#,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("NotAvailable in state `fail NotAvailable`"),
        "{}",
        stderr(&out)
    );

    // Declined: the catch releases the room and the flow fails with PaymentFailed.
    let out = flowctl(&[
        "invoke",
        "Booking",
        "-m",
        "examples/booking/flowctl.yaml",
        "--output",
        "json",
        "--trace",
        "--input",
        r#"{"id": "b-2", "nights": 2, "amount": 5000, "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"}"#,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"], "PaymentFailed");
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
    assert_eq!(
        entered,
        [
            "Start",
            "fused QuoteRate + LookupLoyalty + ReserveAvailability",
            "if reservation.status == 'available' and exists(reservation.room)",
            "payment = ProcessPayment",
            "_ = ReleaseReservation",
            "fail PaymentFailed"
        ],
        "the quote, the loyalty lookup and the hold are one fused Task"
    );
}

/// `flowctl … | head -c 10`, with the reader gone before the first byte: every command that
/// answers on stdout stops quietly with 0, as ripgrep does, instead of panicking.
#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let booking = "examples/booking";
    for args in [
        &["plan", "-m", booking, "--output", "json"][..],
        &["plan", "-m", booking],
        &["check", "-m", booking],
        &["check", "-m", booking, "--output", "json"],
        &["compile", "-m", booking, "Booking"],
        &["graph", "-m", booking, "Booking"],
        &["schema"],
        &["completions", "bash"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_flowctl"))
            .args(args)
            .current_dir(repo())
            .env("NO_COLOR", "1")
            .env_remove("FLOWCTL_MANIFEST")
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        // Only the note that the check is untyped (whether the example was built before this
        // test depends on the order tests run in) may be on stderr.
        let stderr = stderr(&out);
        assert!(
            stderr
                .lines()
                .all(|l| l.starts_with("note: no registry from a build")),
            "{args:?}: {stderr}"
        );
    }
}

/// An error says each cause once: the OS error is not repeated after the message that holds it.
#[test]
fn an_unreadable_manifest_names_the_os_error_once() {
    let out = flowctl(&["check", "-m", "/nonexistent/flowctl.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("cannot read /nonexistent/flowctl.yaml"),
        "{err}"
    );
    assert_eq!(err.matches("(os error 2)").count(), 1, "{err}");
}

/// Hostile nesting ends in a located diagnostic (exit 1) or a clear refusal (exit 2), never a
/// stack overflow: the two regression flows of `cases/` through the binary, and a document
/// 5,000 levels deep given to `invoke --asl`.
#[test]
fn deep_nesting_is_refused_with_a_reason_not_a_crash() {
    for case in [
        "flow-condition-nested-10000-deep.flow",
        "flow-argument-nested-100000-deep.flow",
    ] {
        let flow = std::fs::read_to_string(repo().join("cli/tests/cases").join(case)).unwrap();
        let dir = project(&flow.replace("ReserveAvailability", "Reserve"));
        let out = flowctl_in(dir.path(), &["check"]);
        assert_eq!(out.status.code(), Some(1), "{case}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("error[F019]: nested too deeply"),
            "{case}: {err}"
        );
        assert!(err.contains("flows/main.flow:66:1"), "{case}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.asl.json");
    let value = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    std::fs::write(
        &deep,
        format!(r#"{{"StartAt": "P", "States": {{"P": {{"Type": "Pass", "Result": {value}, "End": true}}}}}}"#),
    )
    .unwrap();
    let out = flowctl(&["invoke", "--asl", deep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nests more than 127 levels deep"),
        "{}",
        stderr(&out)
    );
}
