//! What the `flowctl-testing` fuzz targets run (`fuzz/fuzz_targets/test_file.rs` and
//! `mock_config.rs`), in one place so that `cli/tests/fuzz_corpus.rs` replays their seed
//! corpora through exactly the same calls on every `cargo test` (both include this file with
//! `#[path]`: `flowctl-testing` has no `fuzzing` module of its own). Each function takes any
//! bytes and must never panic.

use flowctl_testing::{cases, mock_config, snapshot::Snapshots};

/// The flow the fuzzed test files sit beside (`flow:` naming another one is T007).
pub const FLOW: &str = "Booking";

/// The project's function keys: every function the example's and the templates' test files
/// mock, so that the real files (the seeds) get past T008 into the deeper checks.
pub const FUNCTIONS: &[&str] = &[
    "QuoteRate",
    "LookupLoyalty",
    "ReserveAvailability",
    "ProcessPayment",
    "ConfirmReservation",
    "ReleaseReservation",
    "NotifyGuest",
    "Greet",
    "Normalize",
    "BookFlight",
    "BookHotel",
    "CancelFlight",
    "CancelHotel",
    "ChargeCard",
    "SendConfirmation",
];

/// The states `MockConfig::check` checks test cases against (those of
/// `tests/fixtures/mock-config/LambdaSQSIntegration.asl.json`, and a few more).
pub const STATES: &[&str] = &["LambdaState", "SQSState", "Map", "Parallel", "Task"];

/// A test file: read any text (lossy UTF-8) as `<FLOW>.test.yaml` of a project with
/// [`FUNCTIONS`]; for a file that parses, ask every mock for its first, a far and the last
/// call's answer and the error a thrown answer gives. The same text is also read as a snapshot
/// file (`<flow>.test.snap.json`), and a snapshot file that reads is written back and must read
/// again (`flowctl test --update` writes what the next run reads).
pub fn test_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let functions: Vec<String> = FUNCTIONS.iter().map(|f| f.to_string()).collect();
    if let Ok(file) = cases::parse(&text, FLOW, &functions) {
        for case in &file.cases {
            for mock in case.mocks.values() {
                let calls = mock.calls();
                for call in [0, 1, u64::from(u32::MAX), u64::MAX] {
                    if let Some(answer) = mock.answer(call) {
                        let _ = answer.result();
                    }
                }
                if let Some(calls) = calls {
                    let _ = mock.answer(calls.saturating_sub(1));
                    let _ = mock.answer(calls);
                }
            }
            let _ = case.expect.expects_failure();
        }
    }
    if let Ok(mut snapshots) = Snapshots::parse(&text) {
        let written = snapshots.to_text();
        assert!(
            Snapshots::parse(&written).is_ok(),
            "a snapshot file as written does not read back"
        );
        // `--update`: record a case's output under another case, drop the cases no longer in
        // the test file.
        let outputs = Snapshots::parse(&written).unwrap_or_default();
        if let Some(output) = outputs.get("case 0").or_else(|| outputs.get("")) {
            snapshots.record("case 1", output.clone());
        }
        let _ = snapshots.retain(["case 1", "case 2"]);
        let _ = snapshots.changed();
    }
}

/// A MockConfigFile: parse any text (lossy UTF-8); for a file that parses, check it against
/// every state machine it names and one it lacks (with [`STATES`]), ask every mocked response
/// for its answers at the edges of its invocations, and build the mocks of every test case.
pub fn mock_config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(config) = mock_config::parse(&text) else {
        return;
    };
    let states: Vec<String> = STATES.iter().map(|s| s.to_string()).collect();
    let _ = config.check("NoSuchMachine", &states);
    for response in config.responses.values() {
        let calls = response.calls();
        for call in [0, 1, calls.saturating_sub(1), calls, u64::MAX] {
            let _ = response.answer(call);
        }
    }
    for (name, machine) in &config.state_machines {
        let _ = config.check(name, &states);
        for case in machine.test_cases.keys() {
            if let Some(mocks) = config.state_mocks(name, case) {
                let _ = mocks.calls();
                let _ = mocks.problems();
            }
        }
        let _ = config.state_mocks(name, "NoSuchCase");
    }
}
