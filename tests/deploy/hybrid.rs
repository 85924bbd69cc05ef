//! Hybrid runs: the booking example deployed to moto, then `flowctl invoke Booking --remote
//! ProcessPayment` runs the flow on the local engine with ProcessPayment called on its
//! deployed Lambda through `lambda:Invoke`, and the rest as local processes — compared with
//! the all-local run of the same input: the same output or error, the same states entered in
//! the same order, the same attempts, and each call marked where it ran.
//!
//! What each side proves: moto's Lambda runs no code without Docker, so the deployed
//! ProcessPayment answers what the all-local run's ProcessPayment answered for the same
//! payload (queued keyed by payload, `tests/support/moto_server.py`), errors as function
//! errors (`X-Amz-Function-Error`). So these tests prove the remote path — the Lambda's name,
//! the unit's payload as the flow sends it, the answer and its `FunctionError` mapped as Step
//! Functions maps them, so `retry` and `catch` take the same turns — not that the deployed
//! binary computes what the local one does (the same build makes both: `tests/build.rs`
//! checks the packages' `CodeSha256`).

use super::{flowctl, flowctl_command, ok, queue_lambda_answers, show, stdout_json};
use flowctl_tests::booking_copy;
use flowctl_tests::moto::Moto;
use serde_json::{json, Value};

const PROJECT: &str = "hybride2e";
const REMOTE_LAMBDA: &str = "hybride2e-ProcessPayment";

fn booking_input(id: &str, amount: u32) -> String {
    json!({"id": id, "nights": 2, "amount": amount, "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"})
        .to_string()
}

/// `(type, state)` of every event, and where each Lambda call ran (`ran`, or `-`).
fn steps(history: &Value) -> Vec<(String, String, String)> {
    history
        .as_array()
        .expect("a history")
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap_or("").to_string(),
                e["ran"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

/// What moto's Lambdas of `project` must answer for the calls the local run in `history` made
/// to the units `remote` accepts: each payload with the local answer (a result, or the error
/// as a function error), in order, keyed by the Lambda and the payload.
pub(super) fn recorded_answers(
    history: &Value,
    project: &str,
    remote: &dyn Fn(&str) -> bool,
) -> Vec<Value> {
    let events = history.as_array().unwrap();
    let mut answers = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let Some(unit) = e["details"]["parameters"]["FunctionName"].as_str() else {
            continue;
        };
        if e["type"] != "TaskScheduled" || !remote(unit) {
            continue;
        }
        let payload = &e["details"]["parameters"]["Payload"];
        let ended = events[i + 1..]
            .iter()
            .find(|n| {
                n["state"] == e["state"]
                    && matches!(n["type"].as_str(), Some("TaskSucceeded" | "TaskFailed"))
            })
            .expect("the call ended");
        let mut answer =
            json!({"flowctl_function": format!("{project}-{unit}"), "flowctl_when": payload});
        if ended["type"] == "TaskSucceeded" {
            answer["flowctl_answer"] = ended["details"]["output"]["Payload"].clone();
        } else {
            let cause: Value = serde_json::from_str(ended["details"]["cause"].as_str().unwrap())
                .expect("a function error's cause is its error object");
            answer["flowctl_answer"] = cause;
            answer["flowctl_function_error"] = json!("Unhandled");
        }
        answers.push(answer);
    }
    answers
}

/// The booking run's answers of ProcessPayment.
fn payment_answers(history: &Value) -> Vec<Value> {
    recorded_answers(history, PROJECT, &|unit| unit == "ProcessPayment")
}

/// `flowctl --output json invoke FLOW --trace --input INPUT EXTRA…`: whether it succeeded, and
/// its report.
pub(super) fn invoke_json(
    dir: &std::path::Path,
    endpoint: Option<&str>,
    flow: &str,
    extra: &[&str],
    input: &str,
) -> (bool, Value) {
    let mut args = vec![
        "--output", "json", "invoke", flow, "--trace", "--input", input,
    ];
    args.extend_from_slice(extra);
    let out = flowctl_command(dir, endpoint, &args)
        .output()
        .expect("flowctl runs");
    (out.status.success(), stdout_json(&out))
}

#[test]
fn a_flow_runs_locally_with_one_function_on_its_deployed_lambda() {
    let moto = Moto::shared();
    let dir = booking_copy(PROJECT);
    let at = moto.endpoint.as_str();

    // Before the deploy: the remote function is looked for first, and nothing runs without it.
    let early = flowctl(
        &dir,
        at,
        &[
            "invoke",
            "Booking",
            "--remote",
            "ProcessPayment",
            "--input",
            &booking_input("b-100", 240),
        ],
    );
    assert_eq!(early.status.code(), Some(1), "{}", show(&early));
    let said = String::from_utf8_lossy(&early.stderr);
    assert!(
        said.contains("unit `ProcessPayment` is not deployed")
            && said.contains(REMOTE_LAMBDA)
            && said.contains("flowctl deploy"),
        "{said}"
    );
    // A name that is neither a function nor a unit is a usage error, with a suggestion.
    let typo = flowctl(
        &dir,
        at,
        &["invoke", "Booking", "--remote", "ProcessPaymnt"],
    );
    assert_eq!(typo.status.code(), Some(2), "{}", show(&typo));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("did you mean `ProcessPayment`?"),
        "{}",
        show(&typo)
    );

    ok(flowctl(&dir, at, &["deploy"]));

    // The happy path, a declined card (caught, the room released) and a gateway timeout
    // retried once: each run all-local, then with ProcessPayment remote.
    for (id, amount, succeeds) in [
        ("b-100", 240, true),
        ("b-103", 5000, false),
        ("wobbly-105", 80, true),
    ] {
        let input = booking_input(id, amount);
        let (local_ok, local) = invoke_json(&dir, None, "Booking", &[], &input);
        assert_eq!(local_ok, succeeds, "{id} locally: {local:#}");
        let answers = payment_answers(&local["history"]);
        assert!(
            !answers.is_empty(),
            "{id}: ProcessPayment was called locally"
        );
        queue_lambda_answers(moto, &answers);

        let (hybrid_ok, hybrid) = invoke_json(
            &dir,
            Some(at),
            "Booking",
            &["--remote", "ProcessPayment"],
            &input,
        );
        assert_eq!(hybrid_ok, succeeds, "{id} hybrid: {hybrid:#}");
        for field in [
            "status",
            "output",
            "error",
            "cause",
            "failed_state",
            "transitions",
        ] {
            assert_eq!(
                hybrid[field], local[field],
                "{id}: `{field}` differs from the all-local run"
            );
        }
        let (local_steps, hybrid_steps) = (steps(&local["history"]), steps(&hybrid["history"]));
        let unmarked = |steps: &[(String, String, String)]| -> Vec<(String, String)> {
            steps
                .iter()
                .map(|(t, s, _)| (t.clone(), s.clone()))
                .collect()
        };
        assert_eq!(
            unmarked(&hybrid_steps),
            unmarked(&local_steps),
            "{id}: the same events"
        );
        for (kind, state, ran) in &hybrid_steps {
            if kind == "TaskScheduled" {
                let expected = if state.contains("ProcessPayment") {
                    format!("lambda {REMOTE_LAMBDA}")
                } else {
                    "local".to_string()
                };
                assert_eq!(ran, &expected, "{id}: where {state} ran");
            }
        }
        assert!(
            local_steps
                .iter()
                .all(|(kind, _, ran)| kind != "TaskScheduled" || ran == "-"),
            "an all-local run marks nothing"
        );
        if id.starts_with("wobbly") {
            let attempts = hybrid_steps
                .iter()
                .filter(|(k, s, _)| k == "TaskScheduled" && s.contains("ProcessPayment"))
                .count();
            assert_eq!(
                attempts, 2,
                "{id}: the remote PaymentGatewayTimeout was retried once"
            );
        }
    }

    // The text trace marks the remote call on its Task's line.
    queue_lambda_answers(
        moto,
        &payment_answers(
            &invoke_json(&dir, None, "Booking", &[], &booking_input("b-100", 240)).1["history"],
        ),
    );
    let traced = ok(flowctl(
        &dir,
        at,
        &[
            "invoke",
            "Booking",
            "--trace",
            "--remote",
            "ProcessPayment",
            "--input",
            &booking_input("b-100", 240),
        ],
    ));
    let trace = String::from_utf8_lossy(&traced.stderr);
    let line = |needle: &str| {
        trace
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in:\n{trace}"))
            .to_string()
    };
    assert!(
        line("= ProcessPayment  Task").ends_with(&format!("@ lambda {REMOTE_LAMBDA}")),
        "{trace}"
    );
    assert!(
        line("QuoteRate + LookupLoyalty").ends_with("@ local"),
        "{trace}"
    );
}
