use super::*;
use crate::cases::{self, TestFile};
use flowctl_lang::asl::CompileOptions;
use serde_json::json;
use std::sync::Arc;

use crate::test_support::{booking_functions as functions, BOOKING_FUNCTIONS as FUNCTIONS};

/// The booking example compiled with `options`, its unit placeholders resolved to unit
/// names, and the units as the CLI passes them.
fn booking_with(options: CompileOptions) -> (StateMachine, Vec<(String, Vec<String>)>) {
    let doc = crate::test_support::booking_with(&options);
    let mut units: Vec<(String, Vec<String>)> = Vec::new();
    for (function, unit) in &options.units {
        match units.iter_mut().find(|(u, _)| u == unit) {
            Some((_, members)) => members.push(function.clone()),
            None => units.push((unit.clone(), vec![function.clone()])),
        }
    }
    (flowctl_engine::load(&doc).unwrap(), units)
}

fn booking() -> (StateMachine, Vec<(String, Vec<String>)>) {
    booking_with(CompileOptions::one_unit_per_function(
        functions(),
        "flows/booking.flow",
    ))
}

fn file(text: &str) -> TestFile {
    cases::parse(text, "Booking", &functions()).unwrap_or_else(|d| panic!("{d:#?}"))
}

/// Runs every case of `text` on `machine` on the virtual clock, sharing `snapshots`.
fn run_all(
    machine: &StateMachine,
    units: &[(String, Vec<String>)],
    text: &str,
    snapshots: &mut Snapshots,
    update: bool,
) -> Vec<(CaseResult, Execution)> {
    let runtime = virtual_runtime().unwrap();
    let file = file(text);
    let mut context = RunContext {
        file: "flows/booking.test.yaml",
        flow: "Booking",
        snapshots,
        update,
        virtual_time: true,
    };
    file.cases
        .iter()
        .map(|case| {
            let mocks = FunctionMocks::for_case(case, units, None);
            runtime.block_on(run_case(machine, case, &mocks, &mut context))
        })
        .collect()
}

fn run_one(text: &str) -> CaseResult {
    let (machine, units) = booking();
    let mut results = run_all(&machine, &units, text, &mut Snapshots::new(), false);
    assert_eq!(results.len(), 1);
    results.remove(0).0
}

const MOCKS: &str = r#"
    mocks:
      QuoteRate: { return: { rate: 120 } }
      LookupLoyalty: { return: { tier: gold } }
      ReserveAvailability: { return: { status: available, room: 12 } }
      ConfirmReservation: { return: { code: C-1 } }
      NotifyGuest: { return: null }
      ReleaseReservation: { return: null }
"#;

const INPUT: &str = r#"
    input: { id: "b-1", guest: "ada", nights: 2, amount: 240, arrival: "2026-01-01", currency: EUR }
"#;

fn case(name: &str, rest: &str) -> String {
    format!("cases:\n  - name: {name}{INPUT}{MOCKS}{rest}")
}

const PAYMENT_RECOVERS: &str = r#"
      ProcessPayment:
        - throw: { error: PaymentGatewayTimeout, cause: "gateway timed out" }
          times: 2
        - return: { transaction: "t-1" }
"#;

#[test]
fn a_payment_that_fails_twice_then_answers_is_retried_with_backoff() {
    let text = case(
        "fails twice then answers",
        &format!(
            "{}    expect:\n      output_includes: {{ ok: true, payment: {{ transaction: t-1 }} }}\n      calls: [QuoteRate, LookupLoyalty, ReserveAvailability, ProcessPayment, ProcessPayment, ProcessPayment, ConfirmReservation, NotifyGuest]\n",
            PAYMENT_RECOVERS.trim_start_matches('\n')
        ),
    );
    let started = std::time::Instant::now();
    let result = run_one(&text);
    assert_eq!(result.verdict, Verdict::Passed, "{result:#?}");
    assert!(result.problems.is_empty() && result.trace.is_empty() && result.diff.is_empty());
    assert_eq!(result.status, "SUCCEEDED");
    assert_eq!(result.case, "fails twice then answers");
    assert_eq!(result.file, "flows/booking.test.yaml");
    assert_eq!(
        result
            .calls
            .iter()
            .filter(|c| *c == "ProcessPayment")
            .count(),
        3
    );
    // The retries wait 1 s then 2 s on the virtual clock: no real time.
    assert!(started.elapsed().as_secs_f64() < 1.0);
    let output = result.output.unwrap();
    assert_eq!(output["payment"], json!({"transaction": "t-1"}));
    assert_eq!(output["rate"], json!({"rate": 120}));
}

#[test]
fn the_history_shows_the_backoff_on_the_virtual_clock() {
    let text = case("retried", PAYMENT_RECOVERS.trim_start_matches('\n'));
    let (machine, units) = booking();
    let (result, execution) =
        run_all(&machine, &units, &text, &mut Snapshots::new(), false).remove(0);
    assert_eq!(result.verdict, Verdict::Passed, "{result:#?}");
    let first = execution.history.first().unwrap().timestamp;
    let last = execution.history.last().unwrap().timestamp;
    let elapsed = last.duration_since(first).unwrap().as_secs_f64();
    assert!(
        (3.0..3.1).contains(&elapsed),
        "retries after 1 s and 2 s: {elapsed}"
    );
    assert_eq!(
        execution.history[0].details()["virtualTime"],
        json!(true),
        "{:#?}",
        execution.history[0].details()
    );
}

#[test]
fn a_one_hour_wait_ends_at_once() {
    let doc = json!({
        "StartAt": "Sleep",
        "States": {
            "Sleep": { "Type": "Wait", "Seconds": 3600, "Next": "Call" },
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": "QuoteRate", "Payload.$": "$" },
                "ResultSelector": { "rate.$": "$.Payload.rate" },
                "End": true
            }
        }
    });
    let machine = flowctl_engine::load(&doc).unwrap();
    let text = "cases:\n  - name: after an hour\n    mocks: { QuoteRate: { return: { rate: 99 } } }\n    expect:\n      output: { rate: 99 }\n      path: [Sleep, Call]\n      calls: [QuoteRate]\n";
    let started = std::time::Instant::now();
    let (result, execution) = run_all(&machine, &[], text, &mut Snapshots::new(), false).remove(0);
    assert!(started.elapsed().as_secs_f64() < 1.0);
    assert_eq!(result.verdict, Verdict::Passed, "{result:#?}");
    let first = execution.history.first().unwrap().timestamp;
    let last = execution.history.last().unwrap().timestamp;
    assert!(last.duration_since(first).unwrap().as_secs() >= 3600);
}

#[test]
fn an_expected_failure_passes_and_its_cause_matches_the_function_message() {
    let no_room = case(
        "no room",
        "    expect:\n      error: NotAvailable\n      cause: no rooms for these dates\n",
    )
    .replace("{ status: available, room: 12 }", "{ status: full }");
    // A declined card: no retry (not a gateway timeout), caught, the room released, and the
    // flow fails with the function's error as its cause.
    let declined = format!(
        "  - name: declined{INPUT}{MOCKS}      ProcessPayment: {{ throw: {{ error: Declined, cause: card refused }} }}\n    expect:\n      error: PaymentFailed\n      cause: card refused\n"
    );
    let text = format!("{no_room}{declined}");
    let (machine, units) = booking();
    let results = run_all(&machine, &units, &text, &mut Snapshots::new(), false);
    for (result, _) in &results {
        assert_eq!(result.verdict, Verdict::Passed, "{result:#?}");
    }
    let declined = &results[1].0;
    assert_eq!(declined.error.as_deref(), Some("PaymentFailed"));
    assert_eq!(
        declined.cause.as_deref(),
        Some(r#"{"errorMessage":"card refused","errorType":"Declined"}"#)
    );
    assert!(declined.calls.contains(&"ReleaseReservation".to_string()));
}

#[test]
fn an_unmocked_function_is_an_error_of_the_case_even_when_caught() {
    // ProcessPayment has no mock: its call fails, the flow's catch releases the room and
    // fails with PaymentFailed as the case expects, but the case is wrong, not the flow.
    let result = run_one(&case("unmocked", "    expect: { error: PaymentFailed }\n"));
    assert_eq!(result.verdict, Verdict::Error, "{result:#?}");
    assert_eq!(result.problems.len(), 1);
    assert!(
        result.problems[0].starts_with("`ProcessPayment` was called but the case does not mock it"),
        "{:?}",
        result.problems
    );
    assert!(!result.trace.is_empty());
}

#[test]
fn answers_used_up_are_an_error_of_the_case() {
    let result = run_one(&case(
        "one answer only",
        "      ProcessPayment:\n        - throw: { error: PaymentGatewayTimeout }\n",
    ));
    assert_eq!(result.verdict, Verdict::Error, "{result:#?}");
    assert_eq!(
        result.problems,
        ["`ProcessPayment` was called twice but the case mocks 1 call: add answers to its list (or `times:`), or give one answer for every call"]
    );
}

#[test]
fn mismatches_fail_with_one_problem_each_a_diff_and_the_trace() {
    let text = case(
        "wrong expectations",
        &format!(
            "{}    expect:\n      output: {{ ok: true, rate: {{ rate: 100 }} }}\n      calls: [QuoteRate, ReserveAvailability]\n      path: [nowhere]\n",
            "      ProcessPayment: { return: { transaction: t-1 } }\n"
        ),
    );
    let result = run_one(&text);
    assert_eq!(result.verdict, Verdict::Failed);
    insta::assert_snapshot!(format!(
        "{}\n\n{}\n{}",
        result.problems.join("\n"),
        result.diff,
        result.trace
    ));
}

#[test]
fn output_includes_reports_each_place_by_json_pointer() {
    let text = case(
        "subset",
        "      ProcessPayment: { return: { transaction: t-1 } }\n    expect:\n      output_includes:\n        ok: false\n        rate: { rate: 120, currency: EUR }\n        tier: [gold]\n        payment: [1]\n",
    );
    let result = run_one(&text);
    assert_eq!(result.verdict, Verdict::Failed);
    assert_eq!(
        result.problems,
        [
            "the output at `/ok`: expected false, found true",
            "the output at `/rate/currency` is missing (expected \"EUR\")",
            "the output at `/tier` is an object; the case expects a list",
            "the output at `/payment` is an object; the case expects a list",
        ]
    );
    // The diff shows only what the case names.
    assert!(!result.diff.contains("confirmation"), "{}", result.diff);
    assert!(
        result.diff.contains("-  \"ok\": false,\n"),
        "{}",
        result.diff
    );
    assert!(
        result.diff.contains("+  \"ok\": true,\n"),
        "{}",
        result.diff
    );
    assert!(
        result.diff.contains("-    \"currency\": \"EUR\",\n"),
        "{}",
        result.diff
    );
}

#[test]
fn status_mismatches_say_what_happened() {
    let failed = run_one(
        &case(
            "expects success",
            "      ProcessPayment: { return: { transaction: t-1 } }\n",
        )
        .replace("{ status: available, room: 12 }", "{ status: full }"),
    );
    assert_eq!(
        failed.problems,
        ["the execution failed with `NotAvailable` in state `fail NotAvailable`: no rooms for these dates; the case expects it to succeed"]
            .map(|s| s.replace("fail NotAvailable", failed.failed_state.as_deref().unwrap_or("?")))
    );
    let succeeded = run_one(&case(
        "expects failure",
        "      ProcessPayment: { return: { transaction: t-1 } }\n    expect: { error: PaymentFailed, cause: x }\n",
    ));
    assert_eq!(
        succeeded.problems,
        ["the execution succeeded; the case expects it to fail with `PaymentFailed`"]
    );
    let wrong = run_one(
        &case(
            "wrong error",
            "    expect: { error: Oops, cause: no rooms }\n",
        )
        .replace("{ status: available, room: 12 }", "{ status: full }"),
    );
    assert_eq!(wrong.verdict, Verdict::Failed);
    assert_eq!(wrong.problems.len(), 2, "{:?}", wrong.problems);
    assert!(wrong.problems[0].starts_with("the execution failed with `NotAvailable` in state `"));
    assert!(wrong.problems[0].ends_with("the case expects `Oops`"));
    assert_eq!(
        wrong.problems[1],
        "cause: expected \"no rooms\", found \"no rooms for these dates\""
    );
}

#[test]
fn snapshots_are_missing_then_recorded_then_compared() {
    let (machine, units) = booking();
    let pay = "      ProcessPayment: { return: { transaction: t-1 } }\n    snapshot: true\n";
    let text = case("recorded", pay);
    let mut snapshots = Snapshots::new();

    let (missing, _) = run_all(&machine, &units, &text, &mut snapshots, false).remove(0);
    assert_eq!(missing.verdict, Verdict::Failed);
    assert_eq!(
        missing.problems,
        ["no snapshot recorded: run `flowctl test --update`"]
    );

    let (updated, _) = run_all(&machine, &units, &text, &mut snapshots, true).remove(0);
    assert_eq!(updated.verdict, Verdict::Passed, "{updated:#?}");
    assert!(snapshots.changed());
    assert_eq!(snapshots.get("recorded"), updated.output.as_ref());

    let mut reread = Snapshots::parse(&snapshots.to_text()).unwrap();
    let (compared, _) = run_all(&machine, &units, &text, &mut reread, false).remove(0);
    assert_eq!(compared.verdict, Verdict::Passed, "{compared:#?}");

    let changed = text.replace("t-1", "t-2");
    let (differs, _) = run_all(&machine, &units, &changed, &mut reread, false).remove(0);
    assert_eq!(differs.verdict, Verdict::Failed);
    assert!(differs.problems[0].starts_with("the output differs from its snapshot"));
    assert!(
        differs
            .diff
            .contains("-    \"transaction\": \"t-1\"\n+    \"transaction\": \"t-2\"\n"),
        "{}",
        differs.diff
    );
    assert!(!reread.changed());

    // Under `--update`, a failed execution records nothing and still fails.
    let failing = text.replace("{ status: available, room: 12 }", "{ status: full }");
    let mut fresh = Snapshots::new();
    let (failed, _) = run_all(&machine, &units, &failing, &mut fresh, true).remove(0);
    assert_eq!(failed.verdict, Verdict::Failed);
    assert!(fresh.is_empty() && !fresh.changed());
}

#[test]
fn a_case_survives_colocation_and_fusion() {
    let mut options = CompileOptions::one_unit_per_function(functions(), "flows/booking.flow");
    for f in FUNCTIONS {
        if f != "ProcessPayment" {
            options.units.insert(f.to_string(), "shared".to_string());
            options.fusable.insert(f.to_string());
        }
    }
    let (machine, units) = booking_with(options);
    assert_eq!(units.len(), 2);
    let text = case(
        "fused",
        &format!(
            "{}    expect:\n      output_includes: {{ ok: true }}\n      calls: [QuoteRate, LookupLoyalty, ReserveAvailability, ProcessPayment, ProcessPayment, ProcessPayment, ConfirmReservation, NotifyGuest]\n",
            PAYMENT_RECOVERS.trim_start_matches('\n')
        ),
    );
    let (result, execution) =
        run_all(&machine, &units, &text, &mut Snapshots::new(), false).remove(0);
    assert_eq!(result.verdict, Verdict::Passed, "{result:#?}");
    // Fewer Tasks than calls: the chain ran in one.
    let tasks = execution
        .history
        .iter()
        .filter(|e| e.kind.to_string() == "TaskScheduled")
        .count();
    assert!(
        tasks < result.calls.len(),
        "{tasks} tasks for {} calls",
        result.calls.len()
    );
}

#[test]
fn execution_names_are_what_step_functions_accepts() {
    assert_eq!(
        execution_name("a free room: booked/2 {x}"),
        "a-free-room--booked-2--x-"
    );
    assert_eq!(execution_name(""), "case");
    assert_eq!(execution_name(&"é".repeat(100)).chars().count(), 80);
}

#[test]
fn numbers_compare_by_value() {
    assert!(json_eq(&json!({"a": [2]}), &json!({"a": [2.0]})));
    assert!(!json_eq(&json!({"a": 2}), &json!({"a": 2.5})));
    assert!(!json_eq(&json!({"a": 2}), &json!({"a": 2, "b": 1})));
    assert!(json_eq(&json!(u64::MAX), &json!(u64::MAX)));
}

#[test]
fn a_mocked_case_is_cheap() {
    // Not a benchmark: a guard that a case costs microseconds, not milliseconds, in a debug
    // build (the release target is 1,000 booking cases in well under a second).
    let (machine, units) = booking();
    let text = case(
        "cheap",
        "      ProcessPayment: { return: { transaction: t-1 } }\n",
    );
    let file = file(&text);
    let runtime = virtual_runtime().unwrap();
    let mut snapshots = Snapshots::new();
    let mut context = RunContext {
        file: "f",
        flow: "Booking",
        snapshots: &mut snapshots,
        update: false,
        virtual_time: true,
    };
    let started = std::time::Instant::now();
    for _ in 0..200 {
        let mocks = FunctionMocks::for_case(&file.cases[0], &units, None);
        let (result, _) =
            runtime.block_on(run_case(&machine, &file.cases[0], &mocks, &mut context));
        assert_eq!(result.verdict, Verdict::Passed);
    }
    assert!(
        started.elapsed().as_secs_f64() < 5.0,
        "{:?}",
        started.elapsed()
    );
    let _ = Arc::new(());
}
