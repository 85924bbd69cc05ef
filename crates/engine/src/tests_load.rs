//! `load` tests: valid documents compile; invalid ones are rejected with the state and field
//! named; unsupported resources are explained; no document, however mangled, panics.

use super::*;
use serde_json::{json, Value};

fn errors(doc: &Value) -> Vec<AslError> {
    match load(doc) {
        Ok(_) => panic!("expected errors for {doc}"),
        Err(errors) => errors,
    }
}

/// Asserts one of the errors is at `state`/`field` and mentions `text`.
fn rejects(doc: Value, state: Option<&str>, field: &str, text: &str) {
    let errs = errors(&doc);
    assert!(
        errs.iter()
            .any(|e| e.state.as_deref() == state && e.field == field && e.message.contains(text)),
        "wanted state {state:?}, field `{field}`, message containing {text:?}; got:\n{}",
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn with_state(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state, "End": {"Type": "Succeed"}}})
}

#[test]
fn a_full_valid_document_loads() {
    let doc = json!({
        "Comment": "everything",
        "Version": "1.0",
        "TimeoutSeconds": 300,
        "QueryLanguage": "JSONPath",
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Comment": "c", "InputPath": "$", "OutputPath": "$", "Parameters": {"a.$": "$"}, "ResultPath": "$.r", "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "ResultSelector": {"p.$": "$.Payload"},
                  "TimeoutSeconds": 10, "HeartbeatSeconds": 5,
                  "Retry": [{"ErrorEquals": ["A"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.5, "MaxDelaySeconds": 10, "JitterStrategy": "FULL", "Comment": "r"}, {"ErrorEquals": ["States.ALL"]}],
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.e", "Next": "F"}], "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Not": {"Variable": "$.x", "IsPresent": true}, "Next": "W"}], "Default": "M"},
            "W": {"Type": "Wait", "TimestampPath": "$.t", "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.xs", "ItemSelector": {"i.$": "$$.Map.Item.Value"}, "MaxConcurrency": 2, "ToleratedFailurePercentage": 10,
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "Next": "Par"},
            "Par": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}], "Next": "Ok"},
            "Ok": {"Type": "Succeed"},
            "F": {"Type": "Fail", "ErrorPath": "$.e.Error", "CausePath": "States.Format('{}', $.e.Cause)"}
        }
    });
    let m = load(&doc).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(m.timeout, Some(std::time::Duration::from_secs(300)));
}

#[test]
fn machine_level_problems() {
    rejects(json!([]), None, "", "JSON object");
    rejects(
        json!({"States": {"A": {"Type": "Succeed"}}}),
        None,
        "StartAt",
        "required",
    );
    rejects(
        json!({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}),
        None,
        "StartAt",
        "no state named `B`",
    );
    rejects(
        json!({"StartAt": "A", "States": {}}),
        None,
        "States",
        "at least one",
    );
    rejects(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "TimeoutSeconds": 0}),
        None,
        "TimeoutSeconds",
        "integer",
    );
    rejects(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Timeout": 1}),
        None,
        "Timeout",
        "did you mean `TimeoutSeconds`",
    );
    rejects(
        json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {"A": {"Type": "Succeed", "QueryLanguage": "JSONPath"}}}),
        Some("States.A"),
        "QueryLanguage",
        "cannot be JSONPath in a JSONata state machine",
    );
    rejects(
        json!({"StartAt": "Start", "States": {"Start": {"Type": "Pass", "Next": "Start"}}}),
        None,
        "States",
        "no state ends",
    );
}

#[test]
fn transitions() {
    rejects(
        with_state(json!({"Type": "Pass", "Next": "Endd"})),
        Some("States.S"),
        "Next",
        "did you mean `End`",
    );
    rejects(
        with_state(json!({"Type": "Pass"})),
        Some("States.S"),
        "Next",
        "needs `Next`",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "End": true})),
        Some("States.S"),
        "End",
        "not both",
    );
    rejects(
        with_state(json!({"Type": "Pass", "End": false})),
        Some("States.S"),
        "End",
        "must be true",
    );
    rejects(
        with_state(json!({"Type": "Succeed", "Next": "End"})),
        Some("States.S"),
        "Next",
        "cannot have",
    );
    rejects(
        with_state(json!({"Type": "Fail", "End": true})),
        Some("States.S"),
        "End",
        "cannot have",
    );
    rejects(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Lost": {"Type": "Succeed"}}}),
        Some("States.Lost"),
        "",
        "not reachable",
    );
    let long = "x".repeat(81);
    rejects(
        json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}}),
        Some(&format!("States.{long}")),
        "",
        "80 characters",
    );
}

#[test]
fn unknown_fields_and_types() {
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "ResultPat": "$"})),
        Some("States.S"),
        "ResultPat",
        "did you mean `ResultPath`",
    );
    rejects(
        with_state(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "Next": "End", "Retries": []}),
        ),
        Some("States.S"),
        "Retries",
        "did you mean `Retry`",
    );
    rejects(
        with_state(json!({"Type": "Pas", "Next": "End"})),
        Some("States.S"),
        "Type",
        "did you mean `Pass`",
    );
    rejects(
        with_state(json!({"Next": "End"})),
        Some("States.S"),
        "Type",
        "required",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "Assign": {"states": 1}})),
        Some("States.S"),
        "Assign.states",
        "reserved",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "Assign": {"1x": 1}})),
        Some("States.S"),
        "Assign.1x",
        "not a variable name",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "Output": {}})),
        Some("States.S"),
        "Output",
        "add `\"QueryLanguage\": \"JSONata\"`",
    );
    rejects(
        with_state(
            json!({"Type": "Pass", "QueryLanguage": "JSONata", "Next": "End", "Parameters": {}}),
        ),
        Some("States.S"),
        "Parameters",
        "is a JSONPath field",
    );
    rejects(
        with_state(
            json!({"Type": "Pass", "QueryLanguage": "JSONata", "Next": "End", "Output": {"a": "{% a[ %}"}}),
        ),
        Some("States.S"),
        "Output",
        "is not a JSONata expression",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "ResultPath": "$total"})),
        Some("States.S"),
        "ResultPath",
        "use `Assign` to set a variable",
    );
    rejects(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
            "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "In", "States": {
                "In": {"Type": "Pass", "Assign": {"x": 2}, "End": true}}}}}}),
        Some("States.M.ItemProcessor.States.In"),
        "Assign",
        "assigned in an outer scope too (by `States.A`)",
    );
    rejects(
        with_state(
            json!({"Type": "Choice", "Choices": [{"Variable": "$", "StringEqual": "x", "Next": "End"}]}),
        ),
        Some("States.S"),
        "Choices[0].StringEqual",
        "did you mean `StringEquals`",
    );
    rejects(with_state(json!(3)), Some("States.S"), "", "JSON object");
}

#[test]
fn field_types_and_values() {
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "InputPath": "a.b"})),
        Some("States.S"),
        "InputPath",
        "starts with `$`",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "ResultPath": "$.a[*]"})),
        Some("States.S"),
        "ResultPath",
        "reference path",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "Parameters": {"a.$": "nope"}})),
        Some("States.S"),
        "Parameters",
        "`a.$`",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "Parameters": {"a.$": "States.Nope()"}})),
        Some("States.S"),
        "Parameters",
        "intrinsic",
    );
    rejects(
        with_state(json!({"Type": "Pass", "Next": "End", "Parameters": "x"})),
        Some("States.S"),
        "Parameters",
        "JSON object",
    );
    rejects(
        with_state(json!({"Type": "Wait", "Next": "End"})),
        Some("States.S"),
        "Seconds",
        "needs one of",
    );
    rejects(
        with_state(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "Next": "End"})),
        Some("States.S"),
        "SecondsPath",
        "exactly one",
    );
    rejects(
        with_state(json!({"Type": "Wait", "Seconds": -1, "Next": "End"})),
        Some("States.S"),
        "Seconds",
        "integer",
    );
    rejects(
        with_state(json!({"Type": "Wait", "Timestamp": "2024-01-01 00:00:00", "Next": "End"})),
        Some("States.S"),
        "Timestamp",
        "RFC 3339",
    );
    rejects(
        with_state(json!({"Type": "Fail", "Error": "a", "ErrorPath": "$.e"})),
        Some("States.S"),
        "ErrorPath",
        "not both",
    );
    rejects(
        with_state(json!({"Type": "Fail", "Cause": 3})),
        Some("States.S"),
        "Cause",
        "string",
    );
    rejects(
        with_state(json!({"Type": "Choice", "Choices": []})),
        Some("States.S"),
        "Choices",
        "at least one",
    );
    rejects(
        with_state(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": "1", "Next": "End"}]}),
        ),
        Some("States.S"),
        "Choices[0].NumericEquals",
        "a number",
    );
    rejects(
        with_state(json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1}]})),
        Some("States.S"),
        "Choices[0].Next",
        "needs `Next`",
    );
    rejects(
        with_state(
            json!({"Type": "Choice", "Choices": [{"And": [{"Variable": "$.n", "IsNull": true, "Next": "End"}], "Next": "End"}]}),
        ),
        Some("States.S"),
        "Choices[0].And[0].Next",
        "only a top-level",
    );
    rejects(
        with_state(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "IsNull": true, "IsString": true, "Next": "End"}]}),
        ),
        Some("States.S"),
        "Choices[0].IsString",
        "one operator",
    );
    rejects(
        with_state(json!({"Type": "Choice", "Choices": [{"StringEquals": "x", "Next": "End"}]})),
        Some("States.S"),
        "Choices[0].Variable",
        "needs a `Variable`",
    );
    rejects(
        with_state(
            json!({"Type": "Choice", "Choices": [{"Variable": "$", "IsNull": true, "Next": "End"}], "Default": "Nowhere"}),
        ),
        Some("States.S"),
        "Default",
        "no state named",
    );
    rejects(
        with_state(
            json!({"Type": "Choice", "Choices": [{"Variable": "$", "TimestampEquals": "yesterday", "Next": "End"}]}),
        ),
        Some("States.S"),
        "Choices[0].TimestampEquals",
        "RFC 3339",
    );
}

#[test]
fn retry_and_catch_rules() {
    let task = |extra: Value| {
        let mut t = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "Next": "End"});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        with_state(t)
    };
    rejects(
        task(json!({"Retry": [{"ErrorEquals": ["States.ALL", "X"]}]})),
        Some("States.S"),
        "Retry[0].ErrorEquals",
        "alone",
    );
    rejects(
        task(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]})),
        Some("States.S"),
        "Retry[0].ErrorEquals",
        "last",
    );
    rejects(
        task(
            json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "End"}, {"ErrorEquals": ["X"], "Next": "End"}]}),
        ),
        Some("States.S"),
        "Catch[0].ErrorEquals",
        "last",
    );
    rejects(
        task(json!({"Retry": [{"ErrorEquals": []}]})),
        Some("States.S"),
        "Retry[0].ErrorEquals",
        "at least one",
    );
    rejects(
        task(json!({"Retry": [{"ErrorEquals": ["States.Timeot"]}]})),
        Some("States.S"),
        "Retry[0].ErrorEquals",
        "did you mean `States.Timeout`",
    );
    rejects(
        task(json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]})),
        Some("States.S"),
        "Retry[0].BackoffRate",
        "at least 1.0",
    );
    rejects(
        task(json!({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]})),
        Some("States.S"),
        "Retry[0].IntervalSeconds",
        "integer",
    );
    rejects(
        task(json!({"Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}]})),
        Some("States.S"),
        "Retry[0].MaxAttempts",
        "integer",
    );
    rejects(
        task(json!({"Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]})),
        Some("States.S"),
        "Retry[0].JitterStrategy",
        "FULL",
    );
    rejects(
        task(json!({"Retry": [{"ErrorEquals": ["X"], "MaxAttempt": 1}]})),
        Some("States.S"),
        "Retry[0].MaxAttempt",
        "did you mean `MaxAttempts`",
    );
    rejects(
        task(json!({"Catch": [{"ErrorEquals": ["X"], "Next": "Nope"}]})),
        Some("States.S"),
        "Catch[0].Next",
        "no state named",
    );
    rejects(
        task(json!({"Catch": [{"ErrorEquals": ["X"]}]})),
        Some("States.S"),
        "Catch[0].Next",
        "required",
    );
    rejects(
        task(json!({"TimeoutSeconds": 5, "HeartbeatSeconds": 5})),
        Some("States.S"),
        "HeartbeatSeconds",
        "smaller",
    );
    rejects(
        task(json!({"TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"})),
        Some("States.S"),
        "TimeoutSecondsPath",
        "not both",
    );
}

#[test]
fn unsupported_resources_are_explained() {
    let task = |resource: &str| {
        with_state(
            json!({"Type": "Task", "Resource": resource, "Parameters": {"FunctionName": "f"}, "Next": "End"}),
        )
    };
    rejects(
        task("arn:aws:states:::lambda:invoke.waitForTaskToken"),
        Some("States.S"),
        "Resource",
        "not supported by the local engine",
    );
    rejects(
        task("arn:aws:states:::dynamodb:putItem"),
        Some("States.S"),
        "Resource",
        "not supported by the local engine: `arn:aws:states:::dynamodb:putItem`",
    );
    rejects(
        task("arn:aws:states:::sqs:sendMessage.sync"),
        Some("States.S"),
        "Resource",
        "not supported",
    );
    rejects(
        with_state(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "End"}),
        ),
        Some("States.S"),
        "Parameters",
        "FunctionName",
    );
    assert!(load(&json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:f:prod", "End": true}}})).is_ok());
    rejects(
        with_state(
            json!({"Type": "Map", "ItemReader": {}, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "Next": "End"}),
        ),
        Some("States.S"),
        "ItemReader",
        "not supported",
    );
}

#[test]
fn nested_machines_are_validated_with_their_path() {
    let doc = json!({
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Next": "M", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}},
                {"StartAt": "Missing", "States": {"B": {"Type": "Succeed"}}}
            ]},
            "M": {"Type": "Map", "End": true, "Iterator": {"StartAt": "X", "States": {"X": {"Type": "Pass", "Nxt": "Y"}}}}
        }
    });
    let errs = errors(&doc);
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    for expected in [
        "state `States.P.Branches[0].States.A`, field `Next`: there is no state named `Gone`",
        "state `States.P`, field `Branches[1].StartAt`: there is no state named `Missing`",
        "state `States.M.Iterator.States.X`, field `Nxt`: unknown field; did you mean `Next`?",
    ] {
        assert!(
            shown.iter().any(|s| s == expected),
            "missing {expected:?} in {shown:#?}"
        );
    }
    rejects(
        with_state(json!({"Type": "Parallel", "Branches": [], "Next": "End"})),
        Some("States.S"),
        "Branches",
        "at least one",
    );
    rejects(
        with_state(json!({"Type": "Map", "Next": "End"})),
        Some("States.S"),
        "ItemProcessor",
        "required",
    );
    rejects(
        with_state(
            json!({"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "FAST"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "Next": "End"}),
        ),
        Some("States.S"),
        "ItemProcessor.ProcessorConfig.Mode",
        "INLINE",
    );
    rejects(
        with_state(
            json!({"Type": "Map", "ToleratedFailurePercentage": 101, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "Next": "End"}),
        ),
        Some("States.S"),
        "ToleratedFailurePercentage",
        "0 to 100",
    );
    // A branch cannot jump to a state outside it.
    rejects(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "P"}}}]}}}),
        Some("States.P.Branches[0].States.A"),
        "Next",
        "no state named `P`",
    );
}

#[test]
fn display_names_state_and_field() {
    let e = AslError::new(Some("States.A".into()), "Next", "oops");
    assert_eq!(e.to_string(), "state `States.A`, field `Next`: oops");
    assert_eq!(
        AslError::new(None, "StartAt", "is required").to_string(),
        "field `StartAt`: is required"
    );
}

#[test]
fn reports_every_problem_at_once() {
    let doc = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B", "Bogus": 1},
        "B": {"Type": "Wait", "Next": "C"},
        "C": {"Type": "Fail", "Error": 1}
    }});
    assert!(errors(&doc).len() >= 3, "{:#?}", errors(&doc));
}

/// Random edits of a valid document: values replaced by other JSON of every type, keys dropped
/// or renamed, containers emptied. `load` must answer every one without panicking.
#[test]
fn mutated_documents_never_panic() {
    let base = json!({
        "TimeoutSeconds": 60,
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Parameters": {"a.$": "$.x", "b": [1, {"c.$": "$$.Execution.Id"}]}, "ResultPath": "$.r", "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload.$": "States.Array($.a, 1)"}, "ResultSelector": {"v.$": "$.Payload"},
                  "TimeoutSeconds": 10, "Retry": [{"ErrorEquals": ["A", "States.Timeout"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2.0, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "F"}], "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Not": {"Variable": "$.s", "StringMatches": "a*\\*"}}], "Next": "W"},
                {"Variable": "$.t", "TimestampLessThanEqualsPath": "$.u", "Next": "M"}
            ], "Default": "Par"},
            "W": {"Type": "Wait", "Timestamp": "2024-01-01T00:00:00Z", "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.xs", "ItemSelector": {"i.$": "$$.Map.Item.Index"}, "MaxConcurrency": 2, "ToleratedFailureCount": 1,
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "Next": "Par"},
            "Par": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}], "Next": "Ok"},
            "Ok": {"Type": "Succeed", "OutputPath": "$.r"},
            "F": {"Type": "Fail", "ErrorPath": "$.e.Error", "Cause": "c"}
        }
    });
    assert!(load(&base).is_ok(), "{:#?}", load(&base).err());
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut rejected = 0;
    for _ in 0..4000 {
        let mut doc = base.clone();
        for _ in 0..rng.usize(1..4) {
            mutate(&mut doc, &mut rng);
        }
        let outcome = std::panic::catch_unwind(|| load(&doc).err().map(|e| e.len()));
        match outcome {
            Ok(Some(n)) => {
                assert!(n > 0);
                rejected += 1;
            }
            Ok(None) => {}
            Err(_) => panic!("load panicked on {doc}"),
        }
    }
    assert!(
        rejected > 1000,
        "mutations should mostly break the document ({rejected})"
    );
}

fn random_value(rng: &mut fastrand::Rng) -> Value {
    match rng.usize(0..14) {
        0 => Value::Null,
        1 => json!(rng.bool()),
        2 => json!(rng.i64(-5..100)),
        3 => json!(-0.5),
        4 => json!(1e300),
        5 => json!(""),
        6 => json!("$"),
        7 => json!(["States.ALL", 1]),
        8 => json!({}),
        9 => json!("$.a[*]"),
        10 => json!("States.Format('{}', $.x"),
        11 => json!(["P", "T", "C", "W", "M", "Par", "Ok", "F", "I", "B"][rng.usize(0..10)]),
        12 => json!(
            ["Pass", "Task", "Choice", "Wait", "Map", "Parallel", "Fail", "Succeed"]
                [rng.usize(0..8)]
        ),
        _ => json!("\u{1F600}$['x"),
    }
}

/// One random edit somewhere in the tree.
fn mutate(v: &mut Value, rng: &mut fastrand::Rng) {
    // Walk down a random path, then edit there.
    let mut node = v;
    loop {
        let descend = rng.usize(0..4) != 0;
        let len = match &*node {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if !descend || len == 0 {
            break;
        }
        let i = rng.usize(0..len);
        node = match node {
            Value::Object(m) => m.values_mut().nth(i).unwrap(),
            Value::Array(a) => &mut a[i],
            _ => unreachable!(),
        };
    }
    match (rng.usize(0..5), &mut *node) {
        (0, Value::Object(m)) if !m.is_empty() => {
            let key = m.keys().nth(rng.usize(0..m.len())).unwrap().clone();
            m.remove(&key);
        }
        (1, Value::Object(m)) if !m.is_empty() => {
            let key = m.keys().nth(rng.usize(0..m.len())).unwrap().clone();
            let value = m.remove(&key).unwrap();
            let renamed = [
                "Next",
                "End",
                "Type",
                "States",
                "Variable",
                "ErrorEquals",
                "x.$",
                "Result",
            ][rng.usize(0..8)];
            m.insert(renamed.into(), value);
        }
        (2, Value::Array(a)) => a.clear(),
        (3, Value::Object(m)) => {
            m.insert(
                [
                    "Next",
                    "End",
                    "Default",
                    "Branches",
                    "Iterator",
                    "Parameters",
                    "Choices",
                    "Seconds",
                ][rng.usize(0..8)]
                .into(),
                random_value(rng),
            );
        }
        _ => *node = random_value(rng),
    }
}

#[test]
fn a_document_built_deeper_than_json_text_can_be_is_refused_not_recursed_into() {
    let mut result = json!(1);
    for _ in 0..1_000 {
        result = json!({ "a": result });
    }
    let doc =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": true}}});
    let errors = errors(&doc);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].message.contains("more than 127 levels deep"),
        "{errors:#?}"
    );
    // 127 levels in all still load.
    let mut fits = json!(1);
    for _ in 0..(flowctl_protocol::MAX_JSON_DEPTH - 4) {
        fits = json!({ "a": fits });
    }
    let doc =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": fits, "End": true}}});
    assert!(load(&doc).is_ok());
}
