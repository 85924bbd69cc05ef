//! Step Functions' payload quota (256 KiB of JSON text, UTF-8): a state's output, a task's
//! result or input over it is `States.DataLimitExceeded`, which no `Retry` or `Catch` sees
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html>,
//! "States.DataLimitExceeded"); an execution input over it starts nothing
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>, "Maximum input
//! or output size for a task, state, or execution").

use super::test_support::*;
use super::*;
use flowctl_protocol::sfn::{errors, MAX_PAYLOAD_BYTES};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A string whose JSON text (quotes included) is `bytes` long.
fn text_of(bytes: usize) -> String {
    "x".repeat(bytes - 2)
}

fn failed_with_data_limit(e: &Execution, state: &str) -> String {
    assert_eq!(e.status, Status::Failed, "{:?}", e.output);
    let error = e.error.clone().unwrap();
    assert_eq!(error.error, errors::DATA_LIMIT_EXCEEDED, "{}", error.cause);
    assert_eq!(e.failed_state.as_deref(), Some(state));
    error.cause
}

#[tokio::test(start_paused = true)]
async fn a_pass_state_producing_300_kb_fails_and_no_catch_sees_it() {
    // The Pass sits in a Parallel whose Retry and Catch take States.ALL: neither applies.
    let doc = json!({
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "Big", "States": {
                    "Big": {"Type": "Pass", "Result": {"blob": "x".repeat(300 * 1024)}, "End": true}}}],
                  "Retry": [{"ErrorEquals": ["States.ALL"]}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}], "End": true},
            "Handled": {"Type": "Pass", "End": true}
        }
    });
    let e = run_doc(doc, json!({}), &InProcess::new()).await;
    let cause = failed_with_data_limit(&e, "Big");
    assert!(cause.contains("'Big' returned an output"), "{cause}");
    assert_eq!(e.entered_states(), vec!["P", "Big"]);
    let last = e.history.last().unwrap();
    assert_eq!(last.kind, EventKind::ExecutionFailed);
}

#[tokio::test(start_paused = true)]
async fn an_output_exactly_at_the_quota_passes_one_byte_more_fails() {
    // `{"v":…}` adds 6 bytes around the string.
    for (bytes, fits) in [(MAX_PAYLOAD_BYTES, true), (MAX_PAYLOAD_BYTES + 1, false)] {
        let doc = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": text_of(bytes - 6)}, "End": true}}});
        let e = run_doc(doc, json!({}), &InProcess::new()).await;
        assert_eq!(
            e.status == Status::Succeeded,
            fits,
            "{bytes} bytes: {:?}",
            e.error
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_result_over_the_quota_is_neither_retried_nor_caught() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let invoker = InProcess::new().sync("big", move |_| {
        counted.fetch_add(1, Ordering::Relaxed);
        Ok(json!(text_of(MAX_PAYLOAD_BYTES + 10)))
    });
    for resource in [
        "arn:aws:states:::lambda:invoke",
        "arn:aws:lambda:us-east-1:123456789012:function:big",
    ] {
        calls.store(0, Ordering::Relaxed);
        let task = if resource.ends_with("invoke") {
            json!({"Type": "Task", "Resource": resource, "Parameters": {"FunctionName": "big", "Payload.$": "$"}})
        } else {
            json!({"Type": "Task", "Resource": resource})
        };
        let mut task = task;
        task["Retry"] = json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]);
        task["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": "Handled"}]);
        task["End"] = json!(true);
        let doc = json!({"StartAt": "T", "States": {"T": task, "Handled": {"Type": "Pass", "End": true}}});
        let e = run_doc(doc, json!({}), &invoker).await;
        let cause = failed_with_data_limit(&e, "T");
        assert!(
            cause.contains("'T' returned a result"),
            "{resource}: {cause}"
        );
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "{resource}: called once, never retried"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_input_over_the_quota_after_parameters_fails_before_the_call() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let invoker = InProcess::new().sync("echo", move |v| {
        counted.fetch_add(1, Ordering::Relaxed);
        Ok(v)
    });
    // The input alone fits; Parameters repeat it three times.
    let doc = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "echo", "Payload": {"a.$": "$.s", "b.$": "$.s", "c.$": "$.s"}},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}], "End": true},
        "Handled": {"Type": "Pass", "End": true}}});
    let input = json!({"s": text_of(MAX_PAYLOAD_BYTES / 2)});
    assert!(refused_input(&input).is_none());
    let e = run_doc(doc, input, &invoker).await;
    let cause = failed_with_data_limit(&e, "T");
    assert!(cause.contains("'T' has an input"), "{cause}");
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn an_execution_input_over_the_quota_starts_nothing() {
    let input = json!({"s": text_of(MAX_PAYLOAD_BYTES)});
    let refusal = refused_input(&input).expect("refused");
    assert!(refusal.contains("262144 bytes"), "{refusal}");
    let doc = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": true}}});
    let e = run_doc(doc, input, &InProcess::new()).await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.error.unwrap().error, errors::DATA_LIMIT_EXCEEDED);
    assert!(e.history.is_empty());
    assert_eq!(e.transitions, 0);
}

#[tokio::test(start_paused = true)]
async fn a_state_that_only_selects_is_measured_when_its_path_can_repeat_data() {
    // `$..*` lists the object holding the string and the string itself: twice the input.
    let input = json!({"a": {"b": text_of(MAX_PAYLOAD_BYTES / 2)}});
    assert!(refused_input(&input).is_none());
    for (state, over) in [
        (json!({"Type": "Pass", "End": true}), false),
        (
            json!({"Type": "Pass", "OutputPath": "$.a", "End": true}),
            false,
        ),
        (json!({"Type": "Succeed", "OutputPath": "$..*"}), true),
        (
            json!({"Type": "Pass", "ResultPath": "$.copy", "End": true}),
            true,
        ),
    ] {
        let doc = json!({"StartAt": "S", "States": {"S": state.clone()}});
        let e = run_doc(doc, input.clone(), &InProcess::new()).await;
        if over {
            failed_with_data_limit(&e, "S");
        } else {
            assert_eq!(e.status, Status::Succeeded, "{state}: {:?}", e.error);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn branch_and_iteration_inputs_built_by_parameters_are_measured() {
    // Each is twice the input, which alone fits; the first state inside only passes it on.
    let input = json!({"s": text_of(MAX_PAYLOAD_BYTES / 2 + 100)});
    let inner = json!({"StartAt": "In", "States": {"In": {"Type": "Pass", "End": true}}});
    let parallel = json!({"Type": "Parallel", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "Branches": [inner], "End": true});
    let map = json!({"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"a.$": "$.s", "b.$": "$.s"}, "ItemProcessor": inner, "End": true});
    let cases = [
        (parallel, input.clone()),
        (map, json!({"s": input["s"], "items": [1]})),
    ];
    for (state, input) in cases {
        let doc = json!({"StartAt": "S", "States": {"S": state.clone()}});
        let e = run_doc(doc, input, &InProcess::new()).await;
        let cause = failed_with_data_limit(&e, "S");
        assert!(cause.contains("input"), "{state}: {cause}");
    }
}
