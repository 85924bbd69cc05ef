//! Workflow variables in JSONPath states, as
//! <https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html> and the
//! States Language (<https://states-language.net/spec.html>, "Variables") define them: where
//! `Assign` is, what `$` is in it per state type, values as they were on state entry, the
//! scopes of Parallel branches and Map iterations, the size quotas.

use super::test_support::*;
use super::*;
use flowctl_protocol::sfn::errors;
use serde_json::{json, Value};

#[tokio::test]
async fn references_read_values_from_state_entry_and_new_ones_take_effect_next() {
    // WV, "Variable evaluation order": starting with x=3, a=6, `x := a, nextX := x` gives
    // x=6, nextX=3.
    let doc = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"x": 3, "a": 6}, "Next": "Swap"},
        "Swap": {"Type": "Pass", "Assign": {"x.$": "$a", "nextX.$": "$x"}, "Next": "Show"},
        "Show": {"Type": "Pass", "Parameters": {"x.$": "$x", "nextX.$": "$nextX", "a.$": "$a"}, "End": true}
    }});
    let e = run_doc(doc, json!({}), &InProcess::new()).await;
    assert_eq!(output(&e), json!({"x": 6, "nextX": 3, "a": 6}));
}

#[tokio::test]
async fn the_dollar_of_assign_follows_the_state_type() {
    // Task: the result (before ResultSelector); Choice/Wait: the effective input; Pass: the
    // result; variables in paths, intrinsic arguments and OutputPath.
    let doc = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "Price", "Payload.$": "$"},
                 "ResultSelector": {"only.$": "$.Payload.total"},
                 "Assign": {"code.$": "$.StatusCode", "total.$": "$.Payload.total"},
                 "ResultPath": "$.priced", "Next": "Route"},
        "Route": {"Type": "Choice", "InputPath": "$.priced",
                  "Choices": [{"Variable": "$total", "NumericGreaterThan": 100,
                               "Assign": {"band": "high", "seen.$": "$.only"}, "Next": "Hold"}],
                  "Default": "Hold", "Assign": {"band": "low"}},
        "Hold": {"Type": "Wait", "Seconds": 0, "Assign": {"held.$": "$.only"}, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": {"r": 1},
                 "Assign": {"message.$": "States.Format('{} is {}', $band, $total)"},
                 "ResultPath": null, "Next": "Show"},
        // Its own state's Assign is not visible to a state's OutputPath: the next one reads it.
        "Show": {"Type": "Succeed", "OutputPath": "$message"}
    }});
    let functions = InProcess::new().sync("Price", |input: Arc<Value>| {
        Ok(json!({"total": input["nights"].as_u64().unwrap_or(0) * 60}))
    });
    let e = run_doc(doc.clone(), json!({"nights": 3}), &functions).await;
    // Pass's `Result` wins over its Parameters; its Assign saw `$band` from Route.
    assert_eq!(output(&e), json!("high is 180"));
    let e = run_doc(doc, json!({"nights": 1}), &functions).await;
    assert_eq!(output(&e), json!("low is 60"));
}

#[tokio::test]
async fn a_catchers_assign_replaces_the_states_and_sees_the_error_output() {
    let doc = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky",
                 "Assign": {"outcome": "ok"},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"outcome.$": "$.Error", "why.$": "$.Cause"},
                            "ResultPath": "$.error", "Next": "After"}],
                 "Next": "After"},
        "After": {"Type": "Pass", "Parameters": {"outcome.$": "$outcome", "why.$": "$why", "error.$": "$.error.Error"}, "End": true}
    }});
    let functions = InProcess::new().sync("Flaky", |_: Arc<Value>| {
        Err::<Value, _>(TaskError::from_lambda("Busy", "try later"))
    });
    let e = run_doc(doc, json!({}), &functions).await;
    let out = output(&e);
    assert_eq!(
        (&out["outcome"], &out["error"]),
        (&json!("Busy"), &json!("Busy"))
    );
    assert!(out["why"].as_str().unwrap().contains("try later"), "{out}");
}

#[tokio::test]
async fn branches_and_iterations_read_outer_variables_and_keep_their_own() {
    // The States Language's scope example in JSONPath form: the iteration reads `outer`,
    // assigns its own `hi`, and the outer scope sees none of it afterwards.
    let doc = json!({"StartAt": "Get Greeting", "States": {
        "Get Greeting": {"Type": "Pass", "Assign": {"outer": "hello"}, "Next": "Greet Everyone"},
        "Greet Everyone": {"Type": "Map", "ItemsPath": "$.people",
            "ItemProcessor": {"StartAt": "Begin", "States": {
                "Begin": {"Type": "Pass", "Assign": {"inner": "world", "hi.$": "$outer"}, "Next": "End"},
                "End": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('{} {}', $hi, $)", "inner.$": "$inner"}, "End": true}}},
            "Assign": {"outer": 2, "count.$": "States.ArrayLength($)"}, "ResultPath": "$.greetings", "Next": "Goodbye"},
        "Goodbye": {"Type": "Pass", "Parameters": {"outer.$": "$outer", "count.$": "$count", "greetings.$": "$.greetings"}, "End": true}
    }});
    let e = run_doc(doc, json!({"people": ["ana", "bo"]}), &InProcess::new()).await;
    assert_eq!(
        output(&e),
        json!({"outer": 2, "count": 2, "greetings": [
            {"greeting": "hello ana", "inner": "world"},
            {"greeting": "hello bo", "inner": "world"}]})
    );
    // An inner variable is gone after the Map: reading it is an error, as a path that finds
    // nothing is.
    let doc = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"inner": 1}, "End": true}}}], "Next": "After"},
        "After": {"Type": "Pass", "Parameters": {"v.$": "$inner"}, "End": true}
    }});
    let e = run_doc(doc, json!({}), &InProcess::new()).await;
    assert_eq!(e.status, Status::Failed);
    let error = e.error.unwrap();
    assert_eq!(error.error, errors::RUNTIME);
    assert!(
        error.cause.contains("'$inner'") && error.cause.contains("no value"),
        "{}",
        error.cause
    );
}

#[tokio::test]
async fn a_distributed_maps_children_see_no_outer_variable() {
    let doc = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"},
        "M": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "In", "States": {"In": {"Type": "Pass", "Parameters": {"v.$": "$outer"}, "End": true}}},
            "End": true}
    }});
    let e = run_doc(doc, json!([1]), &InProcess::new()).await;
    assert_eq!(e.status, Status::Failed, "{:?}", e.output);
}

#[tokio::test]
async fn assigned_values_over_their_quota_fail_with_data_limit_exceeded() {
    let big = "x".repeat(200 * 1024);
    // One value over 256 KiB.
    let doc = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "Assign": {"both.$": "$"}, "ResultPath": null, "End": true}}});
    let e = run_doc(doc, json!({"s": big}), &InProcess::new()).await;
    assert_eq!(
        e.error.as_ref().map(|e| e.error.as_str()),
        Some(errors::DATA_LIMIT_EXCEEDED),
        "{:?}",
        e.error
    );
    assert!(e.error.unwrap().cause.contains("variable 'both'"));
    // Two values that fit alone but not together in one Assign.
    let doc = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x.$": "$.s", "y.$": "$.s"}, "End": true}}});
    let e = run_doc(doc, json!({"s": big}), &InProcess::new()).await;
    assert_eq!(
        e.error.as_ref().map(|e| e.error.as_str()),
        Some(errors::DATA_LIMIT_EXCEEDED),
        "{:?}",
        e.error
    );
    // Each in its own state: fine.
    let doc = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x.$": "$.s"}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"y.$": "$.s"}, "OutputPath": "$.s", "End": true}}});
    let e = run_doc(doc, json!({"s": big}), &InProcess::new()).await;
    assert_eq!(e.status, Status::Succeeded);
}
