//! `flowctl test` as a user runs it: the booking example's cases pass with every branch of
//! both flows taken (one case runs the built functions); one changed expected value makes it
//! exit 1 with a diff; `--junit` is XML a parser reads, with the counts CI systems show; a
//! MockConfigFile written as AWS's documentation writes it runs through `--asl`; the cases
//! exported to a MockConfigFile replay on the compiled document; `--init` writes a skeleton
//! that `flowctl test` reads; a bad test file is a located diagnostic.

use flowctl_tests::{booking_copy, flowctl_bin, repo_root, target_dir};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn flowctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(flowctl_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("FLOWCTL_MANIFEST")
        .output()
        .expect("flowctl runs")
}

fn show(o: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", show(o)))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_booking_cases_pass_and_take_every_branch() {
    let dir = booking_copy("booking-test-pass");
    let run = flowctl(&dir, &["test", "--output", "json"]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let report = json(&run);
    assert_eq!(report["ok"], true);
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9, "{report:#}");
    assert!(cases.iter().all(|c| c["verdict"] == "passed"), "{report:#}");
    assert_eq!(report["passed"], 9);
    // The integration case ran the built units (local Lambda processes), not mocks.
    let real = cases
        .iter()
        .find(|c| c["case"].as_str().unwrap().contains("integration"))
        .unwrap();
    assert_eq!(real["output"]["confirmation"]["reference"], "conf-b-5");
    assert_eq!(real["output"]["tier"]["tier"], "gold");
    // Retries and the hour-long wait run on the virtual clock.
    let exhausted = cases
        .iter()
        .find(|c| c["case"].as_str().unwrap().contains("exhausts"))
        .unwrap();
    assert_eq!(exhausted["error"], "PaymentFailed");
    assert!(exhausted["seconds"].as_f64().unwrap() < 1.0);
    let coverage = report["coverage"].as_array().unwrap();
    let by_flow = |flow: &str| coverage.iter().find(|c| c["flow"] == flow).unwrap();
    for flow in ["Booking", "Reprice"] {
        let c = by_flow(flow);
        assert!(c["total"].as_u64().unwrap() > 0, "{c}");
        assert_eq!(c["covered"], c["total"], "{c}");
        assert_eq!(c["missed"], serde_json::json!([]));
    }
    assert_eq!(by_flow("Booking")["total"], 4);
    assert_eq!(by_flow("Reprice")["total"], 8);

    let text = flowctl(&dir, &["test", "Booking"]);
    assert_eq!(text.status.code(), Some(0), "{}", show(&text));
    let out = stdout(&text);
    assert!(
        out.contains("coverage Booking: 4/4 branches taken"),
        "{out}"
    );
    assert!(out.contains("test result: ok. 6 passed; 0 failed"), "{out}");
}

#[test]
fn a_changed_expectation_fails_with_a_diff_and_junit_says_so() {
    let dir = booking_copy("booking-test-fail");
    let file = dir.join("flows/booking.test.yaml");
    let cases = std::fs::read_to_string(&file).unwrap();
    let expected = "        rate: { night: \"2027-03-01\", currency: EUR, rate: 120 }";
    assert!(cases.contains(expected));
    std::fs::write(
        &file,
        cases.replacen(expected, &expected.replace("120", "125"), 1),
    )
    .unwrap();

    let junit = dir.join("report.xml");
    let run = flowctl(
        &dir,
        &[
            "test",
            "--filter",
            "a free room",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let out = stdout(&run);
    assert!(
        out.contains("FAIL  Booking › a free room is quoted"),
        "{out}"
    );
    assert!(out.contains("output (- expected, + actual)"), "{out}");
    let diff_line = |sign: char, text: &str| {
        out.lines()
            .any(|l| l.trim_start().starts_with(sign) && l.trim_end().ends_with(text))
    };
    assert!(diff_line('-', "\"rate\": 125"), "{out}");
    assert!(diff_line('+', "\"rate\": 120"), "{out}");
    assert!(out.contains("trace:"), "{out}");
    assert!(
        out.contains("test result: FAILED. 0 passed; 1 failed"),
        "{out}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("1"));
    assert_eq!(root.attribute("failures"), Some("1"));
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    assert_eq!(suite.attribute("name"), Some("flows/booking.test.yaml"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    let case = suite
        .children()
        .find(|n| n.has_tag_name("testcase"))
        .expect("a testcase");
    assert_eq!(case.attribute("classname"), Some("Booking"));
    assert!(case.attribute("time").is_some());
    let failure = case
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert!(failure.attribute("message").unwrap().contains("output"));
    assert!(failure.text().unwrap_or_default().contains("\"rate\": 125"));
}

#[test]
fn a_mock_config_file_as_aws_documents_it_runs_through_asl() {
    let fixtures = repo_root().join("tests/fixtures/mock-config");
    let run = flowctl(
        &fixtures,
        &[
            "test",
            "--asl",
            "LambdaSQSIntegration.asl.json",
            "--mock-config",
            "MockConfigFile.json",
            "--input",
            r#"{"order": 7}"#,
            "--output",
            "json",
        ],
    );
    // HybridPath leaves SQSState unmocked, as AWS's example does to call the real queue:
    // here nothing real runs, so that case cannot run as written.
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let report = json(&run);
    let case = |name: &str| {
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["case"] == name)
            .unwrap_or_else(|| panic!("no case {name}: {report:#}"))
            .clone()
    };
    let happy = case("HappyPath");
    assert_eq!(happy["verdict"], "passed");
    assert_eq!(happy["status"], "SUCCEEDED");
    assert_eq!(
        happy["output"]["MessageId"],
        "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"
    );
    // "0" throws, "1-2" throw, "3" returns: four attempts of LambdaState, inside its Retry.
    let retry = case("RetryPath");
    assert_eq!(retry["verdict"], "passed");
    assert_eq!(retry["status"], "SUCCEEDED");
    let lambda_attempts = retry["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| *c == "LambdaState")
        .count();
    assert_eq!(lambda_attempts, 4, "{retry:#}");
    let hybrid = case("HybridPath");
    assert_eq!(hybrid["verdict"], "error");
    assert!(
        hybrid["problems"][0].as_str().unwrap().contains("SQSState"),
        "{hybrid:#}"
    );
}

#[test]
fn exported_cases_replay_on_the_compiled_document() {
    let dir = booking_copy("booking-test-export");
    let config = dir.join("mock-config.json");
    let run = flowctl(
        &dir,
        &[
            "test",
            "Booking",
            "--filter",
            "declined",
            "--export-mock-config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let compiled = flowctl(&dir, &["compile", "Booking"]);
    assert_eq!(compiled.status.code(), Some(0), "{}", show(&compiled));
    std::fs::write(dir.join("booking.asl.json"), &compiled.stdout).unwrap();
    let input = r#"{"id": "b-3", "guest": "ada", "arrival": "2027-03-01", "currency": "EUR", "nights": 2, "amount": 5000}"#;
    let replay = flowctl(
        &dir,
        &[
            "test",
            "--asl",
            "booking.asl.json",
            "--mock-config",
            config.to_str().unwrap(),
            "--input",
            input,
            "--output",
            "json",
        ],
    );
    assert_eq!(replay.status.code(), Some(0), "{}", show(&replay));
    let report = json(&replay);
    let case = &report["cases"][0];
    assert_eq!(case["status"], "FAILED");
    assert_eq!(case["error"], "PaymentFailed");
    assert_eq!(
        case["calls"],
        serde_json::json!([
            "fused QuoteRate + LookupLoyalty + ReserveAvailability",
            "payment = ProcessPayment",
            "_ = ReleaseReservation"
        ])
    );
}

#[test]
fn init_writes_a_skeleton_that_flowctl_test_reads() {
    let dir = booking_copy("booking-test-init");
    let file = dir.join("flows/booking.test.yaml");
    let refused = flowctl(&dir, &["test", "--init", "Booking"]);
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    std::fs::remove_file(&file).unwrap();
    let init = flowctl(&dir, &["test", "--init", "Booking"]);
    assert_eq!(init.status.code(), Some(0), "{}", show(&init));
    let skeleton = std::fs::read_to_string(&file).unwrap();
    assert!(skeleton.contains("flow: Booking"), "{skeleton}");
    // One case per path `flowctl plan` lists for the flow: booked, payment caught, no room.
    assert_eq!(skeleton.matches("  - name: ").count(), 3, "{skeleton}");
    assert!(skeleton.contains("error: 'NotAvailable'"), "{skeleton}");
    let run = flowctl(&dir, &["test", "Booking", "--output", "json"]);
    // Placeholder answers do not make a booking: the skeleton runs, and says what to fill in.
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let report = json(&run);
    assert_eq!(report["cases"].as_array().unwrap().len(), 3);
}

#[test]
fn a_bad_test_file_is_a_located_diagnostic() {
    let dir = booking_copy("booking-test-bad");
    let file = dir.join("flows/reprice.test.yaml");
    let cases = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, cases.replacen("LookupLoyalty:", "LookupLoyalt:", 1)).unwrap();
    let run = flowctl(&dir, &["test"]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("reprice.test.yaml:8:7"), "{err}");
    assert!(err.contains("did you mean `LookupLoyalty`?"), "{err}");
}
