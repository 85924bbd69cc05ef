//! Hybrid runs: some units called on their deployed Lambdas (`lambda:Invoke` through the SDK,
//! on AWS, LocalStack or moto), the rest on local processes, one flow on the local engine.
//!
//! A deployed unit's answer becomes what Step Functions' Lambda integration makes of it, so a
//! flow's `retry` and `catch` behave as they do when the whole flow is deployed:
//!
//! | Lambda answers | `TaskError.error` | cause |
//! | --- | --- | --- |
//! | a payload, no `FunctionError` | no error: the payload (JSON, else the text as a string) | |
//! | `FunctionError` with an error object | its `errorType` (`Sandbox.Timedout` for a function past its timeout) | the error object as the function's runtime sent it |
//! | `FunctionError` with another body | `Lambda.Unknown` | the body |
//! | a service error (throttled, not found, …) | `Lambda.<its code>` (`Lambda.TooManyRequestsException`, …) | AWS's message and code |
//! | no answer (the endpoint is unreachable) | `Lambda.SdkClientException` | what went wrong |
//!
//! Each call is made once (the SDK's retries are off): retrying is the flow's to decide.

use super::process::{posted_error, response_value};
use super::LocalProcesses;
use flowctl_aws::invoke::{invoke_once, RawAnswer};
use flowctl_aws::{CallError, Clients};
use flowctl_engine::{BoxFuture, Invoker, TaskError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a unit runs in a hybrid run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A local process of its built binary.
    Local,
    /// Its deployed Lambda, by function name or ARN.
    Deployed(String),
}

impl Placement {
    /// How the trace marks a call: `local` or `lambda <name>`.
    pub fn label(&self) -> String {
        match self {
            Placement::Local => "local".to_string(),
            Placement::Deployed(lambda) => format!("lambda {}", lambda_name(lambda)),
        }
    }
}

/// A function name from an ARN (`…:function:NAME[:qualifier]`), or the name itself.
fn lambda_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => name_or_arn,
    }
}

/// The engine's invoker for a hybrid run: units named in `deployed` go to their Lambdas,
/// every other unit to the local processes. Calls name units, as a flow compiled for a
/// local run does.
pub struct Hybrid {
    local: LocalProcesses,
    clients: Clients,
    /// Unit name → its deployed Lambda (name or ARN).
    deployed: BTreeMap<String, String>,
}

impl Hybrid {
    pub fn new(
        local: LocalProcesses,
        clients: Clients,
        deployed: BTreeMap<String, String>,
    ) -> Hybrid {
        Hybrid {
            local,
            clients,
            deployed,
        }
    }
}

impl Invoker for Hybrid {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        let Some(lambda) = self.deployed.get(function) else {
            return self.local.invoke(function, payload);
        };
        Box::pin(async move {
            let body = serde_json::to_vec(&*payload).map_err(|e| {
                TaskError::new(flowctl_protocol::sfn::errors::RUNTIME, e.to_string())
            })?;
            let answer = invoke_once(&self.clients, lambda, body).await;
            task_result(answer).map(Arc::new)
        })
    }

    fn mocks_states(&self) -> bool {
        false
    }
}

/// What Step Functions' Lambda integration makes of an Invoke's outcome (the table above).
pub fn task_result(answer: Result<RawAnswer, CallError>) -> Result<Value, TaskError> {
    match answer {
        Ok(RawAnswer {
            payload,
            function_error: None,
        }) => response_value(&payload),
        // Lambda's own header says only Handled/Unhandled; the error's name is in the body.
        Ok(RawAnswer {
            payload,
            function_error: Some(_),
        }) => Err(posted_error(&payload, None, "Lambda.Unknown")),
        Err(err) => Err(match &err.code {
            Some(code) => TaskError::new(
                format!("Lambda.{code}"),
                format!("{} (Service: Lambda; Error Code: {code})", err.message),
            ),
            None => TaskError::new("Lambda.SdkClientException", err.message),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(body: &str, function_error: Option<&str>) -> Result<RawAnswer, CallError> {
        Ok(RawAnswer {
            payload: body.as_bytes().to_vec(),
            function_error: function_error.map(str::to_string),
        })
    }

    #[test]
    fn a_payload_is_the_result_json_or_text() {
        assert_eq!(task_result(answer(r#"{"a":1}"#, None)), Ok(json!({"a": 1})));
        assert_eq!(task_result(answer("plain", None)), Ok(json!("plain")));
    }

    #[test]
    fn a_function_error_is_named_by_its_error_type() {
        let body = r#"{"errorType":"PaymentDeclined","errorMessage":"no money","stackTrace":[]}"#;
        // The cause is the error object as the function's runtime sent it (a stack trace too).
        assert_eq!(
            task_result(answer(body, Some("Unhandled"))),
            Err(TaskError::new("PaymentDeclined", body))
        );
        let timed_out = r#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 1 Error: Task timed out after 3.00 seconds"}"#;
        assert_eq!(
            task_result(answer(timed_out, Some("Unhandled")))
                .unwrap_err()
                .error,
            "Sandbox.Timedout"
        );
        assert_eq!(
            task_result(answer("boom", Some("Unhandled"))),
            Err(TaskError::new("Lambda.Unknown", "boom"))
        );
    }

    #[test]
    fn service_errors_are_lambda_exceptions_and_no_answer_is_a_client_exception() {
        let refused = CallError {
            resource: "function f".into(),
            operation: "Invoke",
            code: Some("TooManyRequestsException".into()),
            message: "Rate exceeded".into(),
        };
        let e = task_result(Err(refused)).unwrap_err();
        assert_eq!(e.error, "Lambda.TooManyRequestsException");
        assert!(e.cause.starts_with("Rate exceeded"), "{}", e.cause);
        let unreachable = CallError::other("function f", "Invoke", "connection refused");
        assert_eq!(
            task_result(Err(unreachable)).unwrap_err().error,
            "Lambda.SdkClientException"
        );
    }

    #[test]
    fn placements_are_labelled_by_function_name() {
        assert_eq!(Placement::Local.label(), "local");
        assert_eq!(
            Placement::Deployed(
                "arn:aws:lambda:us-east-1:123456789012:function:shop-pay:live".into()
            )
            .label(),
            "lambda shop-pay"
        );
    }
}
