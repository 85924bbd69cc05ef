//! Running deployed things: a flow's state machine (standard: start an execution with a
//! unique name and poll it; express: one synchronous call) and a single function
//! (`lambda:Invoke`). On failure the error, the cause and the failing state come from the
//! execution history.

use super::{CallError, Clients};
use aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sfn::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sfn::error::BoxError;
use serde_json::Value;
use std::time::Duration;

/// How a remote execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteExecution {
    pub name: String,
    pub arn: Option<String>,
    /// Step Functions' status: `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub failed_state: Option<String>,
}

impl RemoteExecution {
    pub fn succeeded(&self) -> bool {
        self.status == "SUCCEEDED"
    }
}

/// An execution's output as Step Functions returns it: JSON text (an emulator may return a
/// bare string without quotes: taken as that string).
fn parse_output(text: Option<&str>) -> Option<Value> {
    let text = text?;
    Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())))
}

/// Express flows' synchronous API lives on the `sync-` host; a custom endpoint
/// (LocalStack, moto, a proxy) has no such host, so the prefix is taken off again.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().replacen("://sync-", "://", 1);
        request.set_uri(uri)?;
        Ok(())
    }
}

/// Runs a standard state machine: starts execution `name` and polls it until it ends.
pub async fn run_standard(
    clients: &Clients,
    machine_arn: &str,
    name: &str,
    input: &Value,
) -> Result<RemoteExecution, CallError> {
    let resource = format!("state machine {machine_arn}");
    let started = clients
        .sfn
        .start_execution()
        .state_machine_arn(machine_arn)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| CallError::new(resource.clone(), "StartExecution", &e))?;
    let arn = started.execution_arn().to_string();
    let mut delay = Duration::from_millis(100);
    loop {
        let described = clients
            .sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|e| CallError::new(format!("execution {name}"), "DescribeExecution", &e))?;
        let status = described.status().as_str().to_string();
        if status != "RUNNING" && status != "PENDING_REDRIVE" {
            let mut execution = RemoteExecution {
                name: name.to_string(),
                arn: Some(arn.clone()),
                output: parse_output(described.output()),
                error: described.error().map(str::to_string),
                cause: described.cause().map(str::to_string),
                failed_state: None,
                status,
            };
            if !execution.succeeded() {
                explain_failure(clients, &mut execution).await;
            }
            return Ok(execution);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// Runs an express state machine synchronously.
pub async fn run_express(
    clients: &Clients,
    machine_arn: &str,
    name: &str,
    input: &Value,
    custom_endpoint: bool,
) -> Result<RemoteExecution, CallError> {
    let request = clients
        .sfn
        .start_sync_execution()
        .state_machine_arn(machine_arn)
        .name(name)
        .input(input.to_string());
    let answer = if custom_endpoint {
        request.customize().interceptor(NoHostPrefix).send().await
    } else {
        request.send().await
    }
    .map_err(|e| {
        CallError::new(
            format!("state machine {machine_arn}"),
            "StartSyncExecution",
            &e,
        )
    })?;
    Ok(RemoteExecution {
        name: name.to_string(),
        arn: Some(answer.execution_arn().to_string()),
        status: answer.status().as_str().to_string(),
        output: parse_output(answer.output()),
        error: answer.error().map(str::to_string),
        cause: answer.cause().map(str::to_string),
        failed_state: None,
    })
}

/// Fills in the error, cause and failing state from the execution's history (newest
/// first): the failure event's details, and the last state entered before it.
async fn explain_failure(clients: &Clients, execution: &mut RemoteExecution) {
    let Some(arn) = execution.arn.clone() else {
        return;
    };
    let Ok(history) = clients
        .sfn
        .get_execution_history()
        .execution_arn(arn)
        .reverse_order(true)
        .max_results(100)
        .send()
        .await
    else {
        return;
    };
    for event in history.events() {
        if let Some(d) = event.execution_failed_event_details() {
            execution.error = execution.error.take().or(d.error().map(str::to_string));
            execution.cause = execution.cause.take().or(d.cause().map(str::to_string));
        }
        if let Some(d) = event.state_entered_event_details() {
            execution.failed_state = Some(d.name().to_string());
            break;
        }
    }
}

/// One function's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionAnswer {
    pub payload: Value,
    /// Lambda's `FunctionError` (`Unhandled`, or the function's own error type in the payload).
    pub error: Option<String>,
}

/// A function's answer as Lambda sends it: the response bytes and the `FunctionError` header.
#[derive(Debug, Clone, PartialEq)]
pub struct RawAnswer {
    pub payload: Vec<u8>,
    /// `Unhandled` (or `Handled`) when the function failed; the payload is then its error object.
    pub function_error: Option<String>,
}

/// Invokes a function synchronously, once, as a Step Functions Task does: the SDK's own
/// retries are off, so a throttle or a service error reaches the flow's `retry` and `catch`
/// (which decide, as on Step Functions) instead of being retried unseen here.
pub async fn invoke_once(
    clients: &Clients,
    name: &str,
    payload: Vec<u8>,
) -> Result<RawAnswer, CallError> {
    let no_retries = aws_sdk_lambda::config::Builder::default()
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled());
    let answer = clients
        .lambda
        .invoke()
        .function_name(name)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .customize()
        .config_override(no_retries)
        .send()
        .await
        .map_err(|e| CallError::new(format!("function {name}"), "Invoke", &e))?;
    Ok(RawAnswer {
        function_error: answer.function_error().map(str::to_string),
        payload: answer.payload.map(|b| b.into_inner()).unwrap_or_default(),
    })
}

/// The ARN of deployed function `name`, or `None` when there is none.
pub async fn function_arn(clients: &Clients, name: &str) -> Result<Option<String>, CallError> {
    match clients
        .lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
    {
        Ok(config) => Ok(Some(config.function_arn().unwrap_or(name).to_string())),
        Err(err) if super::code(&err) == Some("ResourceNotFoundException") => Ok(None),
        Err(err) => Err(CallError::new(
            format!("function {name}"),
            "GetFunctionConfiguration",
            &err,
        )),
    }
}

/// Invokes a function synchronously with `payload`.
pub async fn invoke_function(
    clients: &Clients,
    name: &str,
    payload: &Value,
) -> Result<FunctionAnswer, CallError> {
    let answer = clients
        .lambda
        .invoke()
        .function_name(name)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
        .send()
        .await
        .map_err(|e| CallError::new(format!("function {name}"), "Invoke", &e))?;
    let bytes = answer
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    let payload = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(FunctionAnswer {
        payload,
        error: answer.function_error().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_json_or_the_bare_string_an_emulator_returns() {
        assert_eq!(
            parse_output(Some(r#"{"a":1}"#)),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            parse_output(Some("plain")),
            Some(Value::String("plain".into()))
        );
        assert_eq!(parse_output(None), None);
    }
}
