use super::*;
use flowctl_engine::{execute, load_with, ExecutionOptions, LoadOptions, Status};
use flowctl_lang::render::{self, FileDiagnostics};
use serde_json::json;

/// AWS's example MockConfigFile ("Configuration file for mocked service integrations in Step
/// Functions"), as the documentation writes it: a Return of a whole Lambda Invoke response,
/// Throws, the range "1-2", an SQS response.
const AWS_EXAMPLE: &str = r#"{
  "StateMachines":{
    "LambdaSQSIntegration":{
      "TestCases":{
        "HappyPath":{
          "LambdaState":"MockedLambdaSuccess",
          "SQSState":"MockedSQSSuccess"
        },
        "RetryPath":{
          "LambdaState":"MockedLambdaRetry",
          "SQSState":"MockedSQSSuccess"
        },
        "HybridPath":{
          "LambdaState":"MockedLambdaSuccess"
        }
      }
    }
  },
  "MockedResponses":{
    "MockedLambdaSuccess":{
      "0":{
        "Return":{
          "StatusCode":200,
          "Payload":{
            "StatusCode":200,
            "body":"Hello from Lambda!"
          }
        }
      }
    },
    "LambdaMockedResourceNotReady":{
      "0":{
        "Throw":{
          "Error":"Lambda.ResourceNotReadyException",
          "Cause":"Lambda resource is not ready."
        }
      }
    },
    "MockedSQSSuccess":{
      "0":{
        "Return":{
          "MD5OfMessageBody":"3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
          "MessageId":"3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"
        }
      }
    },
    "MockedLambdaRetry":{
      "0":{
        "Throw":{
          "Error":"Lambda.ResourceNotReadyException",
          "Cause":"Lambda resource is not ready."
        }
      },
      "1-2":{
        "Throw":{
          "Error":"Lambda.TimeoutException",
          "Cause":"Lambda timed out."
        }
      },
      "3":{
        "Return":{
          "StatusCode":200,
          "Payload":{
            "StatusCode":200,
            "body":"Hello from Lambda!"
          }
        }
      }
    }
  }
}"#;

/// The state machine of AWS's example: a Lambda call (retried) whose payload is sent to SQS.
fn lambda_sqs() -> Value {
    json!({
        "StartAt": "LambdaState",
        "States": {
            "LambdaState": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "HelloWorldFunction", "Payload.$": "$"},
                "ResultSelector": {"body.$": "$.Payload.body"},
                "Retry": [{
                    "ErrorEquals": ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException"],
                    "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2
                }],
                "Next": "SQSState"
            },
            "SQSState": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody.$": "$"},
                "ResultPath": "$.sent",
                "End": true
            }
        }
    })
}

fn run(doc: &Value, input: Value, invoker: &dyn Invoker) -> Execution {
    let options = LoadOptions {
        any_task_resource: true,
    };
    let machine = load_with(doc, &options).expect("a valid document");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(execute(
        &machine,
        input,
        invoker,
        &ExecutionOptions::default(),
    ))
}

fn rendered(text: &str, diagnostics: Vec<Diagnostic>) -> String {
    render::text(
        &[FileDiagnostics {
            path: "MockConfigFile.json".into(),
            source: text.to_string(),
            diagnostics,
        }],
        false,
    )
}

#[test]
fn reads_aws_example() {
    let config = parse(AWS_EXAMPLE).expect("AWS's example parses");
    let retry = &config.responses["MockedLambdaRetry"];
    let ranges: Vec<(u64, u64)> = retry
        .invocations
        .iter()
        .map(|i| (i.first, i.last))
        .collect();
    assert_eq!(ranges, [(0, 0), (1, 2), (3, 3)]);
    assert_eq!(retry.calls(), 4);
    assert_eq!(
        retry.answer(2),
        Some(&Answer::Throw {
            error: "Lambda.TimeoutException".into(),
            cause: "Lambda timed out.".into()
        })
    );
    assert_eq!(retry.answer(4), None);
    let cases = &config.state_machines["LambdaSQSIntegration"].test_cases;
    assert_eq!(cases.len(), 3);
    assert_eq!(
        cases["HybridPath"].states["LambdaState"],
        "MockedLambdaSuccess"
    );
    let states = ["LambdaState".to_string(), "SQSState".to_string()];
    assert!(config.check("LambdaSQSIntegration", &states).is_empty());
}

#[test]
fn runs_aws_example_test_cases() {
    let config = parse(AWS_EXAMPLE).unwrap();
    let doc = lambda_sqs();
    let mocks = |case| {
        config
            .state_mocks("LambdaSQSIntegration", case)
            .expect("the test case")
    };

    // HappyPath: `Return` is the whole Invoke response; ResultSelector reads `$.Payload`.
    let happy = mocks("HappyPath");
    let execution = run(&doc, json!({"x": 1}), &happy);
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.error);
    let sent = json!({"MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
                      "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"});
    assert_eq!(
        execution.output.as_deref(),
        Some(&json!({"body": "Hello from Lambda!", "sent": sent}))
    );
    assert_eq!(happy.calls(), ["LambdaState", "SQSState"]);
    assert!(happy.problems().is_empty());

    // RetryPath: invocation 0 and the range 1-2 throw, the Retry retries them, 3 returns.
    let retry = mocks("RetryPath");
    let execution = run(&doc, json!({"x": 1}), &retry);
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.error);
    assert_eq!(
        retry.calls(),
        [
            "LambdaState",
            "LambdaState",
            "LambdaState",
            "LambdaState",
            "SQSState"
        ]
    );
    let failures: Vec<String> = execution
        .history
        .iter()
        .filter(|e| e.kind == EventKind::TaskFailed)
        .map(|e| {
            e.details()["error"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        failures,
        [
            "Lambda.ResourceNotReadyException",
            "Lambda.TimeoutException",
            "Lambda.TimeoutException"
        ]
    );

    // HybridPath: SQSState is not mocked. Step Functions Local would call SQS; the local
    // engine cannot, so the execution fails and the case is in error.
    let hybrid = mocks("HybridPath");
    let execution = run(&doc, json!({"x": 1}), &hybrid);
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_ref().unwrap().error, "States.Runtime");
    assert_eq!(
        hybrid.problems(),
        ["state `SQSState` calls `arn:aws:states:::sqs:sendMessage`, which runs only mocked: test case `HybridPath` does not mock it"]
    );
}

#[test]
fn a_call_past_the_last_invocation_fails_the_execution() {
    // One answer defined, a Retry asks for a second: AWS says the execution fails; the
    // state's catch-all does not turn that into a success.
    let text = r#"{"StateMachines": {"M": {"TestCases": {"once": {"Pay": "PayOnce"}}}},
      "MockedResponses": {"PayOnce": {"0": {"Throw": {"Error": "Busy", "Cause": "try again"}}}}}"#;
    let config = parse(text).unwrap();
    let doc = json!({"StartAt": "Pay", "States": {
        "Pay": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Pay",
                "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}
    }});
    let mocks = config.state_mocks("M", "once").unwrap();
    let execution = run(&doc, json!({}), &mocks);
    assert_eq!(execution.status, Status::Failed);
    let error = execution.error.unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert_eq!(
        error.cause,
        "flowctl.MockExhausted: state `Pay` was called 2 times; mocked response `PayOnce` answers 1 (invocations 0-0): Step Functions Local fails the execution when an invocation has no mocked response; add \"1\" to `PayOnce` in test case `once`"
    );
    assert_eq!(
        mocks.problems(),
        ["state `Pay` was called 2 times; mocked response `PayOnce` answers 1 (invocations 0-0)"]
    );
}

#[test]
fn a_lambda_arn_returns_the_function_result_and_unmocked_calls_are_problems() {
    let text = r#"{"StateMachines": {"M": {"TestCases": {"c": {"Quote": "Q"}}}},
      "MockedResponses": {"Q": {"0": {"Return": {"rate": 120}}}}}"#;
    let config = parse(text).unwrap();
    let doc = json!({"StartAt": "Quote", "States": {
        "Quote": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Quote",
                  "ResultPath": "$.quote", "Next": "Notify"},
        "Notify": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Notify", "End": true}
    }});
    let mocks = config.state_mocks("M", "c").unwrap();
    let execution = run(&doc, json!({}), &mocks);
    assert_eq!(execution.error.as_ref().unwrap().error, NOT_MOCKED);
    assert_eq!(
        mocks.problems(),
        ["function `arn:aws:lambda:us-east-1:123456789012:function:Notify` was called but test case `c` does not mock its state and no real function runs"]
    );
    // With a fallback (integration), the unmocked function runs for real.
    let real = flowctl_engine::InProcess::new().sync("Notify", Ok);
    let mocks = config
        .state_mocks("M", "c")
        .unwrap()
        .with_fallback(Arc::new(real));
    let execution = run(&doc, json!({}), &mocks);
    assert_eq!(
        execution.output.as_deref(),
        Some(&json!({"quote": {"rate": 120}}))
    );
    assert_eq!(
        mocks.calls(),
        [
            "Quote",
            "arn:aws:lambda:us-east-1:123456789012:function:Notify"
        ]
    );
    assert!(mocks.problems().is_empty());
    assert!(config.state_mocks("M", "nope").is_none());
}

#[test]
fn diagnoses_every_problem_with_its_place() {
    let text = r#"{
  "StateMachines": {
    "Booking": {
      "TestCases": {
        "happy": {"Pay": "PaySucces", "Quote": 3},
        "odd": {"Pay": "Gaps"}
      },
      "Tests": {}
    }
  },
  "MockedResponses": {
    "PaySuccess": {"0": {"Return": {"ok": true}, "Throw": {"Error": "E", "Cause": "c"}}},
    "Gaps": {"0": {"Return": 1}, "2-3": {"Return": 2}, "3": {"Throw": {"Error": "E"}}, "x-1": {}, "1-0": {"Return": 0}},
    "Nothing": {"0": {"Retrun": 1}}
  },
  "Extra": 1
}"#;
    let diagnostics = parse(text).unwrap_err();
    insta::assert_snapshot!("mock_config_diagnostics", rendered(text, diagnostics));
}

#[test]
fn not_json_is_located() {
    let text = "{\n  \"StateMachines\": {},\n  \"MockedResponses\": {\n    \"A\": {\"0\": {\"Return\": 1,}}\n  }\n}\n";
    let diagnostics = parse(text).unwrap_err();
    assert_eq!(diagnostics[0].code, "T100");
    insta::assert_snapshot!("mock_config_not_json", rendered(text, diagnostics));
    for odd in ["", "[", "\"", "3", "{\"StateMachines\": []}", "null"] {
        assert!(parse(odd).is_err(), "{odd}");
    }
}

#[test]
fn checks_against_the_document() {
    let config = parse(AWS_EXAMPLE).unwrap();
    let states = ["LambdaState".to_string(), "SQSStat".to_string()];
    let diagnostics = config.check("LambdaSQSIntegration", &states);
    let found: Vec<(&str, String)> = diagnostics
        .iter()
        .map(|d| (d.code, d.hint.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        found,
        [
            ("T109", "did you mean `SQSStat`?".to_string()),
            ("T109", "did you mean `SQSStat`?".to_string())
        ]
    );
    insta::assert_snapshot!(
        "mock_config_unknown_state",
        rendered(AWS_EXAMPLE, diagnostics[..1].to_vec())
    );
    let unknown = config.check("LambdaSQSIntegratoin", &states);
    assert_eq!(unknown[0].code, "T108");
    assert_eq!(
        unknown[0].hint.as_deref(),
        Some("did you mean `LambdaSQSIntegration`?")
    );
}

use crate::test_support::booking;

/// Functions by name (`${unit:F}` read as `F`), each answering its calls in order, the last
/// answer repeated.
struct Functions(
    HashMap<String, Vec<Result<Value, &'static str>>>,
    Mutex<HashMap<String, usize>>,
);

impl Invoker for Functions {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        _payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        let name = function.trim_start_matches("${unit:").trim_end_matches('}');
        let n = {
            let mut calls = self.1.lock().unwrap();
            let n = calls.entry(name.to_string()).or_default();
            *n += 1;
            *n - 1
        };
        let answers = self.0.get(name).cloned().unwrap_or_default();
        let answer = answers.get(n).or(answers.last()).cloned();
        let answer = answer.unwrap_or(Ok(json!({})));
        Box::pin(async move {
            answer
                .map(Arc::new)
                .map_err(|e| TaskError::from_lambda(e, "scripted"))
        })
    }
}

#[test]
fn exported_cases_replay_the_recorded_runs() {
    let doc = booking();
    let input = json!({"id": "b-1", "guest": "ada", "nights": 2, "amount": 240,
                       "arrival": "2026-01-01", "currency": "EUR"});
    let held = json!({"status": "available", "room": 12});
    let functions = |answers: Vec<(&str, Vec<Result<Value, &'static str>>)>| {
        Functions(
            answers
                .into_iter()
                .map(|(f, a)| (f.to_string(), a))
                .collect(),
            Mutex::new(HashMap::new()),
        )
    };
    let paid = run(
        &doc,
        input.clone(),
        &functions(vec![
            ("QuoteRate", vec![Ok(json!({"rate": 120}))]),
            ("ReserveAvailability", vec![Ok(held.clone())]),
            (
                "ProcessPayment",
                vec![
                    Err("PaymentGatewayTimeout"),
                    Err("PaymentGatewayTimeout"),
                    Ok(json!({"transaction": "t-1"})),
                ],
            ),
        ]),
    );
    let declined = run(
        &doc,
        input.clone(),
        &functions(vec![
            ("ReserveAvailability", vec![Ok(held)]),
            ("ProcessPayment", vec![Err("CardDeclined")]),
        ]),
    );
    assert_eq!(paid.status, Status::Succeeded);
    assert_eq!(declined.status, Status::Failed);
    let cases = [
        ("paid after two timeouts".to_string(), &paid),
        ("declined".to_string(), &declined),
    ];
    let exported = export_machines(&[("Booking".to_string(), cases.to_vec())]);
    let pay = &exported["MockedResponses"]["paid-after-two-timeouts.payment-ProcessPayment"];
    assert_eq!(
        pay["0-1"]["Throw"]["Error"], "PaymentGatewayTimeout",
        "{exported:#}"
    );
    assert_eq!(
        pay["2"]["Return"],
        json!({"ExecutedVersion": "$LATEST", "Payload": {"transaction": "t-1"}, "StatusCode": 200})
    );
    // The file parses, checks against the document, and each test case gives the same run.
    let text = serde_json::to_string_pretty(&exported).unwrap();
    let config = parse(&text).expect("the export parses");
    let states: Vec<String> = doc["States"].as_object().unwrap().keys().cloned().collect();
    assert!(config.check("Booking", &states).is_empty());
    for (case, recorded) in cases.clone() {
        let mocks = config.state_mocks("Booking", &case).unwrap();
        let replayed = run(&doc, input.clone(), &mocks);
        assert_eq!(replayed.status, recorded.status, "{case}");
        assert_eq!(replayed.output, recorded.output, "{case}");
        assert_eq!(replayed.error, recorded.error, "{case}");
        assert_eq!(
            replayed.entered_states(),
            recorded.entered_states(),
            "{case}"
        );
        assert!(
            mocks.problems().is_empty(),
            "{case}: {:?}",
            mocks.problems()
        );
    }
    insta::assert_snapshot!("booking_export", text);
    // Two state machines in one file (every flow of a project) share no response name.
    let both = export_machines(&[
        ("Booking".to_string(), vec![cases[1].clone()]),
        ("Copy".to_string(), vec![cases[1].clone()]),
    ]);
    let names: Vec<&str> = ["Booking", "Copy"]
        .iter()
        .flat_map(|m| {
            both["StateMachines"][m]["TestCases"]["declined"]
                .as_object()
                .unwrap()
                .values()
                .filter_map(Value::as_str)
        })
        .collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "{both:#}");
    assert_eq!(
        both["MockedResponses"].as_object().unwrap().len(),
        names.len()
    );
}

#[test]
fn state_names_reach_into_branches_and_map_bodies() {
    let doc = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "M", "Branches": [
            {"StartAt": "a", "States": {"a": {"Type": "Pass", "End": true}}},
            {"StartAt": "b", "States": {"b": {"Type": "Pass", "End": true}}}
        ]},
        "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "c", "States": {
            "c": {"Type": "Map", "End": true, "Iterator": {"StartAt": "d", "States": {"d": {"Type": "Pass", "End": true}}}}
        }}}
    }});
    assert_eq!(crate::state_names(&doc), ["P", "a", "b", "M", "c", "d"]);
    assert!(crate::state_names(&json!("not a machine")).is_empty());
}

#[test]
fn response_names_are_sanitised_and_unique() {
    assert_eq!(sanitise("a free room: booked!"), "a-free-room-booked");
    assert_eq!(sanitise("_ = NotifyGuest"), "_-NotifyGuest");
    assert_eq!(sanitise("!!"), "_");
    assert_eq!(invocation_range("0"), Some((0, 0)));
    assert_eq!(invocation_range("1-2"), Some((1, 2)));
    for bad in [
        "",
        "-",
        "1-",
        "-1",
        "2-1",
        "+1",
        "1.0",
        " 1",
        "1-2-3",
        "99999999999999999999",
    ] {
        assert_eq!(invocation_range(bad), None, "{bad}");
    }
}
