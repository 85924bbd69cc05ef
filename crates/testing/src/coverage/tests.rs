use super::*;
use flowctl_engine::{execute, load, BoxFuture, ExecutionOptions, Invoker, TaskError};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Answers by function name (`${unit:F}` placeholders read as `F`): each function has a list
/// of answers for its calls in order, the last repeated.
struct Script {
    answers: HashMap<String, Vec<Result<Value, &'static str>>>,
    calls: Mutex<HashMap<String, usize>>,
}

impl Script {
    fn new(answers: &[(&str, Vec<Result<Value, &'static str>>)]) -> Script {
        Script {
            answers: answers
                .iter()
                .map(|(f, a)| (f.to_string(), a.clone()))
                .collect(),
            calls: Mutex::new(HashMap::new()),
        }
    }
}

impl Invoker for Script {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        _payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        let name = function
            .trim_start_matches("${unit:")
            .trim_end_matches('}')
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(name.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let answers = self.answers.get(&name).cloned().unwrap_or_default();
        let answer = answers
            .get(n)
            .or(answers.last())
            .cloned()
            .unwrap_or(Ok(json!({})));
        Box::pin(async move {
            answer
                .map(Arc::new)
                .map_err(|e| TaskError::from_lambda(e, "scripted"))
        })
    }
}

fn run(doc: &Value, input: Value, script: &Script) -> Execution {
    let machine = load(doc).expect("a valid document");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(execute(
        &machine,
        input,
        script,
        &ExecutionOptions::default(),
    ))
}

/// Each item's label with how often it was taken, one a line.
fn table(coverage: &Coverage) -> String {
    coverage
        .branches
        .iter()
        .map(|(b, n)| format!("{n:>2}  {}\n", b.label))
        .collect()
}

fn lambda(function: &str) -> Value {
    json!({"Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}")})
}

fn sample() -> Value {
    let mut pay = lambda("Pay");
    pay["Retry"] = json!([
        {"ErrorEquals": ["Timeout"], "MaxAttempts": 2, "IntervalSeconds": 1},
        {"ErrorEquals": ["Never"], "MaxAttempts": 0}
    ]);
    pay["Catch"] = json!([
        {"ErrorEquals": ["Declined"], "Next": "declined"},
        {"ErrorEquals": ["States.ALL"], "Next": "release"}
    ]);
    pay["Next"] = json!("fan out");
    json!({
        "StartAt": "how",
        "States": {
            "how": {"Type": "Choice", "Choices": [
                {"Variable": "$.mode", "StringEquals": "pay", "Next": "p = Pay"},
                {"Variable": "$.mode", "StringEquals": "card", "Next": "p = Pay"},
                {"Variable": "$.mode", "StringEquals": "free", "Next": "fan out"}
            ], "Default": "declined"},
            "p = Pay": pay,
            "fan out": {"Type": "Parallel", "Next": "each", "Branches": [
                {"StartAt": "left", "States": {"left": {"Type": "Pass", "End": true}}},
                {"StartAt": "right", "States": {"right": {"Type": "Choice", "Choices": [
                    {"Variable": "$.mode", "StringEquals": "free", "Next": "right done"}
                ]}, "right done": {"Type": "Pass", "End": true}}}
            ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "declined"}]},
            "each": {"Type": "Map", "ItemsPath": "$[0].items", "ItemProcessor": {
                "StartAt": "item", "States": {"item": {"Type": "Pass", "End": true}}
            }, "End": true},
            "release": {"Type": "Pass", "Next": "declined"},
            "declined": {"Type": "Fail", "Error": "Declined"}
        }
    })
}

#[test]
fn lists_the_items_of_a_document_in_order() {
    let labels: Vec<String> = branches(&sample()).into_iter().map(|b| b.label).collect();
    assert_eq!(
        labels,
        [
            "\"how\" → \"p = Pay\"",
            "\"how\" → \"fan out\"",
            "\"how\" → \"declined\" (default)",
            "\"p = Pay\" fails with Declined → \"declined\"",
            "\"p = Pay\" fails → \"release\"",
            "\"p = Pay\" retries exhausted (Timeout, 2 retries)",
            "\"fan out\" fails → \"declined\"",
            "\"fan out\" branch 1 (from \"left\") runs",
            "\"fan out\" branch 2 (from \"right\") runs",
            "\"right\" → \"right done\"",
            "\"right\": no rule matches (States.NoChoiceMatched)",
            "\"each\" runs its body (from \"item\")",
        ]
    );
    // The two rules to `p = Pay` are one item; `MaxAttempts: 0` runs out of nothing.
    let first = &branches(&sample())[0];
    assert_eq!(
        first.kind,
        BranchKind::Choice {
            rules: vec![0, 1],
            default: false
        }
    );
    assert_eq!(first.target.as_deref(), Some("p = Pay"));
}

#[test]
fn counts_what_each_execution_took() {
    let doc = sample();
    let paid = json!({"mode": "pay"});
    let timeouts_then_ok = Script::new(&[("Pay", vec![Err("Timeout"), Ok(paid.clone())])]);
    let paid = run(&doc, paid, &timeouts_then_ok);
    let declined = run(
        &doc,
        json!({"mode": "card"}),
        &Script::new(&[("Pay", vec![Err("Declined")])]),
    );
    let timeouts = run(
        &doc,
        json!({"mode": "pay"}),
        &Script::new(&[("Pay", vec![Err("Timeout")])]),
    );
    let free = run(
        &doc,
        json!({"mode": "free", "items": [1, 2]}),
        &Script::new(&[]),
    );
    let coverage = measure(&doc, &[&paid, &declined, &timeouts, &free]);
    // `paid`: a Timeout retried once then success (not exhausted); both branches run, the
    // right one's Choice matches nothing, the Parallel's catcher takes it.
    // `declined`: caught by the first catcher. `timeouts`: three Timeouts, exhausted, caught by
    // States.ALL. `free`: skips Pay; the right branch's Choice matches; two items.
    assert_eq!(
        table(&coverage),
        " 3  \"how\" → \"p = Pay\"\n \
          1  \"how\" → \"fan out\"\n \
          0  \"how\" → \"declined\" (default)\n \
          1  \"p = Pay\" fails with Declined → \"declined\"\n \
          1  \"p = Pay\" fails → \"release\"\n \
          1  \"p = Pay\" retries exhausted (Timeout, 2 retries)\n \
          1  \"fan out\" fails → \"declined\"\n \
          2  \"fan out\" branch 1 (from \"left\") runs\n \
          2  \"fan out\" branch 2 (from \"right\") runs\n \
          1  \"right\" → \"right done\"\n \
          1  \"right\": no rule matches (States.NoChoiceMatched)\n \
          2  \"each\" runs its body (from \"item\")\n"
    );
    assert_eq!((coverage.covered(), coverage.total()), (11, 12));
    let missed: Vec<&str> = coverage.missed().iter().map(|b| b.label.as_str()).collect();
    assert_eq!(missed, ["\"how\" → \"declined\" (default)"]);
}

#[test]
fn repeated_names_are_told_apart_by_scope() {
    // `x` is a Choice at the top and inside the Map's body: each counts its own way.
    let doc = json!({
        "StartAt": "x",
        "States": {
            "x": {"Type": "Choice", "Choices": [
                {"Variable": "$.go", "BooleanEquals": true, "Next": "m"}
            ], "Default": "end"},
            "m": {"Type": "Map", "ItemsPath": "$.items", "Iterator": {"StartAt": "x", "States": {
                "x": {"Type": "Choice", "Choices": [
                    {"Variable": "$", "NumericGreaterThan": 1, "Next": "big"}
                ], "Default": "small"},
                "big": {"Type": "Pass", "End": true},
                "small": {"Type": "Pass", "End": true}
            }}, "Next": "end"},
            "end": {"Type": "Succeed"}
        }
    });
    let execution = run(
        &doc,
        json!({"go": true, "items": [1, 2, 3]}),
        &Script::new(&[]),
    );
    let coverage = measure(&doc, &[&execution]);
    let by_state: Vec<(String, String, u32)> = coverage
        .branches
        .iter()
        .map(|(b, n)| (b.state.clone(), b.target.clone().unwrap_or_default(), *n))
        .collect();
    let expected = [
        ("States.x", "m", 1),
        ("States.x", "end", 0),
        ("m", "x", 3),
        ("States.m.Iterator.States.x", "big", 2),
        ("States.m.Iterator.States.x", "small", 1),
    ];
    let expected: Vec<(String, String, u32)> = expected
        .iter()
        .map(|(s, t, n)| (s.to_string(), t.to_string(), *n))
        .collect();
    assert_eq!(by_state, expected);
}

#[test]
fn anything_not_a_state_machine_has_no_items() {
    for doc in [
        json!(null),
        json!({"States": 3}),
        json!({"States": {"a": 1}}),
    ] {
        assert!(branches(&doc).is_empty(), "{doc}");
        assert_eq!(measure(&doc, &[]).total(), 0);
    }
    // Deep nesting is cut off, not a stack overflow.
    let mut doc = json!({"StartAt": "p", "States": {"p": {"Type": "Pass", "End": true}}});
    for _ in 0..400 {
        doc = json!({"StartAt": "p", "States": {"p": {"Type": "Parallel", "End": true, "Branches": [doc]}}});
    }
    assert!(branches(&doc).len() <= MAX_JSON_DEPTH + 2);
}

use crate::test_support::booking;

#[test]
fn booking_flow_items_read_like_the_flow() {
    let doc = booking();
    let input = json!({"id": "b-1", "guest": "ada", "nights": 2, "amount": 240,
                       "arrival": "2026-01-01", "currency": "EUR"});
    let held = json!({"status": "available", "room": 12});
    let happy = run(
        &doc,
        input.clone(),
        &Script::new(&[
            ("ReserveAvailability", vec![Ok(held.clone())]),
            (
                "ProcessPayment",
                vec![
                    Err("PaymentGatewayTimeout"),
                    Ok(json!({"transaction": "t-1"})),
                ],
            ),
        ]),
    );
    assert_eq!(happy.error, None);
    let full = run(
        &doc,
        input.clone(),
        &Script::new(&[("ReserveAvailability", vec![Ok(json!({"status": "full"}))])]),
    );
    let gateway_down = run(
        &doc,
        input,
        &Script::new(&[
            ("ReserveAvailability", vec![Ok(held)]),
            ("ProcessPayment", vec![Err("PaymentGatewayTimeout")]),
        ]),
    );
    assert_eq!(
        gateway_down.error.as_ref().map(|e| e.error.as_str()),
        Some("PaymentFailed")
    );
    let mut report = String::new();
    for (name, runs) in [
        ("no case", vec![]),
        ("happy path", vec![&happy]),
        ("all three", vec![&happy, &full, &gateway_down]),
    ] {
        let coverage = measure(&doc, &runs);
        report += &format!(
            "{name}: {} of {} items\n{}\n",
            coverage.covered(),
            coverage.total(),
            table(&coverage)
        );
    }
    insta::assert_snapshot!("booking_coverage", report);
}
