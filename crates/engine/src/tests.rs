//! Interpreter tests: every state type and field, the Choice operators, Retry timing on the
//! virtual clock, Catch, timeouts, Parallel, Map, the context object and the history.
//! All run under a paused tokio clock, so waits and backoffs take no real time.

use super::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn machine(doc: &Value) -> StateMachine {
    load(doc).unwrap_or_else(|errors| {
        panic!(
            "load failed:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// `echo` returns its payload, `boom` fails with `Boom`, `add1` adds one to a number.
fn functions() -> InProcess {
    InProcess::new()
        .sync("echo", Ok)
        .sync("boom", |_| {
            Err::<Value, _>(TaskError::new("Boom", "it broke"))
        })
        .sync("add1", |v| Ok(json!(v.as_i64().unwrap_or(0) + 1)))
}

async fn run_with(doc: Value, input: Value, invoker: &dyn Invoker) -> Execution {
    execute(
        &machine(&doc),
        input,
        invoker,
        &ExecutionOptions {
            name: "test-run".into(),
            ..ExecutionOptions::default()
        },
    )
    .await
}

async fn run(doc: Value, input: Value) -> Execution {
    run_with(doc, input, &functions()).await
}

/// A one-state machine around `state` (which must end).
fn single(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state}})
}

fn output(e: &Execution) -> Value {
    assert_eq!(
        e.status,
        Status::Succeeded,
        "execution failed: {:?} in {:?}",
        e.error,
        e.failed_state
    );
    Value::clone(e.output.as_ref().unwrap())
}

fn error(e: &Execution) -> (String, String) {
    assert_ne!(
        e.status,
        Status::Succeeded,
        "expected a failure, got {:?}",
        e.output
    );
    let err = e.error.clone().unwrap();
    (err.error, err.cause)
}

fn kinds(e: &Execution) -> Vec<String> {
    e.history.iter().map(|ev| ev.kind.to_string()).collect()
}

/// Seconds between two events, on the (virtual) clock.
fn gap(a: &HistoryEvent, b: &HistoryEvent) -> f64 {
    b.timestamp
        .duration_since(a.timestamp)
        .unwrap()
        .as_secs_f64()
}

fn events(e: &Execution, kind: EventKind) -> Vec<&HistoryEvent> {
    e.history.iter().filter(|ev| ev.kind == kind).collect()
}

fn lambda(function: &str) -> Value {
    json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": function, "Payload.$": "$"}, "ResultSelector": {"v.$": "$.Payload"}, "End": true})
}

// ---------- Pass and the data flow fields ----------

#[tokio::test(start_paused = true)]
async fn pass_moves_input_through() {
    let e = run(
        single(json!({"Type": "Pass", "End": true})),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(output(&e), json!({"a": 1}));
    assert_eq!(e.transitions, 1);
}

#[tokio::test(start_paused = true)]
async fn pass_result_and_result_path() {
    let e = run(
        single(
            json!({"Type": "Pass", "Result": {"x": [1, 2]}, "ResultPath": "$.r.s", "End": true}),
        ),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(output(&e), json!({"a": 1, "r": {"s": {"x": [1, 2]}}}));
    let e = run(
        single(json!({"Type": "Pass", "Result": 5, "ResultPath": null, "End": true})),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(output(&e), json!({"a": 1}));
}

#[tokio::test(start_paused = true)]
async fn input_parameters_result_output_paths_in_order() {
    let state = json!({
        "Type": "Pass",
        "InputPath": "$.in",
        "Parameters": {"doubled.$": "$.n", "static": "s", "list": [{"k.$": "$.n"}], "all.$": "$"},
        "ResultPath": "$.in.out",
        "OutputPath": "$.in",
        "End": true
    });
    let e = run(single(state), json!({"in": {"n": 3}, "other": true})).await;
    assert_eq!(
        output(&e),
        json!({"n": 3, "out": {"doubled": 3, "static": "s", "list": [{"k": 3}], "all": {"n": 3}}})
    );
}

#[tokio::test(start_paused = true)]
async fn null_input_and_output_paths_give_empty_objects() {
    let e = run(single(json!({"Type": "Pass", "InputPath": null, "ResultPath": "$.r", "Result": 1, "End": true})), json!({"a": 1})).await;
    assert_eq!(output(&e), json!({"a": 1, "r": 1}));
    let e = run(
        single(json!({"Type": "Pass", "InputPath": null, "End": true})),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(output(&e), json!({}));
    let e = run(
        single(json!({"Type": "Pass", "OutputPath": null, "End": true})),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(output(&e), json!({}));
}

#[tokio::test(start_paused = true)]
async fn indefinite_paths_yield_lists() {
    let e = run(
        single(json!({"Type": "Pass", "Parameters": {"ks.$": "$.xs[*].k"}, "End": true})),
        json!({"xs": [{"k": 1}, {"k": 2}]}),
    )
    .await;
    assert_eq!(output(&e), json!({"ks": [1, 2]}));
}

#[tokio::test(start_paused = true)]
async fn missing_parameter_path_is_runtime_error() {
    let e = run(
        single(json!({"Type": "Pass", "Parameters": {"x.$": "$.nope"}, "End": true})),
        json!({}),
    )
    .await;
    let (err, cause) = error(&e);
    assert_eq!(err, "States.Runtime");
    assert!(cause.contains("$.nope"), "{cause}");
    assert_eq!(e.failed_state.as_deref(), Some("S"));
}

#[tokio::test(start_paused = true)]
async fn missing_input_and_output_paths_are_runtime_errors() {
    let e = run(
        single(json!({"Type": "Pass", "InputPath": "$.nope", "End": true})),
        json!({}),
    )
    .await;
    assert_eq!(error(&e).0, "States.Runtime");
    let e = run(
        single(json!({"Type": "Pass", "OutputPath": "$.nope", "End": true})),
        json!({}),
    )
    .await;
    assert_eq!(error(&e).0, "States.Runtime");
}

#[tokio::test(start_paused = true)]
async fn result_path_into_a_non_object_fails() {
    let e = run(
        single(json!({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": true})),
        json!({"a": "text"}),
    )
    .await;
    assert_eq!(error(&e).0, "States.ResultPathMatchFailure");
}

#[tokio::test(start_paused = true)]
async fn intrinsic_functions_in_parameters() {
    let state = json!({"Type": "Pass", "Parameters": {"greeting.$": "States.Format('Hello {}', $.name)", "list.$": "States.Array($.name, 1)"}, "End": true});
    let e = run(single(state), json!({"name": "Ada"})).await;
    assert_eq!(
        output(&e),
        json!({"greeting": "Hello Ada", "list": ["Ada", 1]})
    );
}

// ---------- Task ----------

#[tokio::test(start_paused = true)]
async fn lambda_invoke_wraps_the_payload() {
    let doc = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "add1", "Payload.$": "$.n"}, "End": true}),
    );
    let out = output(&run(doc, json!({"n": 41})).await);
    assert_eq!(out["Payload"], json!(42));
    assert_eq!(out["StatusCode"], json!(200));
    assert_eq!(out["ExecutedVersion"], json!("$LATEST"));
    assert_eq!(out["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
}

#[tokio::test(start_paused = true)]
async fn lambda_arn_resource_returns_the_payload_itself() {
    let doc = single(
        json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:add1", "InputPath": "$.n", "ResultPath": "$.m", "End": true}),
    );
    let e = run(doc, json!({"n": 1})).await;
    assert_eq!(output(&e), json!({"n": 1, "m": 2}));
    assert!(
        kinds(&e).contains(&"LambdaFunctionSucceeded".to_string()),
        "{:?}",
        kinds(&e)
    );
}

#[tokio::test(start_paused = true)]
async fn function_errors_fail_the_execution() {
    let e = run(single(lambda("boom")), json!({})).await;
    assert_eq!(error(&e), ("Boom".into(), "it broke".into()));
    let e = run(single(lambda("missing")), json!({})).await;
    assert_eq!(error(&e).0, "Lambda.ResourceNotFoundException");
}

#[tokio::test(start_paused = true)]
async fn dynamic_function_name() {
    let doc = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName.$": "$.f", "Payload": {"fixed": 1}}, "OutputPath": "$.Payload", "End": true}),
    );
    assert_eq!(
        output(&run(doc, json!({"f": "echo"})).await),
        json!({"fixed": 1})
    );
}

// ---------- Choice ----------

/// Runs a Choice with one rule on `input`: true when the rule matched.
async fn rule_matches(rule: Value, input: Value) -> Result<bool, String> {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    let doc = json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [rule], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": true, "End": true},
            "No": {"Type": "Pass", "Result": false, "End": true}
        }
    });
    let e = run(doc, input).await;
    match e.status {
        Status::Succeeded => Ok(*e.output.unwrap() == json!(true)),
        _ => Err(e.error.unwrap().error),
    }
}

#[tokio::test(start_paused = true)]
async fn choice_string_operators() {
    let input = json!({"s": "banana", "t": "cherry", "n": 5});
    for (rule, expected) in [
        (json!({"Variable": "$.s", "StringEquals": "banana"}), true),
        (json!({"Variable": "$.s", "StringEquals": "apple"}), false),
        (json!({"Variable": "$.s", "StringLessThan": "cherry"}), true),
        (
            json!({"Variable": "$.s", "StringGreaterThan": "apple"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringLessThanEquals": "banana"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEquals": "banana"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEquals": "c"}),
            false,
        ),
        (json!({"Variable": "$.s", "StringEqualsPath": "$.t"}), false),
        (
            json!({"Variable": "$.s", "StringLessThanPath": "$.t"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanPath": "$.t"}),
            false,
        ),
        (
            json!({"Variable": "$.s", "StringLessThanEqualsPath": "$.s"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEqualsPath": "$.t"}),
            false,
        ),
        // A number is not a string: the comparison is false, not an error.
        (json!({"Variable": "$.n", "StringEquals": "5"}), false),
        (json!({"Variable": "$.s", "StringEqualsPath": "$.n"}), false),
        (json!({"Variable": "$.s", "StringMatches": "b*n*a"}), true),
        (json!({"Variable": "$.s", "StringMatches": "*x*"}), false),
    ] {
        assert_eq!(
            rule_matches(rule.clone(), input.clone()).await,
            Ok(expected),
            "{rule}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn choice_numeric_operators() {
    let input = json!({"n": 5, "f": 2.5, "m": 7, "s": "5"});
    for (rule, expected) in [
        (json!({"Variable": "$.n", "NumericEquals": 5}), true),
        (json!({"Variable": "$.n", "NumericEquals": 5.0}), true),
        (json!({"Variable": "$.f", "NumericLessThan": 3}), true),
        (json!({"Variable": "$.f", "NumericGreaterThan": 2.4}), true),
        (json!({"Variable": "$.n", "NumericLessThanEquals": 5}), true),
        (
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 6}),
            false,
        ),
        (
            json!({"Variable": "$.n", "NumericEqualsPath": "$.m"}),
            false,
        ),
        (
            json!({"Variable": "$.n", "NumericLessThanPath": "$.m"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThanPath": "$.f"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.n"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.m"}),
            false,
        ),
        (json!({"Variable": "$.s", "NumericEquals": 5}), false),
        (json!({"Variable": "$.n", "NumericEquals": -1}), false),
    ] {
        assert_eq!(
            rule_matches(rule.clone(), input.clone()).await,
            Ok(expected),
            "{rule}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn choice_boolean_and_timestamp_operators() {
    let input = json!({"b": true, "c": false, "t": "2024-06-01T12:00:00Z", "u": "2024-06-01T14:00:00+02:00", "later": "2025-01-01T00:00:00.5Z", "bad": "yesterday"});
    for (rule, expected) in [
        (json!({"Variable": "$.b", "BooleanEquals": true}), true),
        (
            json!({"Variable": "$.b", "BooleanEqualsPath": "$.c"}),
            false,
        ),
        (json!({"Variable": "$.t", "BooleanEquals": true}), false),
        (
            json!({"Variable": "$.t", "TimestampEquals": "2024-06-01T12:00:00Z"}),
            true,
        ),
        // The same instant in another offset.
        (
            json!({"Variable": "$.t", "TimestampEqualsPath": "$.u"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThan": "2024-06-01T12:00:01Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThan": "2024-06-01T12:00:01Z"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanEquals": "2024-06-01T12:00:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2024-06-01T12:00:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanPath": "$.later"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThanPath": "$.later"}),
            false,
        ),
        (
            json!({"Variable": "$.later", "TimestampLessThanEqualsPath": "$.t"}),
            false,
        ),
        (
            json!({"Variable": "$.later", "TimestampGreaterThanEqualsPath": "$.t"}),
            true,
        ),
        (
            json!({"Variable": "$.bad", "TimestampLessThan": "2030-01-01T00:00:00Z"}),
            false,
        ),
    ] {
        assert_eq!(
            rule_matches(rule.clone(), input.clone()).await,
            Ok(expected),
            "{rule}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn choice_type_tests_and_presence() {
    let input = json!({"z": null, "n": 1.5, "s": "x", "b": false, "t": "2024-01-01T00:00:00Z"});
    for (rule, expected) in [
        (json!({"Variable": "$.z", "IsNull": true}), true),
        (json!({"Variable": "$.n", "IsNull": false}), true),
        (json!({"Variable": "$.n", "IsNumeric": true}), true),
        (json!({"Variable": "$.s", "IsNumeric": true}), false),
        (json!({"Variable": "$.s", "IsString": true}), true),
        (json!({"Variable": "$.b", "IsBoolean": true}), true),
        (json!({"Variable": "$.z", "IsBoolean": false}), true),
        (json!({"Variable": "$.t", "IsTimestamp": true}), true),
        (json!({"Variable": "$.s", "IsTimestamp": true}), false),
        (json!({"Variable": "$.missing", "IsPresent": false}), true),
        (json!({"Variable": "$.z", "IsPresent": true}), true),
    ] {
        assert_eq!(
            rule_matches(rule.clone(), input.clone()).await,
            Ok(expected),
            "{rule}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn choice_and_or_not() {
    let input = json!({"n": 5, "s": "a"});
    for (rule, expected) in [
        (
            json!({"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Variable": "$.s", "StringEquals": "a"}]}),
            true,
        ),
        (
            json!({"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Variable": "$.s", "StringEquals": "b"}]}),
            false,
        ),
        (
            json!({"Or": [{"Variable": "$.n", "NumericLessThan": 1}, {"Variable": "$.s", "StringEquals": "a"}]}),
            true,
        ),
        (
            json!({"Not": {"Variable": "$.s", "StringEquals": "a"}}),
            false,
        ),
        (
            json!({"Not": {"Or": [{"Variable": "$.x", "IsPresent": true}, {"Not": {"Variable": "$.n", "IsNumeric": true}}]}}),
            true,
        ),
        // `And` stops at the first false rule, so the missing variable is never read.
        (
            json!({"And": [{"Variable": "$.x", "IsPresent": true}, {"Variable": "$.x", "StringEquals": "q"}]}),
            false,
        ),
    ] {
        assert_eq!(
            rule_matches(rule.clone(), input.clone()).await,
            Ok(expected),
            "{rule}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn choice_on_a_missing_variable_is_a_runtime_error() {
    assert_eq!(
        rule_matches(
            json!({"Variable": "$.missing", "StringEquals": "x"}),
            json!({})
        )
        .await,
        Err("States.Runtime".into())
    );
    assert_eq!(
        rule_matches(
            json!({"Variable": "$.s", "StringEqualsPath": "$.missing"}),
            json!({"s": "x"})
        )
        .await,
        Err("States.Runtime".into())
    );
}

#[tokio::test(start_paused = true)]
async fn choice_default_output_and_no_match() {
    let doc = json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "InputPath": "$.in", "OutputPath": "$.keep", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}]},
            "One": {"Type": "Succeed"}
        }
    });
    assert_eq!(
        output(&run(doc.clone(), json!({"in": {"n": 1, "keep": "k"}})).await),
        json!("k")
    );
    let e = run(doc, json!({"in": {"n": 2, "keep": "k"}})).await;
    assert_eq!(error(&e).0, "States.NoChoiceMatched");
    assert_eq!(e.failed_state.as_deref(), Some("C"));
}

#[tokio::test(start_paused = true)]
async fn choice_first_matching_rule_wins() {
    let doc = json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
                {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Small"}
            ], "Default": "None"},
            "Big": {"Type": "Pass", "Result": "big", "End": true},
            "Small": {"Type": "Pass", "Result": "small", "End": true},
            "None": {"Type": "Pass", "Result": "none", "End": true}
        }
    });
    for (n, expected) in [(20, "big"), (5, "small"), (-1, "none")] {
        assert_eq!(
            output(&run(doc.clone(), json!({"n": n})).await),
            json!(expected)
        );
    }
}

// ---------- Wait, Succeed, Fail ----------

fn elapsed(e: &Execution) -> f64 {
    gap(e.history.first().unwrap(), e.history.last().unwrap())
}

#[tokio::test(start_paused = true)]
async fn wait_seconds_and_seconds_path() {
    let e = run(
        single(json!({"Type": "Wait", "Seconds": 90, "End": true})),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(output(&e), json!({"a": 1}));
    assert_eq!(elapsed(&e), 90.0);
    let e = run(
        single(json!({"Type": "Wait", "SecondsPath": "$.d", "OutputPath": "$.d", "End": true})),
        json!({"d": 7}),
    )
    .await;
    assert_eq!(output(&e), json!(7));
    assert_eq!(elapsed(&e), 7.0);
    let e = run(
        single(json!({"Type": "Wait", "SecondsPath": "$.d", "End": true})),
        json!({"d": "soon"}),
    )
    .await;
    assert_eq!(error(&e).0, "States.Runtime");
}

#[tokio::test(start_paused = true)]
async fn wait_until_timestamps() {
    let soon = super::time::format_timestamp(SystemTime::now() + Duration::from_secs(3600));
    let e = run(
        single(json!({"Type": "Wait", "Timestamp": "2001-01-01T00:00:00Z", "End": true})),
        json!({}),
    )
    .await;
    assert_eq!(elapsed(&e), 0.0);
    let e = run(
        single(json!({"Type": "Wait", "TimestampPath": "$.at", "End": true})),
        json!({"at": soon}),
    )
    .await;
    let waited = elapsed(&e);
    assert!((3598.0..=3600.0).contains(&waited), "{waited}");
}

#[tokio::test(start_paused = true)]
async fn succeed_applies_paths() {
    let e = run(
        single(json!({"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"})),
        json!({"a": {"b": 2}}),
    )
    .await;
    assert_eq!(output(&e), json!(2));
}

#[tokio::test(start_paused = true)]
async fn fail_fixed_and_from_paths() {
    let e = run(
        single(json!({"Type": "Fail", "Error": "Nope", "Cause": "because"})),
        json!({}),
    )
    .await;
    assert_eq!(error(&e), ("Nope".into(), "because".into()));
    assert_eq!(e.failed_state.as_deref(), Some("S"));
    let e = run(single(json!({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('code {}', $.c)"})), json!({"e": "Dyn", "c": 7})).await;
    assert_eq!(error(&e), ("Dyn".into(), "code 7".into()));
    let e = run(
        single(json!({"Type": "Fail", "ErrorPath": "$.e"})),
        json!({"e": 1}),
    )
    .await;
    assert_eq!(error(&e).0, "States.Runtime");
}

// ---------- Retry ----------

/// A function that fails with `error` the first `failures` times, then echoes.
fn flaky(name: &str, error: &'static str, failures: usize) -> (InProcess, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let invoker = functions().sync(name, move |v| {
        if counter.fetch_add(1, Ordering::SeqCst) < failures {
            Err(TaskError::new(error, "transient"))
        } else {
            Ok(v)
        }
    });
    (invoker, calls)
}

fn task_with(function: &str, extra: Value) -> Value {
    let mut state = lambda(function);
    for (k, v) in extra.as_object().unwrap() {
        state[k] = v.clone();
    }
    state
}

/// The delays between each `TaskFailed` and the next `TaskScheduled`.
fn retry_delays(e: &Execution) -> Vec<f64> {
    let failed = events(e, EventKind::TaskFailed);
    let scheduled = events(e, EventKind::TaskScheduled);
    failed
        .iter()
        .zip(scheduled.iter().skip(1))
        .map(|(f, s)| gap(f, s))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn retry_backoff_on_the_virtual_clock() {
    let (inv, calls) = flaky("flaky", "Flaky", 3);
    let doc = single(task_with(
        "flaky",
        json!({"Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxAttempts": 3}]}),
    ));
    let e = run_with(doc, json!({"k": 1}), &inv).await;
    assert_eq!(output(&e), json!({"v": {"k": 1}}));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(retry_delays(&e), vec![2.0, 6.0, 18.0]);
}

#[tokio::test(start_paused = true)]
async fn retry_defaults_and_max_delay_cap() {
    let (inv, calls) = flaky("flaky", "Flaky", 10);
    // Defaults: IntervalSeconds 1, BackoffRate 2.0, MaxAttempts 3.
    let e = run_with(
        single(task_with(
            "flaky",
            json!({"Retry": [{"ErrorEquals": ["Flaky"]}]}),
        )),
        json!({}),
        &inv,
    )
    .await;
    assert_eq!(error(&e).0, "Flaky");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(retry_delays(&e), vec![1.0, 2.0, 4.0]);

    let (inv, _) = flaky("flaky", "Flaky", 10);
    let retry = json!({"Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 3, "MaxAttempts": 4, "BackoffRate": 2.5, "MaxDelaySeconds": 10}]});
    let e = run_with(single(task_with("flaky", retry)), json!({}), &inv).await;
    assert_eq!(retry_delays(&e), vec![3.0, 7.5, 10.0, 10.0]);
}

#[tokio::test(start_paused = true)]
async fn retry_full_jitter_stays_within_the_backoff() {
    let (inv, _) = flaky("flaky", "Flaky", 100);
    let retry = json!({"Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 10, "MaxAttempts": 6, "JitterStrategy": "FULL"}]});
    let e = run_with(single(task_with("flaky", retry)), json!({}), &inv).await;
    let delays = retry_delays(&e);
    assert_eq!(delays.len(), 6);
    for (i, d) in delays.iter().enumerate() {
        let full = 10.0 * 2f64.powi(i as i32);
        assert!(
            (0.0..=full).contains(d),
            "retry {i}: {d} not within [0, {full}]"
        );
    }
    assert!(
        delays
            .iter()
            .zip(0..)
            .any(|(d, i)| *d < 10.0 * 2f64.powi(i)),
        "jitter never shortened a delay: {delays:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn max_attempts_zero_never_retries() {
    let (inv, calls) = flaky("flaky", "Flaky", 1);
    let e = run_with(
        single(task_with(
            "flaky",
            json!({"Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 0}]}),
        )),
        json!({}),
        &inv,
    )
    .await;
    assert_eq!(error(&e).0, "Flaky");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn each_retrier_counts_its_own_attempts() {
    // Alternating errors A, B, A, B, then success: each retrier allows 2.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inv = functions().sync("alt", move |v| {
        match counter.fetch_add(1, Ordering::SeqCst) {
            0 | 2 => Err(TaskError::new("A", "")),
            1 | 3 => Err(TaskError::new("B", "")),
            _ => Ok(v),
        }
    });
    let retry = json!({"Retry": [{"ErrorEquals": ["A"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 1.0}, {"ErrorEquals": ["B"], "MaxAttempts": 2, "IntervalSeconds": 5, "BackoffRate": 1.0}]});
    let e = run_with(single(task_with("alt", retry)), json!(1), &inv).await;
    assert_eq!(output(&e), json!({"v": 1}));
    assert_eq!(retry_delays(&e), vec![1.0, 5.0, 1.0, 5.0]);
}

#[tokio::test(start_paused = true)]
async fn retry_count_is_in_the_context_object() {
    let (inv, _) = flaky("flaky", "Flaky", 2);
    let state = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "flaky", "Payload": {"retry.$": "$$.State.RetryCount"}}, "OutputPath": "$.Payload", "Retry": [{"ErrorEquals": ["States.ALL"]}], "End": true});
    assert_eq!(
        output(&run_with(single(state), json!({}), &inv).await),
        json!({"retry": 2})
    );
}

// ---------- Catch ----------

/// A failing task `T` with `catch`, and the states the catchers may go to (only those they
/// name, since unreachable states are rejected).
fn caught(catch: Value) -> Value {
    let mut states = json!({"T": task_with("boom", json!({"Catch": catch}))});
    let text = catch.to_string();
    if text.contains("\"Handled\"") {
        states["Handled"] = json!({"Type": "Pass", "End": true});
    }
    if text.contains("\"Other\"") {
        states["Other"] = json!({"Type": "Pass", "Result": "other", "End": true});
    }
    json!({"StartAt": "T", "States": states})
}

#[tokio::test(start_paused = true)]
async fn catch_writes_the_error_at_its_result_path() {
    let doc = caught(json!([{"ErrorEquals": ["Boom"], "ResultPath": "$.err", "Next": "Handled"}]));
    let e = run(doc, json!({"a": 1})).await;
    assert_eq!(
        output(&e),
        json!({"a": 1, "err": {"Error": "Boom", "Cause": "it broke"}})
    );
    assert_eq!(e.entered_states(), vec!["T", "Handled"]);
}

#[tokio::test(start_paused = true)]
async fn catch_result_path_defaults_to_replace() {
    let doc = caught(json!([{"ErrorEquals": ["States.ALL"], "Next": "Handled"}]));
    assert_eq!(
        output(&run(doc, json!({"a": 1})).await),
        json!({"Error": "Boom", "Cause": "it broke"})
    );
}

#[tokio::test(start_paused = true)]
async fn catchers_are_tried_in_order() {
    let doc = caught(json!([
        {"ErrorEquals": ["Other"], "Next": "Other"},
        {"ErrorEquals": ["Boom", "Else"], "ResultPath": null, "Next": "Handled"},
        {"ErrorEquals": ["States.ALL"], "Next": "Other"}
    ]));
    let e = run(doc, json!({"a": 1})).await;
    assert_eq!(output(&e), json!({"a": 1}));
    // States.ALL catches what nothing named.
    let doc = caught(
        json!([{"ErrorEquals": ["Other"], "Next": "Handled"}, {"ErrorEquals": ["States.ALL"], "Next": "Other"}]),
    );
    assert_eq!(output(&run(doc, json!({})).await), json!("other"));
}

#[tokio::test(start_paused = true)]
async fn exhausted_retrier_falls_through_to_catch() {
    let (inv, calls) = flaky("flaky", "Flaky", 100);
    let doc = json!({
        "StartAt": "T",
        "States": {
            "T": task_with("flaky", json!({"Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2}], "Catch": [{"ErrorEquals": ["Flaky"], "ResultPath": "$.e", "Next": "H"}]})),
            "H": {"Type": "Pass", "End": true}
        }
    });
    let e = run_with(doc, json!({}), &inv).await;
    assert_eq!(output(&e)["e"]["Error"], json!("Flaky"));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn task_failed_matches_all_but_timeout() {
    // States.TaskFailed catches a function error …
    let doc = caught(json!([{"ErrorEquals": ["States.TaskFailed"], "Next": "Handled"}]));
    assert_eq!(output(&run(doc, json!({})).await)["Error"], json!("Boom"));
    // … but not a timeout, which falls to the next catcher.
    let slow = functions().function("slow", |v| async move {
        tokio::time::sleep(Duration::from_secs(100)).await;
        Ok(v)
    });
    let doc = json!({
        "StartAt": "T",
        "States": {
            "T": task_with("slow", json!({"TimeoutSeconds": 5, "Catch": [
                {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.e", "Next": "Right"}
            ]})),
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "Right": {"Type": "Pass", "End": true}
        }
    });
    let e = run_with(doc, json!({}), &slow).await;
    assert_eq!(output(&e)["e"]["Error"], json!("States.Timeout"));
    assert_eq!(events(&e, EventKind::TaskTimedOut).len(), 1);
    assert_eq!(elapsed(&e), 5.0);
}

#[tokio::test(start_paused = true)]
async fn runtime_errors_are_not_caught_by_states_all() {
    let doc = json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "echo", "Payload.$": "$.missing"}, "Retry": [{"ErrorEquals": ["States.ALL"]}], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}], "End": true},
            "H": {"Type": "Pass", "End": true}
        }
    });
    let e = run(doc, json!({})).await;
    assert_eq!(error(&e).0, "States.Runtime");
    assert_eq!(e.entered_states(), vec!["T"]);
}

#[tokio::test(start_paused = true)]
async fn intrinsic_failures_are_runtime_errors_not_caught_by_states_all() {
    let doc = json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "echo", "Payload.$": "States.MathAdd($.n, 1)"}, "Retry": [{"ErrorEquals": ["States.ALL"]}], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}], "End": true},
            "H": {"Type": "Pass", "End": true}
        }
    });
    let e = run(doc, json!({"n": "NOT A NUMBER"})).await;
    let (name, cause) = error(&e);
    assert_eq!(name, "States.Runtime");
    assert!(
        cause.starts_with("Invalid arguments in States.MathAdd"),
        "{cause}"
    );
    assert_eq!(e.entered_states(), vec!["T"]);
}

// ---------- Timeouts ----------

#[tokio::test(start_paused = true)]
async fn task_timeout_from_a_path_and_retry() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inv = functions().function("slow", move |v| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            // The first call hangs; the retry answers at once.
            if n == 0 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok(v)
        }
    });
    let doc = single(task_with(
        "slow",
        json!({"TimeoutSecondsPath": "$.limit", "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1}]}),
    ));
    let e = run_with(doc, json!({"limit": 30}), &inv).await;
    assert_eq!(output(&e), json!({"v": {"limit": 30}}));
    assert_eq!(elapsed(&e), 31.0);
}

#[tokio::test(start_paused = true)]
async fn machine_timeout() {
    let doc = json!({"TimeoutSeconds": 10, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let e = run(doc, json!({})).await;
    assert_eq!(e.status, Status::TimedOut);
    assert_eq!(e.error.as_ref().unwrap().error, "States.Timeout");
    assert_eq!(e.history.last().unwrap().kind, EventKind::ExecutionTimedOut);
    assert_eq!(elapsed(&e), 10.0);
}

// ---------- Parallel ----------

#[tokio::test(start_paused = true)]
async fn parallel_runs_branches_on_the_same_input() {
    let doc = single(json!({
        "Type": "Parallel",
        "Parameters": {"n.$": "$.n"},
        "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:add1", "InputPath": "$.n", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 5, "Next": "B2"}, "B2": {"Type": "Pass", "OutputPath": "$.n", "End": true}}}
        ],
        "ResultSelector": {"sum.$": "$"},
        "ResultPath": "$.out",
        "End": true
    }));
    let e = run(doc, json!({"n": 1})).await;
    assert_eq!(output(&e), json!({"n": 1, "out": {"sum": [2, 1]}}));
    assert_eq!(elapsed(&e), 5.0);
    assert_eq!(e.transitions, 4);
}

#[tokio::test(start_paused = true)]
async fn parallel_fails_with_the_first_failing_branch_and_cancels_the_rest() {
    let finished = Arc::new(AtomicUsize::new(0));
    let done = finished.clone();
    let inv = functions().function("slow", move |v| {
        let done = done.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(100)).await;
            done.fetch_add(1, Ordering::SeqCst);
            Ok(v)
        }
    });
    let doc = json!({
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Slow", "States": {"Slow": lambda("slow")}},
                    {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1, "Next": "Fails"}, "Fails": {"Type": "Fail", "Error": "BranchBroke", "Cause": "b"}}}
                ],
                "Catch": [{"ErrorEquals": ["BranchBroke"], "ResultPath": "$.e", "Next": "Caught"}],
                "End": true
            },
            "Caught": {"Type": "Pass", "End": true}
        }
    });
    let e = run_with(doc, json!({}), &inv).await;
    assert_eq!(
        output(&e),
        json!({"e": {"Error": "BranchBroke", "Cause": "b"}})
    );
    assert_eq!(finished.load(Ordering::SeqCst), 0);
    assert_eq!(elapsed(&e), 1.0);
    assert_eq!(events(&e, EventKind::ParallelStateFailed).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn uncaught_branch_failure_names_the_inner_state() {
    let doc = single(
        json!({"Type": "Parallel", "Branches": [{"StartAt": "X", "States": {"X": lambda("boom")}}], "End": true}),
    );
    let e = run(doc, json!({})).await;
    assert_eq!(error(&e).0, "Boom");
    assert_eq!(e.failed_state.as_deref(), Some("X"));
}

// ---------- Map ----------

#[tokio::test(start_paused = true)]
async fn map_with_item_selector_and_context() {
    let doc = single(json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Add", "States": {
            "Add": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:add1", "InputPath": "$.value", "ResultPath": "$.value", "End": true}
        }},
        "ResultPath": "$.results",
        "End": true
    }));
    let e = run(doc, json!({"items": [10, 20], "tag": "t"})).await;
    assert_eq!(
        output(&e)["results"],
        json!([{"index": 0, "value": 11, "tag": "t"}, {"index": 1, "value": 21, "tag": "t"}])
    );
    assert_eq!(events(&e, EventKind::MapIterationStarted).len(), 2);
    assert_eq!(
        events(&e, EventKind::MapStateStarted)[0].details()["length"],
        json!(2)
    );
}

#[tokio::test(start_paused = true)]
async fn map_with_older_iterator_and_parameters() {
    let doc = single(json!({
        "Type": "Map",
        "Parameters": {"i.$": "$$.Map.Item.Value"},
        "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": "$.i", "End": true}}},
        "End": true
    }));
    assert_eq!(output(&run(doc, json!([1, 2, 3])).await), json!([1, 2, 3]));
    let e = run(single(json!({"Type": "Map", "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true})), json!({"not": "a list"})).await;
    assert_eq!(error(&e).0, "States.Runtime");
    assert_eq!(output(&run(single(json!({"Type": "Map", "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true})), json!([])).await), json!([]));
}

/// A function that records how many calls run at once.
fn counting() -> (InProcess, Arc<AtomicUsize>) {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let peak_seen = peak.clone();
    let inv = functions().function("count", move |v| {
        let (running, peak) = (running.clone(), peak_seen.clone());
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(1)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(v)
        }
    });
    (inv, peak)
}

fn counting_map(concurrency: Value) -> Value {
    let mut state = json!({"Type": "Map", "ItemProcessor": {"StartAt": "C", "States": {"C": lambda("count")}}, "ResultSelector": {"n.$": "States.ArrayLength($)"}, "End": true});
    if let Some(obj) = concurrency.as_object() {
        for (k, v) in obj {
            state[k] = v.clone();
        }
    }
    single(state)
}

#[tokio::test(start_paused = true)]
async fn map_honours_max_concurrency() {
    let items: Vec<i32> = (0..10).collect();
    let (inv, peak) = counting();
    let e = run_with(
        counting_map(json!({"MaxConcurrency": 3})),
        json!(items),
        &inv,
    )
    .await;
    assert_eq!(output(&e), json!({"n": 10}));
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    // 10 items, 3 at a time, 1 s each: 4 rounds.
    assert_eq!(elapsed(&e), 4.0);

    let (inv, peak) = counting();
    let e = run_with(
        counting_map(json!({"MaxConcurrencyPath": "$[0]"})),
        json!([2, 1, 1, 1]),
        &inv,
    )
    .await;
    assert_eq!(output(&e), json!({"n": 4}));
    assert_eq!(peak.load(Ordering::SeqCst), 2);

    let (inv, peak) = counting();
    let e = run_with(counting_map(json!({})), json!(items), &inv).await;
    assert_eq!(output(&e), json!({"n": 10}));
    assert_eq!(peak.load(Ordering::SeqCst), 10);
    assert_eq!(elapsed(&e), 1.0);
}

fn picky_map(tolerance: Value) -> Value {
    let mut state = json!({
        "Type": "Map",
        "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "BooleanEquals": true, "Next": "Ok"}], "Default": "Bad"},
            "Ok": {"Type": "Succeed"},
            "Bad": {"Type": "Fail", "Error": "BadItem", "Cause": "false"}
        }},
        "End": true
    });
    for (k, v) in tolerance.as_object().unwrap() {
        state[k] = v.clone();
    }
    single(state)
}

#[tokio::test(start_paused = true)]
async fn map_failure_without_tolerance_fails_with_the_item_error() {
    let e = run(picky_map(json!({})), json!([true, false, true])).await;
    assert_eq!(error(&e).0, "BadItem");
    assert_eq!(e.failed_state.as_deref(), Some("Bad"));
}

#[tokio::test(start_paused = true)]
async fn map_tolerated_failures() {
    let items = json!([true, false, true, false]);
    let e = run(
        picky_map(json!({"ToleratedFailureCount": 2})),
        items.clone(),
    )
    .await;
    assert_eq!(
        output(&e),
        json!([true, {"Error": "BadItem", "Cause": "false"}, true, {"Error": "BadItem", "Cause": "false"}])
    );
    let e = run(
        picky_map(json!({"ToleratedFailureCount": 1})),
        items.clone(),
    )
    .await;
    assert_eq!(error(&e).0, "States.ExceedToleratedFailureThreshold");
    assert_eq!(
        output(
            &run(
                picky_map(json!({"ToleratedFailurePercentage": 50})),
                items.clone()
            )
            .await
        )[0],
        json!(true)
    );
    let e = run(
        picky_map(json!({"ToleratedFailurePercentage": 49.9})),
        items.clone(),
    )
    .await;
    assert_eq!(error(&e).0, "States.ExceedToleratedFailureThreshold");
    let e = run(
        picky_map(json!({"ToleratedFailureCountPath": "$.n", "ItemsPath": "$.xs"})),
        json!({"n": 0, "xs": [false]}),
    )
    .await;
    assert_eq!(error(&e).0, "States.ExceedToleratedFailureThreshold");
    let e = run(
        picky_map(json!({"ToleratedFailurePercentagePath": "$.p", "ItemsPath": "$.xs"})),
        json!({"p": 100, "xs": [false, false]}),
    )
    .await;
    assert_eq!(e.status, Status::Succeeded);
}

// ---------- Context object ----------

#[tokio::test(start_paused = true)]
async fn context_object_fields() {
    let state = json!({"Type": "Pass", "Parameters": {
        "exec.$": "$$.Execution.Name",
        "id.$": "$$.Execution.Id",
        "input.$": "$$.Execution.Input",
        "role.$": "$$.Execution.RoleArn",
        "start.$": "$$.Execution.StartTime",
        "state.$": "$$.State.Name",
        "entered.$": "$$.State.EnteredTime",
        "retries.$": "$$.State.RetryCount",
        "machine.$": "$$.StateMachine.Name",
        "machineId.$": "$$.StateMachine.Id"
    }, "End": true});
    let m = machine(&single(state)).with_name("Orders");
    let e = execute(
        &m,
        json!({"k": 1}),
        &functions(),
        &ExecutionOptions {
            name: "exec-1".into(),
            ..Default::default()
        },
    )
    .await;
    let out = output(&e);
    assert_eq!(out["exec"], json!("exec-1"));
    assert_eq!(
        out["id"],
        json!("arn:aws:states:us-east-1:123456789012:execution:Orders:exec-1")
    );
    assert_eq!(out["input"], json!({"k": 1}));
    assert_eq!(out["state"], json!("S"));
    assert_eq!(out["retries"], json!(0));
    assert_eq!(out["machine"], json!("Orders"));
    assert_eq!(
        out["machineId"],
        json!("arn:aws:states:us-east-1:123456789012:stateMachine:Orders")
    );
    assert!(out["role"].as_str().unwrap().starts_with("arn:aws:iam::"));
    for field in ["start", "entered"] {
        let t = out[field].as_str().unwrap();
        assert!(super::time::parse_timestamp(t).is_some(), "{field}: {t}");
    }
}

#[tokio::test(start_paused = true)]
async fn generated_execution_names_are_unique() {
    let m = machine(&single(
        json!({"Type": "Pass", "Parameters": {"n.$": "$$.Execution.Name"}, "End": true}),
    ));
    let a = execute(&m, json!({}), &functions(), &ExecutionOptions::default()).await;
    let b = execute(&m, json!({}), &functions(), &ExecutionOptions::default()).await;
    assert_ne!(output(&a)["n"], output(&b)["n"]);
    assert_eq!(output(&a)["n"].as_str().unwrap().len(), 36);
}

// ---------- History ----------

#[tokio::test(start_paused = true)]
async fn history_of_a_small_machine() {
    let doc = json!({
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Next": "Call"},
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "echo", "Payload.$": "$"}, "OutputPath": "$.Payload", "Next": "Pick"},
            "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": true, "Next": "Pause"}], "Default": "Stop"},
            "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "Stop": {"Type": "Fail", "Error": "Stopped"}
        }
    });
    let e = run(doc.clone(), json!({"go": true})).await;
    assert_eq!(
        kinds(&e),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "WaitStateEntered",
            "WaitStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, ev) in e.history.iter().enumerate() {
        assert_eq!(ev.id, i as u64 + 1);
        assert_eq!(ev.previous_event_id, i as u64);
    }
    assert_eq!(
        e.entered_states(),
        ["Init", "Call", "Pick", "Pause", "Done"]
    );
    assert_eq!(
        e.history[1].details(),
        json!({"name": "Init", "input": {"go": true}})
    );
    assert_eq!(
        e.history[4].details()["parameters"],
        json!({"FunctionName": "echo", "Payload": {"go": true}})
    );
    assert_eq!(e.history[0].details()["input"], json!({"go": true}));
    assert_eq!(
        e.history.last().unwrap().details(),
        json!({"output": {"go": true}})
    );
    assert_eq!(gap(&e.history[10], &e.history[11]), 2.0);
    assert_eq!(e.transitions, 5);

    let e = run(doc, json!({"go": false})).await;
    assert_eq!(
        kinds(&e)[8..],
        [
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "FailStateEntered",
            "ExecutionFailed"
        ]
    );
    assert_eq!(
        e.history.last().unwrap().details(),
        json!({"error": "Stopped", "cause": ""})
    );
    assert_eq!(e.failed_state.as_deref(), Some("Stop"));
}

#[tokio::test(start_paused = true)]
async fn history_of_parallel_and_map_nests_events() {
    let doc = json!({
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Branches": [
                {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true}}}
            ], "End": true}
        }
    });
    let e = run(doc, json!([1])).await;
    assert_eq!(
        kinds(&e),
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapIterationStarted",
            "PassStateEntered",
            "PassStateExited",
            "MapIterationSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(e.entered_states(), ["P", "M", "I"]);
}

#[tokio::test(start_paused = true)]
async fn history_off_records_nothing() {
    let doc = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": true}}});
    let e = execute(
        &machine(&doc),
        json!(1),
        &functions(),
        &ExecutionOptions {
            history: false,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(output(&e), json!(1));
    assert!(e.history.is_empty());
    assert!(e.entered_states().is_empty());
    assert_eq!(e.transitions, 2);
}

#[tokio::test(start_paused = true)]
async fn retried_task_history() {
    let (inv, _) = flaky("flaky", "Flaky", 1);
    let e = run_with(
        single(task_with(
            "flaky",
            json!({"Retry": [{"ErrorEquals": ["Flaky"]}]}),
        )),
        json!({}),
        &inv,
    )
    .await;
    assert_eq!(
        kinds(&e)[1..8],
        [
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded"
        ]
    );
    assert_eq!(e.history[4].details()["error"], json!("Flaky"));
}

#[test]
fn execution_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let m = machine(&single(json!({"Type": "Pass", "End": true})));
    let inv = functions();
    let options = ExecutionOptions::default();
    let fut = execute(&m, json!(1), &inv, &options);
    assert_send(&fut);
}

#[test]
fn runs_on_a_multi_thread_runtime_with_real_time() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let m = machine(
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "Next": "T"}, "T": lambda("add1")}}),
    );
    let inv = functions();
    let e = rt.block_on(execute(&m, json!(1), &inv, &ExecutionOptions::default()));
    assert_eq!(output(&e), json!({"v": 2}));
}

#[tokio::test(start_paused = true)]
async fn lambda_invoke_results_do_not_depend_on_the_history_setting() {
    // A result read only at `$.Payload…` lets the engine skip building the rest of the Invoke
    // response when no history shows it; the output must not change.
    let task = |extra: Value| {
        let mut state = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "echo", "Payload.$": "$"}, "End": true});
        for (k, v) in extra.as_object().unwrap() {
            state[k] = v.clone();
        }
        single(state)
    };
    for doc in [
        task(json!({"ResultSelector": {"v.$": "$.Payload"}})),
        task(json!({"ResultSelector": {"code.$": "$.StatusCode", "n.$": "$.Payload.n"}})),
        task(
            json!({"ResultSelector": {"all.$": "$.Payload", "n.$": "States.MathAdd($.Payload.n, 1)"}}),
        ),
        task(json!({"OutputPath": "$.Payload.n"})),
        task(json!({"OutputPath": "$.StatusCode"})),
        task(json!({"OutputPath": "$.r.StatusCode", "ResultPath": "$.r"})),
    ] {
        let m = machine(&doc);
        let on = execute(
            &m,
            json!({"n": 1}),
            &functions(),
            &ExecutionOptions::default(),
        )
        .await;
        let off = execute(
            &m,
            json!({"n": 1}),
            &functions(),
            &ExecutionOptions {
                history: false,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(on.status, Status::Succeeded, "{doc}");
        assert_eq!(on.output, off.output, "{doc}");
    }
}

/// The execution with the history on and off: the same outcome either way (causes compared
/// unless they show an Invoke response, whose request id is random).
async fn same_with_and_without_history(doc: &Value, input: Value) -> Execution {
    let m = machine(doc);
    let with = |history: bool| ExecutionOptions {
        name: "same".into(),
        history,
        ..Default::default()
    };
    let on = execute(&m, input.clone(), &functions(), &with(true)).await;
    let off = execute(&m, input, &functions(), &with(false)).await;
    assert_eq!(on.status, off.status, "{doc}");
    assert_eq!(on.output, off.output, "{doc}");
    assert_eq!(on.failed_state, off.failed_state, "{doc}");
    match (&on.error, &off.error) {
        (Some(a), Some(b)) => {
            assert_eq!(a.error, b.error, "{doc}");
            if !a.cause.contains("RequestId") {
                assert_eq!(a.cause, b.cause, "{doc}");
            }
        }
        (a, b) => assert_eq!(a, b, "{doc}"),
    }
    on
}

#[tokio::test(start_paused = true)]
async fn taken_and_shared_values_give_the_same_outcomes() {
    // Without the history, a value nothing needs any more is taken instead of copied; with
    // it, values are shared with the history and copied before a change.
    let invoke = |function: &str, extra: Value| {
        let mut state = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": function, "Payload.$": "$"}, "End": true});
        for (k, v) in extra.as_object().unwrap() {
            state[k] = v.clone();
        }
        single(state)
    };
    let docs = [
        invoke("echo", json!({"OutputPath": "$.Payload.missing"})),
        invoke(
            "echo",
            json!({"ResultSelector": {"v.$": "$.Payload.missing"}}),
        ),
        invoke(
            "echo",
            json!({"ResultSelector": {"v.$": "$.Payload.n", "w.$": "$.Payload"}, "ResultPath": "$.r"}),
        ),
        invoke(
            "echo",
            json!({"Parameters": {"FunctionName": "echo", "Payload.$": "$.n", "Qualifier.$": "$.missing"}}),
        ),
        invoke(
            "echo",
            json!({"Parameters": {"FunctionName.$": "$.f", "Payload": {"fixed.$": "$.n"}}, "OutputPath": "$.Payload"}),
        ),
        invoke(
            "echo",
            json!({"InputPath": "$.n", "Parameters": {"FunctionName": "add1", "Payload.$": "$"}, "OutputPath": "$.Payload"}),
        ),
        invoke(
            "boom",
            json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]}),
        ),
        invoke(
            "boom",
            json!({"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "H"}]}),
        ),
        invoke(
            "boom",
            json!({"Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1}], "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": "H"}]}),
        ),
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"m.$": "$.n", "name.$": "$$.Execution.Name"}, "Next": "B"},
            "B": {"Type": "Pass", "Result": {"x": [1]}, "ResultPath": "$.r", "Next": "C"},
            "C": {"Type": "Pass", "Result": {"x": [1]}, "Next": "D"},
            "D": {"Type": "Pass", "InputPath": "$.x", "ResultPath": "$.y", "Next": "E"},
            "E": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "ResultSelector": {"z.$": "$"}, "End": true}
        }}),
    ];
    for mut doc in docs {
        let catches = doc.to_string().contains(r#""Next":"H""#);
        if let (true, Some(states)) = (catches, doc["States"].as_object_mut()) {
            states.insert("H".into(), json!({"Type": "Pass", "End": true}));
        }
        same_with_and_without_history(&doc, json!({"n": 1, "f": "echo"})).await;
    }
    let e = same_with_and_without_history(&docs_parallel_example(), json!({"n": 1})).await;
    assert_eq!(
        output(&e),
        json!([{"n": 1, "b": 1}, {"n": 1, "b": 2}, {"n": 1}])
    );
}

fn docs_parallel_example() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Result": 1, "ResultPath": "$.b", "End": true}}},
        {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Result": 2, "ResultPath": "$.b", "End": true}}},
        {"StartAt": "B3", "States": {"B3": {"Type": "Pass", "End": true}}}
    ]}}})
}

#[tokio::test(start_paused = true)]
async fn the_history_keeps_each_version_of_a_changing_value() {
    let doc = json!({"StartAt": "Merge", "States": {
        "Merge": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "Next": "Call"},
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "echo", "Payload.$": "$"}, "ResultSelector": {"echoed.$": "$.Payload"}, "ResultPath": "$.call", "End": true}
    }});
    let e = run(doc, json!({"n": 1})).await;
    let details = |kind: EventKind| events(&e, kind)[0].details();
    assert_eq!(
        details(EventKind::PassStateEntered)["input"],
        json!({"n": 1})
    );
    let merged = json!({"n": 1, "r": {"x": 1}});
    assert_eq!(details(EventKind::PassStateExited)["output"], merged);
    assert_eq!(details(EventKind::TaskStateEntered)["input"], merged);
    assert_eq!(
        details(EventKind::TaskScheduled)["parameters"]["Payload"],
        merged
    );
    let response = &details(EventKind::TaskSucceeded)["output"];
    assert_eq!(response["Payload"], merged);
    assert_eq!(
        response["SdkResponseMetadata"]["RequestId"],
        response["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]
    );
    let last = json!({"n": 1, "r": {"x": 1}, "call": {"echoed": merged}});
    assert_eq!(details(EventKind::TaskStateExited)["output"], last);
    assert_eq!(output(&e), last);
    // Read twice, the details are the same (the request id is kept, not drawn again).
    assert_eq!(
        details(EventKind::TaskSucceeded),
        details(EventKind::TaskSucceeded)
    );
}

#[tokio::test(start_paused = true)]
async fn a_payload_path_that_selects_nothing_shows_the_whole_response() {
    for extra in [
        json!({"OutputPath": "$.Payload.missing"}),
        json!({"ResultSelector": {"v.$": "$.Payload.missing"}}),
    ] {
        let mut state = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "echo", "Payload.$": "$"}, "End": true});
        for (k, v) in extra.as_object().unwrap() {
            state[k] = v.clone();
        }
        let (name, cause) = error(&run(single(state), json!({"n": 1})).await);
        assert_eq!(name, "States.Runtime");
        assert!(
            cause.contains("'$.Payload.missing'")
                && cause.contains("\"Payload\":{\"n\":1}")
                && cause.contains("StatusCode"),
            "{cause}"
        );
    }
}

/// Counts `$.n` up to `$.stop`: 4 events a round, 4 more around them.
fn counting_loop() -> Value {
    json!({"StartAt": "Count", "States": {
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "stop.$": "$.stop"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEqualsPath": "$.stop", "Next": "Done"}], "Default": "Count"},
        "Done": {"Type": "Succeed"}
    }})
}

#[tokio::test(start_paused = true)]
async fn the_history_holds_25000_events_at_most() {
    // 4 × 6249 + 4 = 25,000 events: the last one is ExecutionSucceeded, which AWS allows.
    let e = same_with_and_without_history(&counting_loop(), json!({"n": 0, "stop": 6249})).await;
    assert_eq!(output(&e), json!({"n": 6249, "stop": 6249}));
    assert_eq!(e.history.len(), 25_000);

    // One round more: event 25,000 would be the Choice state's entry; the execution fails
    // there instead, as AWS reports it.
    let e = same_with_and_without_history(&counting_loop(), json!({"n": 0, "stop": 6250})).await;
    let (name, cause) = error(&e);
    assert_eq!(name, "States.Runtime");
    assert_eq!(
        cause,
        "The execution reached the maximum number of history events (25000)."
    );
    assert_eq!(e.failed_state.as_deref(), Some("Check"));
    assert_eq!(e.history.len(), 25_000);
    let last = e.history.last().unwrap();
    assert_eq!(
        (last.id, last.previous_event_id, last.kind),
        (25_000, 24_999, EventKind::ExecutionFailed)
    );
    assert_eq!(e.history[24_998].kind, EventKind::PassStateExited);
    assert_eq!(last.details()["error"], json!("States.Runtime"));
}

#[tokio::test(start_paused = true)]
async fn an_endless_loop_ends_at_the_history_limit() {
    let doc = json!({"StartAt": "Spin", "States": {
        "Spin": {"Type": "Pass", "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.spin", "BooleanEquals": true, "Next": "Spin"}], "Default": "Out"},
        "Out": {"Type": "Succeed"}
    }});
    let e = same_with_and_without_history(&doc, json!({"spin": true})).await;
    assert_eq!(error(&e).0, "States.Runtime");
    assert_eq!(e.history.len(), 25_000);
    // Parallel branches and retries count too; a function is not called past the limit.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inv = functions().sync("flaky", move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Err::<Value, _>(TaskError::new("Flaky", "again"))
    });
    let doc = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "flaky", "Payload": {}}, "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 99999999, "IntervalSeconds": 1, "BackoffRate": 1}], "End": true}}}
    ]}}});
    let e = run_with(doc, json!({}), &inv).await;
    assert_eq!(error(&e).0, "States.Runtime");
    assert_eq!(e.failed_state.as_deref(), Some("T"));
    assert_eq!(e.history.len(), 25_000);
    // 5 events before the first call (ExecutionStarted, ParallelStateEntered,
    // ParallelStateStarted, TaskStateEntered), then 3 per attempt (TaskScheduled,
    // TaskStarted, TaskFailed): the call whose TaskStarted would be event 25,000 is not made.
    let attempts = calls.load(Ordering::SeqCst);
    let counted_started = 4 + 3 * (attempts - 1) + 2;
    assert!(counted_started < 25_000, "{attempts}");
}

#[test]
fn a_busy_loop_lets_other_work_run() {
    // Pass states jumping to each other until the history limit ends them: the run yields
    // now and then, so that other work on the thread (a timeout, another execution) goes on.
    let doc = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.never", "IsPresent": true, "Next": "End"}], "Default": "A"},
        "End": {"Type": "Succeed"}
    }});
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let m = machine(&doc);
    let other_work = AtomicUsize::new(0);
    let e = rt.block_on(async {
        let options = ExecutionOptions {
            history: false,
            ..Default::default()
        };
        let other = async {
            loop {
                other_work.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        };
        let invoker = functions();
        tokio::select! {
            e = execute(&m, json!({}), &invoker, &options) => e,
            () = other => unreachable!("the other work never ends"),
        }
    });
    assert_eq!(error(&e).0, "States.Runtime");
    assert!(e.transitions > 12_000, "{}", e.transitions);
    assert!(
        other_work.load(Ordering::SeqCst) > 50,
        "{other_work:?} turns of other work"
    );
}

#[tokio::test(start_paused = true)]
async fn each_distributed_map_child_has_its_own_history_limit() {
    // 10 children of 4 × 1000 events each: 40,000 events in all, but no execution (the parent
    // or a child) reaches 25,000.
    let mut processor = counting_loop();
    processor["ProcessorConfig"] = json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"});
    let doc = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": true}}});
    let items: Vec<Value> = (0..10).map(|_| json!({"n": 0, "stop": 1000})).collect();
    let e = run(doc.clone(), Value::Array(items)).await;
    assert_eq!(output(&e).as_array().map(Vec::len), Some(10));
    // A child that loops forever fails at its own limit.
    let e = run(doc, json!([{"n": 0, "stop": -1}])).await;
    assert_eq!(error(&e).0, "States.Runtime");
    assert_eq!(
        kinds(&e),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapRunStarted",
            "MapRunFailed",
            "ExecutionFailed"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn distributed_map_keeps_child_states_out_of_the_history() {
    let mut doc = picky_map(json!({"ToleratedFailureCount": 1}));
    doc["States"]["S"]["ItemProcessor"]["ProcessorConfig"] =
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"});
    let e = run(doc.clone(), json!([true, false])).await;
    assert_eq!(
        output(&e),
        json!([true, {"Error": "BadItem", "Cause": "false"}])
    );
    assert_eq!(e.entered_states(), ["S"]);
    assert_eq!(
        kinds(&e),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(e.transitions, 5);
    // Without a tolerance, one failed child fails the Map Run.
    doc["States"]["S"]
        .as_object_mut()
        .unwrap()
        .remove("ToleratedFailureCount");
    let e = run(doc, json!([true, false])).await;
    assert_eq!(error(&e).0, "States.ExceedToleratedFailureThreshold");
    assert_eq!(e.failed_state.as_deref(), Some("S"));
    assert_eq!(kinds(&e)[3], "MapRunFailed");
}
