//! JSONata states, as <https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html>
//! and the States Language (<https://states-language.net/spec.html>, "JSONata") define them:
//! `Arguments`, `Output`, `Assign`, `Condition`, `Items`, `ItemSelector`, `$states`, and
//! `States.QueryEvaluationError`.

use super::test_support::*;
use super::*;
use flowctl_protocol::sfn::errors;
use serde_json::{json, Value};

#[tokio::test]
async fn succeed_output_from_the_transforming_data_page() {
    // TD, "Example: Input and Output".
    let doc = json!({"Comment": "Input and Output example using JSONata", "QueryLanguage": "JSONata",
        "StartAt": "Basic Input and Output", "States": {"Basic Input and Output": {
            "QueryLanguage": "JSONata", "Type": "Succeed",
            "Output": {"lastName": "{% 'Last=>' & $states.input.customer.lastName %}",
                       "orderValue": "{% $states.input.order.total %}"}}}});
    let input = json!({"customer": {"firstName": "Martha", "lastName": "Rivera"}, "order": {"items": 7, "total": 27.91}});
    let e = run_doc(doc, input, &InProcess::new()).await;
    assert_eq!(
        output(&e),
        json!({"lastName": "Last=>Rivera", "orderValue": 27.91})
    );
}

#[tokio::test]
async fn task_arguments_and_output_from_the_specs_jsonata_evaluation_example() {
    // SPEC, "JSONata Evaluation": the Task is sent the evaluated Arguments, and its Output
    // reads the variables.
    let doc = json!({"StartAt": "GetSampleData", "States": {
        "GetSampleData": {"Type": "Pass",
            "Assign": {"student": {"name": "Scotland", "course": [{"grade": 34}, {"grade": 99}, {"grade": 76}, {"grade": 96}]},
                       "class": {"teacher": "Bert"}, "two": "the number 2"},
            "Next": "A Task"},
        "A Task": {"Type": "Task", "QueryLanguage": "JSONata",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:DoTheTask",
            "Arguments": {"student": "{% $student.name %}", "classInfo": {"teacher": "{% $class.teacher %}"},
                          "values": [1, "{% $two %}", "three"]},
            "Output": "{% { 'avg': $average($student.course.grade), 'num': $count($student.course), 'sent': $states.result } %}",
            "End": true}}});
    let e = run_doc(doc, json!({}), &InProcess::new().sync("DoTheTask", Ok)).await;
    assert_eq!(
        output(&e),
        json!({"avg": 76.25, "num": 4, "sent": {"student": "Scotland", "classInfo": {"teacher": "Bert"}, "values": [1, "the number 2", "three"]}})
    );
}

/// The acceptance document (`Assign`, `Output`, a Choice `Condition`, a Map with
/// `Items`, a Task with `Arguments`), which `tests/local_processes.rs` also runs through
/// `flowctl invoke --asl` on a real function process.
fn acceptance_document() -> Value {
    serde_json::from_str(include_str!(
        "../../../tests/fixtures/jsonata/order.asl.json"
    ))
    .unwrap()
}

fn price() -> InProcess {
    InProcess::new().sync("Price", Ok)
}

#[tokio::test]
async fn the_acceptance_document_runs_with_the_output_the_documentation_implies() {
    let input = |qty: u64| json!({"currency": "EUR", "order": {"lines": [{"sku": "A", "qty": qty}, {"sku": "B", "qty": 1}]}});
    let e = run_doc(acceptance_document(), input(3), &price()).await;
    assert_eq!(
        output(&e),
        json!({"total": 135, "currency": "EUR", "review": true, "lines": [1, 2], "flag": "review"})
    );
    let e = run_doc(acceptance_document(), input(1), &price()).await;
    assert_eq!(
        output(&e),
        json!({"total": 75, "currency": "EUR", "review": false, "lines": [1, 2], "flag": "none"})
    );
    // Each Map iteration's input was built by ItemSelector with the item's index.
    let scheduled: Vec<Value> = e
        .history
        .iter()
        .filter(|ev| ev.kind == EventKind::TaskScheduled)
        .map(|ev| ev.details()["parameters"]["Payload"].clone())
        .collect();
    assert_eq!(scheduled.len(), 2, "{scheduled:?}");
    assert!(
        scheduled.contains(&json!({"line": 2, "sku": "B", "amount": 45, "currency": "EUR"})),
        "{scheduled:?}"
    );
}

#[tokio::test]
async fn choice_rules_own_assign_and_output_and_the_default_uses_the_states() {
    // SPEC, the "DispatchEvent" Choice.
    let doc = json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"value": "{% $states.input.value %}"}, "Next": "DispatchEvent"},
        "DispatchEvent": {"Type": "Choice", "Choices": [
            {"Condition": "{% $states.input.type != 'Private' %}", "Next": "Public"},
            {"Condition": "{% $exists($value) and $type($value)='number' and $value>=20 and $value<30 %}", "Assign": {"range": "twenties"}, "Next": "Done"},
            {"Condition": "{% $states.input.rating >= $states.input.auditThreshold %}", "Output": {"excess": "{% $states.input.rating - $states.input.auditThreshold %}"}, "Next": "Audit"}],
            "Default": "Done", "Assign": {"range": "default"}},
        "Public": {"Type": "Succeed", "Output": "public"},
        "Audit": {"Type": "Succeed"},
        "Done": {"Type": "Succeed", "Output": "{% $range %}"}}});
    let none = InProcess::new();
    let run = |input: Value| run_doc(doc.clone(), input, &none);
    assert_eq!(
        output(&run(json!({"type": "Private", "value": 23})).await),
        json!("twenties")
    );
    assert_eq!(
        output(
            &run(json!({"type": "Private", "value": 5, "rating": 9, "auditThreshold": 4})).await
        ),
        json!({"excess": 5})
    );
    assert_eq!(
        output(
            &run(json!({"type": "Private", "value": 5, "rating": 1, "auditThreshold": 4})).await
        ),
        json!("default")
    );
    assert_eq!(
        output(&run(json!({"type": "Public", "value": 5})).await),
        json!("public")
    );
}

#[tokio::test]
async fn query_evaluation_errors_are_caught_and_retried_like_others() {
    // TD, "Handling expression errors": an undefined result and a type error are
    // States.QueryEvaluationError, which a Catch on States.ALL takes.
    let doc = json!({"QueryLanguage": "JSONata", "StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Echo",
            "Arguments": {"pushLocation": "{% $states.input.pushLocation %}"},
            "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"],
                       "Output": {"caught": "{% $states.errorOutput.Error %}", "cause": "{% $states.errorOutput.Cause %}", "input": "{% $states.input %}"},
                       "Assign": {"failed": true}, "Next": "After"}],
            "Next": "After"},
        "After": {"Type": "Pass", "Output": "{% $merge([$states.input, {'failed': $exists($failed) ? $failed : false}]) %}", "End": true}}});
    let e = run_doc(
        doc.clone(),
        json!({"other": 1}),
        &InProcess::new().sync("Echo", Ok),
    )
    .await;
    let out = output(&e);
    assert_eq!(out["caught"], json!(errors::QUERY_EVALUATION_ERROR));
    assert_eq!(out["failed"], json!(true));
    assert_eq!(out["input"], json!({"other": 1}));
    let cause = out["cause"].as_str().unwrap();
    assert!(
        cause.contains("'$states.input.pushLocation'")
            && cause.contains("'Arguments/pushLocation'")
            && cause.contains("returned nothing (undefined)"),
        "{cause}"
    );
    let e = run_doc(
        doc,
        json!({"pushLocation": "s3://b/k"}),
        &InProcess::new().sync("Echo", Ok),
    )
    .await;
    assert_eq!(
        output(&e),
        json!({"pushLocation": "s3://b/k", "failed": false})
    );

    // A type error in a Pass (no Catch there) fails the execution.
    let doc = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $states.input.a + 1 %}", "End": true}}});
    let error = failed(&run_doc(doc, json!({"a": "x"}), &InProcess::new()).await);
    assert_eq!(error.error, errors::QUERY_EVALUATION_ERROR);
    assert!(error.cause.contains("T2001"), "{}", error.cause);
}

#[tokio::test]
async fn wait_fail_and_map_fields_take_expressions() {
    let doc = json!({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": "{% $states.input.delay %}", "Next": "M"},
        "M": {"Type": "Map", "Items": [1, "{% $states.input.delay %}", 3], "MaxConcurrency": "{% 1 %}",
              "ItemProcessor": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Output": "{% $states.input * 2 %}", "End": true}}},
              "Next": "F"},
        "F": {"Type": "Fail", "Error": "{% 'Doubled' %}", "Cause": "{% $string($states.input) %}"}}});
    let error = failed(&run_doc(doc.clone(), json!({"delay": 0}), &InProcess::new()).await);
    assert_eq!(
        (error.error.as_str(), error.cause.as_str()),
        ("Doubled", "[2,0,6]")
    );
    let error = failed(&run_doc(doc, json!({"delay": -1}), &InProcess::new()).await);
    assert_eq!(error.error, errors::QUERY_EVALUATION_ERROR);
    assert!(error.cause.contains("'Seconds'"), "{}", error.cause);
}

#[tokio::test]
async fn the_step_functions_functions_run_in_a_state() {
    let doc = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {
            "partition": "{% $partition([1,2,3,4], $states.input.chunkSize) %}",
            "range": "{% $range(0, 10, 2) %}",
            // The intrinsic's documented example (its text drops one digit).
            "hash": "{% $hash('input data', 'SHA-1') %}",
            "parsed": "{% $parse($states.input.json).a %}",
            "uuid": "{% $length($uuid()) %}",
            "random": "{% $random(7) = $random(7) %}"}, "End": true}}});
    let e = run_doc(
        doc,
        json!({"chunkSize": 3, "json": "{\"a\": [1]}"}),
        &InProcess::new(),
    )
    .await;
    assert_eq!(
        output(&e),
        json!({"partition": [[1, 2, 3], [4]], "range": [0, 2, 4, 6, 8, 10],
        "hash": "aaff4a450a104cd177d28d18d74485e8cae074b7", "parsed": [1], "uuid": 36, "random": true})
    );
}

#[tokio::test]
async fn one_field_of_states_reads_as_jsonata_does() {
    // `$states.input.<field>` is read directly unless the field is an array (which JSONata's
    // sequences treat in their own way); either way the value is what JSONata gives.
    let doc = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {"obj": "{% $states.input.obj %}", "one": "{% $states.input.one %}",
              "list": "{% $states.input.list %}", "missing": "{% $exists($states.input.missing) %}"}, "End": true}}});
    let input = json!({"obj": {"a": [1]}, "one": [7], "list": [1, 2]});
    let e = run_doc(doc, input, &InProcess::new()).await;
    assert_eq!(
        output(&e),
        json!({"obj": {"a": [1]}, "one": [7], "list": [1, 2], "missing": false})
    );
    let doc = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {"nothing": "{% $states.input.nothing %}"}, "End": true}}});
    let error = failed(&run_doc(doc, json!({}), &InProcess::new()).await);
    assert!(error.cause.contains("returned nothing"), "{}", error.cause);
}

#[tokio::test]
async fn a_tasks_payload_output_is_the_payload_as_jsonata_gives_it() {
    // `Output: $states.result.Payload` is read from the payload alone (the Invoke response
    // is not built for it): arrays and null come out as JSONata gives them, and the history
    // still shows the whole response.
    let doc = json!({"QueryLanguage": "JSONata", "StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Arguments": {"FunctionName": "F", "Payload": "{% $states.input %}"},
                 "Output": "{% $states.result.Payload %}", "End": true}}});
    for answer in [json!([5]), json!(null), json!({"a": [1, 2]})] {
        let e = run_doc(doc.clone(), answer.clone(), &InProcess::new().sync("F", Ok)).await;
        assert_eq!(output(&e), answer);
        let succeeded = e
            .history
            .iter()
            .find(|ev| ev.kind == EventKind::TaskSucceeded)
            .unwrap();
        assert_eq!(
            succeeded.details()["output"]["Payload"],
            answer,
            "{:?}",
            succeeded.details()
        );
    }
}
