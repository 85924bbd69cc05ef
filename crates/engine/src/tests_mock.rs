//! State-level mocks (`Invoker::mocked`) and `LoadOptions::any_task_resource`: a mocked Task's
//! result goes through the data flow and the error handling as a real call's would, its
//! history names the service, and a Task the engine cannot call runs only when mocked.
//! All run under a paused tokio clock, so retry delays take no real time.

use super::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// Answers for states by name (answer `i` for call `i`, the last one after that); records
/// every `mocked` question, answered or not; calls to functions go to `functions`.
struct StateMocks {
    answers: HashMap<String, Vec<Result<Value, TaskError>>>,
    /// (state, resource, parameters) of every `mocked` call, in order.
    asked: Mutex<Vec<(String, String, Value)>>,
    functions: InProcess,
}

impl StateMocks {
    fn new() -> StateMocks {
        StateMocks {
            answers: HashMap::new(),
            asked: Mutex::new(Vec::new()),
            functions: InProcess::new().sync("add1", |v| Ok(json!(v.as_i64().unwrap_or(0) + 1))),
        }
    }

    fn state(mut self, name: &str, answers: Vec<Result<Value, TaskError>>) -> StateMocks {
        self.answers.insert(name.into(), answers);
        self
    }

    fn asked(&self) -> Vec<(String, String, Value)> {
        self.asked.lock().unwrap().clone()
    }
}

impl Invoker for StateMocks {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        self.functions.invoke(function, payload)
    }

    fn mocked<'a>(
        &'a self,
        state: &'a str,
        resource: &'a str,
        parameters: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Arc<Value>, TaskError>>> {
        let mut asked = self.asked.lock().unwrap();
        let call = asked.iter().filter(|(s, _, _)| s == state).count();
        asked.push((state.into(), resource.into(), parameters.clone()));
        let answers = self.answers.get(state)?;
        let answer = answers[call.min(answers.len() - 1)].clone();
        Some(Box::pin(std::future::ready(answer.map(Arc::new))))
    }
}

fn machine_with(doc: &Value, options: &LoadOptions) -> StateMachine {
    load_with(doc, options).unwrap_or_else(|errors| panic!("load failed: {errors:?}"))
}

async fn run(machine: &StateMachine, input: Value, invoker: &dyn Invoker) -> Execution {
    execute(machine, input, invoker, &ExecutionOptions::default()).await
}

fn output(e: &Execution) -> Value {
    assert_eq!(e.status, Status::Succeeded, "failed: {:?}", e.error);
    Value::clone(e.output.as_ref().unwrap())
}

/// The Task events of an execution, as `(type, details)`.
fn task_events(e: &Execution) -> Vec<(String, Value)> {
    e.history
        .iter()
        .filter(|ev| ev.kind.name().starts_with("Task") && !ev.kind.name().contains("State"))
        .chain(
            e.history
                .iter()
                .filter(|ev| ev.kind.name().starts_with("LambdaFunction")),
        )
        .map(|ev| (ev.kind.to_string(), ev.details()))
        .collect()
}

fn invoke_response(payload: Value) -> Value {
    json!({"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload})
}

const SQS: &str = "arn:aws:states:::sqs:sendMessage";

fn sqs_document() -> Value {
    json!({"StartAt": "Notify", "States": {"Notify": {
        "Type": "Task",
        "Resource": SQS,
        "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody.$": "$.message"},
        "ResultSelector": {"id.$": "$.MessageId"},
        "ResultPath": "$.sent",
        "End": true
    }}})
}

#[tokio::test(start_paused = true)]
async fn a_mocked_lambda_invoke_answers_the_whole_response_for_result_selector() {
    let doc = json!({"StartAt": "Quote", "States": {
        "Quote": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "Quote", "Payload.$": "$", "Qualifier": "live", "ClientContext.$": "$.guest"},
            "ResultSelector": {"rate.$": "$.Payload.rate", "status.$": "$.StatusCode"},
            "ResultPath": "$.quote",
            "Next": "Add"
        },
        "Add": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "add1", "Payload.$": "$.quote.rate"},
            "OutputPath": "$.Payload",
            "End": true
        }
    }});
    let mocks = StateMocks::new().state("Quote", vec![Ok(invoke_response(json!({"rate": 120})))]);
    let e = run(
        &machine_with(&doc, &LoadOptions::default()),
        json!({"guest": "ada"}),
        &mocks,
    )
    .await;
    // `Quote` is answered by its mock (no function `Quote` exists); `Add` calls `add1`.
    assert_eq!(output(&e), json!(121));
    assert_eq!(
        mocks.asked(),
        [
            (
                "Quote".to_string(),
                "arn:aws:states:::lambda:invoke".to_string(),
                json!({"FunctionName": "Quote", "Payload": {"guest": "ada"}, "Qualifier": "live", "ClientContext": "ada"})
            ),
            (
                "Add".to_string(),
                "arn:aws:states:::lambda:invoke".to_string(),
                json!({"FunctionName": "add1", "Payload": 120})
            )
        ]
    );
    let events = task_events(&e);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded"
        ]
    );
    assert_eq!(
        events[0].1["parameters"],
        json!({"FunctionName": "Quote", "Payload": {"guest": "ada"}})
    );
    // The response as the mock wrote it, not wrapped again.
    assert_eq!(
        events[2].1,
        json!({"resourceType": "lambda", "resource": "invoke", "output": invoke_response(json!({"rate": 120}))})
    );
}

#[tokio::test(start_paused = true)]
async fn a_mocked_lambda_invoke_meets_an_output_path_into_the_payload() {
    let doc = json!({"StartAt": "Quote", "States": {"Quote": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "Quote", "Payload.$": "$"},
        "OutputPath": "$.Payload.rate",
        "End": true
    }}});
    let machine = machine_with(&doc, &LoadOptions::default());
    let mocks = StateMocks::new().state("Quote", vec![Ok(invoke_response(json!({"rate": 7})))]);
    assert_eq!(output(&run(&machine, json!({}), &mocks).await), json!(7));

    // A mock that answers the payload alone (not the Invoke response): the path finds nothing.
    let mocks = StateMocks::new().state("Quote", vec![Ok(json!({"rate": 7}))]);
    let e = run(&machine, json!({}), &mocks).await;
    let error = e.error.unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert!(
        error.cause.contains("'$.Payload.rate'") && error.cause.contains("OutputPath"),
        "{}",
        error.cause
    );
}

#[tokio::test(start_paused = true)]
async fn a_mocked_error_is_retried_then_caught() {
    let doc = json!({"StartAt": "Pay", "States": {
        "Pay": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "Pay", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Timeout"], "MaxAttempts": 2, "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Release"}],
            "End": true
        },
        "Release": {"Type": "Pass", "End": true}
    }});
    let timeout = TaskError::new("Timeout", "gateway timed out");
    let mocks = StateMocks::new().state("Pay", vec![Err(timeout.clone())]);
    let e = run(
        &machine_with(&doc, &LoadOptions::default()),
        json!({"id": 1}),
        &mocks,
    )
    .await;
    assert_eq!(
        output(&e),
        json!({"id": 1, "failure": {"Error": "Timeout", "Cause": "gateway timed out"}})
    );
    assert_eq!(mocks.asked().len(), 3, "the first attempt and 2 retries");
    let failed: Vec<Value> = task_events(&e)
        .into_iter()
        .filter(|(kind, _)| kind == "TaskFailed")
        .map(|(_, details)| details)
        .collect();
    assert_eq!(failed.len(), 3);
    assert_eq!(
        failed[0],
        json!({"resourceType": "lambda", "resource": "invoke", "error": "Timeout", "cause": "gateway timed out"})
    );
    assert_eq!(e.entered_states(), ["Pay", "Release"]);

    // Per call: a failure, then a success on the retry.
    let mocks = StateMocks::new().state(
        "Pay",
        vec![Err(timeout), Ok(invoke_response(json!("paid")))],
    );
    let e = run(
        &machine_with(&doc, &LoadOptions::default()),
        json!({}),
        &mocks,
    )
    .await;
    assert_eq!(output(&e)["Payload"], json!("paid"));
}

#[tokio::test(start_paused = true)]
async fn a_mocked_lambda_arn_task_is_answered_with_its_payload_and_result() {
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:Quote";
    let doc = json!({"StartAt": "Quote", "States": {"Quote": {
        "Type": "Task", "Resource": arn, "Parameters": {"n.$": "$.n"}, "ResultPath": "$.r", "End": true
    }}});
    let mocks = StateMocks::new().state("Quote", vec![Ok(json!({"rate": 3}))]);
    let e = run(
        &machine_with(&doc, &LoadOptions::default()),
        json!({"n": 2}),
        &mocks,
    )
    .await;
    assert_eq!(output(&e), json!({"n": 2, "r": {"rate": 3}}));
    assert_eq!(
        mocks.asked(),
        [("Quote".into(), arn.into(), json!({"n": 2}))]
    );
    let kinds: Vec<String> = task_events(&e).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_task_loads_with_any_task_resource_and_runs_when_mocked() {
    let options = LoadOptions {
        any_task_resource: true,
    };
    let machine = machine_with(&sqs_document(), &options);
    let mocks = StateMocks::new().state(
        "Notify",
        vec![Ok(json!({"MessageId": "m-1", "MD5OfMessageBody": "abc"}))],
    );
    let e = run(&machine, json!({"message": "hello"}), &mocks).await;
    assert_eq!(
        output(&e),
        json!({"message": "hello", "sent": {"id": "m-1"}})
    );
    let request = json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": "hello"});
    assert_eq!(
        mocks.asked(),
        [("Notify".into(), SQS.into(), request.clone())]
    );
    assert_eq!(
        task_events(&e),
        [
            (
                "TaskScheduled".to_string(),
                json!({"resourceType": "sqs", "resource": "sendMessage", "region": "us-east-1", "parameters": request, "timeoutInSeconds": null})
            ),
            (
                "TaskStarted".to_string(),
                json!({"resourceType": "sqs", "resource": "sendMessage"})
            ),
            (
                "TaskSucceeded".to_string(),
                json!({"resourceType": "sqs", "resource": "sendMessage", "output": {"MessageId": "m-1", "MD5OfMessageBody": "abc"}})
            )
        ]
    );

    // A mocked failure is the service's error, with the service's names.
    let mocks = StateMocks::new().state(
        "Notify",
        vec![Err(TaskError::new("SQS.QueueDoesNotExist", "no queue"))],
    );
    let e = run(&machine, json!({"message": "hello"}), &mocks).await;
    assert_eq!(e.error.as_ref().unwrap().error, "SQS.QueueDoesNotExist");
    assert_eq!(
        task_events(&e)[2],
        (
            "TaskFailed".to_string(),
            json!({"resourceType": "sqs", "resource": "sendMessage", "error": "SQS.QueueDoesNotExist", "cause": "no queue"})
        )
    );
}

#[test]
fn load_rejects_what_load_with_any_task_resource_accepts() {
    let errors = load(&sqs_document()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "Resource");
    assert!(
        errors[0]
            .message
            .contains("not supported by the local engine"),
        "{}",
        errors[0].message
    );
    assert_eq!(
        load_with(&sqs_document(), &LoadOptions::default()).unwrap_err(),
        errors
    );

    let options = LoadOptions {
        any_task_resource: true,
    };
    let task = |resource: &str| json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}});
    for resource in [
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::dynamodb:putItem",
        "arn:aws:states:us-east-1:123456789012:activity:Approve",
    ] {
        assert!(load(&task(resource)).is_err(), "{resource}");
        assert!(load_with(&task(resource), &options).is_ok(), "{resource}");
    }
    // Still a Resource must be an ARN, and a lambda:invoke still needs its function.
    let errors = load_with(&task("sendMessage"), &options).unwrap_err();
    assert!(errors[0].message.contains("is not an ARN"), "{errors:?}");
    assert!(load_with(&task("arn:aws:states:::lambda:invoke"), &options).is_err());
}

#[tokio::test(start_paused = true)]
async fn an_unmocked_service_task_fails_with_states_runtime_that_nothing_catches() {
    let mut doc = sqs_document();
    doc["States"]["Notify"]["Retry"] = json!([{"ErrorEquals": ["States.ALL"]}]);
    doc["States"]["Notify"]["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]);
    doc["States"]["Caught"] = json!({"Type": "Succeed"});
    let machine = machine_with(
        &doc,
        &LoadOptions {
            any_task_resource: true,
        },
    );
    let cause = "the local engine cannot call `arn:aws:states:::sqs:sendMessage` (state `Notify`); mock it (a MockConfigFile test case)";
    // An invoker that mocks other states, and one that mocks nothing.
    let others = StateMocks::new().state("Other", vec![Ok(json!(1))]);
    let functions = InProcess::new();
    for invoker in [&others as &dyn Invoker, &functions] {
        let e = run(&machine, json!({"message": "hello"}), invoker).await;
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.error, Some(TaskError::new("States.Runtime", cause)));
        assert_eq!(e.failed_state.as_deref(), Some("Notify"));
        assert_eq!(e.entered_states(), ["Notify"]);
        let events = task_events(&e);
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[2].1["error"], json!("States.Runtime"));
    }
}

#[tokio::test(start_paused = true)]
async fn units_pass_state_mocks_on() {
    let doc = json!({"StartAt": "Notify", "States": {"Notify": {"Type": "Task", "Resource": SQS, "End": true}}});
    let machine = machine_with(
        &doc,
        &LoadOptions {
            any_task_resource: true,
        },
    );
    let units = Units::new(StateMocks::new().state("Notify", vec![Ok(json!({"MessageId": "m"}))]));
    assert!(units.mocks_states());
    assert_eq!(
        output(&run(&machine, json!({"a": 1}), &units).await),
        json!({"MessageId": "m"})
    );
    assert!(!Units::new(InProcess::new()).mocks_states());
}

#[test]
fn service_names_split_as_step_functions_does() {
    use super::model::Service;
    for (resource, kind, name) in [
        (SQS, "sqs", "sendMessage"),
        ("arn:aws:states:::dynamodb:putItem", "dynamodb", "putItem"),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            "states",
            "startExecution.sync:2",
        ),
        (
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "lambda",
            "invoke.waitForTaskToken",
        ),
        (
            "arn:aws:states:us-east-1:123456789012:activity:Approve",
            "activity",
            "arn:aws:states:us-east-1:123456789012:activity:Approve",
        ),
        ("arn:aws:states:::odd", "odd", ""),
        ("arn:aws:sns:us-east-1:1:topic", "sns", "topic"),
        ("arn:", "", "arn:"),
    ] {
        let service = Service::of(resource);
        assert_eq!(
            (&*service.resource_type, &*service.resource),
            (kind, name),
            "{resource}"
        );
    }
}
