//! Invoking a subscription's target ([`TargetRef`]): a function of the subscriber's own
//! binary in-process (through [`InProcess`], which the shim provides), another unit through
//! `lambda:Invoke`, an express flow through `StartSyncExecution`, a standard flow through
//! `StartExecution` named after the event and polled until it ends or the subscriber's own
//! deadline comes near. Every way ends in the target's answer or a [`Failure`] named as Step
//! Functions names it.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::types::{ExecutionStatus, SyncExecutionStatus};
use flowctl_protocol::subscriber::TargetRef;
use flowctl_protocol::Error;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The future an in-process call returns.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

/// The functions of the subscriber's own binary: `(function name, payload) → answer`. The
/// shim implements it over its registry; any `Fn(String, Value) -> impl Future` is one.
pub trait InProcess: Send + Sync {
    fn call(&self, function: &str, payload: Value) -> CallFuture;
}

impl<F, Fut> InProcess for F
where
    F: Fn(String, Value) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, Error>> + Send + 'static,
{
    fn call(&self, function: &str, payload: Value) -> CallFuture {
        Box::pin(self(function.to_string(), payload))
    }
}

/// A failed invocation: the error name and cause a KO event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub cause: String,
    /// Whether it counts as an attempt. A standard flow still running at the subscriber's
    /// deadline does not: its execution goes on, and the redelivery waits for it by name.
    pub counts: bool,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            cause: cause.into(),
            counts: true,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::new(error.name(), error.message())
    }
}

pub use flowctl_protocol::ko::STATE_MISSING;
/// The error of a run cut short by the subscriber's deadline (not counted as an attempt).
pub const DEADLINE: &str = "SubscriberDeadline";
/// What is left of the subscriber's time when it stops waiting for a standard flow.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// One invocation: the event's id, which attempt this is (1-based), the payload and the
/// Lambda deadline of the batch.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub event_id: &'a str,
    pub attempt: u32,
    pub payload: Value,
    pub deadline: SystemTime,
}

/// The ways to reach targets.
#[derive(Clone)]
pub struct Targets {
    in_process: Option<Arc<dyn InProcess>>,
    lambda: aws_sdk_lambda::Client,
    sfn: aws_sdk_sfn::Client,
}

impl Targets {
    pub fn new(
        in_process: Option<Arc<dyn InProcess>>,
        lambda: aws_sdk_lambda::Client,
        sfn: aws_sdk_sfn::Client,
    ) -> Targets {
        Targets {
            in_process,
            lambda,
            sfn,
        }
    }

    /// Invokes `target` and waits for its answer.
    pub async fn invoke(&self, target: &TargetRef, call: Call<'_>) -> Result<Value, Failure> {
        match target {
            TargetRef::InProcess { function } => match &self.in_process {
                Some(functions) => Ok(functions.call(function, call.payload).await?),
                None => Err(Failure::new(
                    flowctl_protocol::names::FUNCTION_NOT_FOUND,
                    format!(
                        "the subscriber runs `{function}` in-process, but was given no functions"
                    ),
                )),
            },
            TargetRef::Lambda {
                arn,
                function,
                envelope,
            } => {
                let payload = if *envelope {
                    json!({ "function": function, "payload": call.payload })
                } else {
                    call.payload
                };
                self.lambda(arn, payload).await
            }
            TargetRef::Express { arn } => self.express(arn, call.payload).await,
            TargetRef::Standard { arn } => self.standard(arn, call).await,
        }
    }

    async fn lambda(&self, arn: &str, payload: Value) -> Result<Value, Failure> {
        let answer = self
            .lambda
            .invoke()
            .function_name(arn)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| sdk_failure("Lambda", "Invoke", arn, e))?;
        let bytes = answer.payload.map(Blob::into_inner).unwrap_or_default();
        match answer.function_error {
            Some(kind) => Err(function_error(&kind, &bytes)),
            None => Ok(answer_json(&bytes)),
        }
    }

    async fn express(&self, arn: &str, payload: Value) -> Result<Value, Failure> {
        let out = self
            .sfn
            .start_sync_execution()
            .state_machine_arn(arn)
            .input(payload.to_string())
            .send()
            .await
            .map_err(|e| sdk_failure("States", "StartSyncExecution", arn, e))?;
        match out.status {
            SyncExecutionStatus::Succeeded => {
                Ok(answer_json(out.output.unwrap_or_default().as_bytes()))
            }
            status => Err(Failure::new(
                out.error
                    .unwrap_or_else(|| format!("States.{}", status.as_str())),
                out.cause.unwrap_or_default(),
            )),
        }
    }

    async fn standard(&self, arn: &str, call: Call<'_>) -> Result<Value, Failure> {
        let name = execution_name(call.event_id, call.attempt);
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(arn)
            .name(&name)
            .input(call.payload.to_string())
            .send()
            .await;
        let execution = match started {
            Ok(out) => out.execution_arn,
            // A redelivery (or a run cut short by the deadline): the same execution.
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), StartExecutionError::ExecutionAlreadyExists(_)) =>
            {
                execution_arn(arn, &name)
            }
            Err(e) => return Err(sdk_failure("States", "StartExecution", arn, e)),
        };
        let stop_at = call
            .deadline
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut wait = Duration::from_millis(200);
        loop {
            let out = self
                .sfn
                .describe_execution()
                .execution_arn(&execution)
                .send()
                .await
                .map_err(|e| sdk_failure("States", "DescribeExecution", &execution, e))?;
            match out.status {
                ExecutionStatus::Succeeded => {
                    return Ok(answer_json(out.output.unwrap_or_default().as_bytes()))
                }
                ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {}
                status => {
                    return Err(Failure::new(
                        out.error
                            .unwrap_or_else(|| format!("States.{}", status.as_str())),
                        out.cause.unwrap_or_default(),
                    ))
                }
            }
            if SystemTime::now() + wait > stop_at {
                return Err(Failure {
                    error: DEADLINE.into(),
                    cause: format!(
                        "the execution {execution} is still running near the subscriber's \
                         deadline; the event's redelivery waits for the same execution"
                    ),
                    counts: false,
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }
}

/// The JSON of an answer; an answer that is not JSON is kept as a string.
fn answer_json(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// A Lambda function error, as Step Functions reads it: the payload's `errorType` and
/// `errorMessage`, else Lambda's `FunctionError` (`Unhandled`) and the payload as text.
fn function_error(kind: &str, payload: &[u8]) -> Failure {
    let body: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let error = body["errorType"].as_str().unwrap_or(kind);
    let cause = match body["errorMessage"].as_str() {
        Some(message) => message.to_string(),
        None => String::from_utf8_lossy(payload).into_owned(),
    };
    Failure::new(error, cause)
}

/// A call AWS refused or could not answer: `<Service>.<code>` and AWS's message, naming the
/// operation and resource.
fn sdk_failure<E>(
    service: &str,
    operation: &str,
    resource: &str,
    error: SdkError<E, aws_sdk_sfn::config::http::HttpResponse>,
) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = error.code().unwrap_or("ServiceException").to_string();
    let message = match (error.message(), error.raw_response()) {
        (Some(message), _) => message.to_string(),
        // An answer AWS did not explain (a 500 with an HTML page): its status, not its dump.
        (None, Some(raw)) => format!("HTTP {} without an error message", raw.status().as_u16()),
        (None, None) => DisplayErrorContext(&error).to_string(),
    };
    Failure::new(
        format!("{service}.{code}"),
        format!("{operation} of {resource}: {message}"),
    )
}

/// The longest execution name Step Functions takes.
pub const MAX_EXECUTION_NAME: usize = 80;

/// The execution of a standard flow for one attempt at an event: `<event id>-<attempt>`
/// when the id is made of `[A-Za-z0-9-_]` and fits, else a SHA-256 of it. Named after the
/// event so a redelivery of a run cut short finds its execution instead of starting
/// another; after the attempt, so a retry (a counted failure) runs the flow again.
pub fn execution_name(event_id: &str, attempt: u32) -> String {
    let suffix = format!("-{attempt}");
    let plain = event_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain && !event_id.is_empty() && event_id.len() + suffix.len() <= MAX_EXECUTION_NAME {
        return format!("{event_id}{suffix}");
    }
    let hash: String = Sha256::digest(event_id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // `h` + 64 hex digits + `-<attempt>`: at most 76 characters.
    format!("h{hash}{suffix}")
}

/// The ARN of the execution `name` of the state machine `machine`.
pub fn execution_arn(machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_names_keep_plain_ids_and_hash_the_rest() {
        assert_eq!(execution_name("r-17_a", 1), "r-17_a-1");
        for odd in ["book/r-17@1700000000000", "a b", "", &"x".repeat(79)] {
            let name = execution_name(odd, 12);
            assert!(name.starts_with('h') && name.ends_with("-12"), "{name}");
            assert!(name.len() <= MAX_EXECUTION_NAME);
        }
        assert_eq!(execution_name(&"x".repeat(78), 1).len(), 80);
        assert_ne!(execution_name("a b", 1), execution_name("a  b", 1));
        assert_ne!(execution_name("a b", 1), execution_name("a b", 2));
        assert!(execution_name("é", u32::MAX).len() <= MAX_EXECUTION_NAME);
    }

    #[test]
    fn execution_arns_follow_the_machine() {
        assert_eq!(
            execution_arn("arn:aws:states:eu-west-1:1:stateMachine:p-Booking", "r-1-1"),
            "arn:aws:states:eu-west-1:1:execution:p-Booking:r-1-1"
        );
    }

    #[test]
    fn function_errors_are_read_as_step_functions_reads_them() {
        let failure = function_error(
            "Unhandled",
            br#"{"errorType":"PaymentDeclined","errorMessage":"card refused"}"#,
        );
        assert_eq!(failure, Failure::new("PaymentDeclined", "card refused"));
        assert_eq!(
            function_error("Unhandled", b"boom"),
            Failure::new("Unhandled", "boom")
        );
        assert_eq!(answer_json(b""), Value::Null);
        assert_eq!(answer_json(b"{\"a\":1}"), json!({"a": 1}));
        assert_eq!(answer_json(b"plain"), json!("plain"));
    }

    #[tokio::test]
    async fn in_process_closures_are_targets() {
        let functions: Arc<dyn InProcess> = Arc::new(|name: String, payload: Value| async move {
            if name == "Fail" {
                Err(Error::new("Injected", "asked to"))
            } else {
                Ok(json!({ "name": name, "payload": payload }))
            }
        });
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let targets = Targets::new(
            Some(functions),
            aws_sdk_lambda::Client::new(&sdk),
            aws_sdk_sfn::Client::new(&sdk),
        );
        let call = |payload| Call {
            event_id: "e",
            attempt: 1,
            payload,
            deadline: SystemTime::now() + Duration::from_secs(60),
        };
        let ok = TargetRef::InProcess {
            function: "Apply".into(),
        };
        assert_eq!(
            targets.invoke(&ok, call(json!(1))).await,
            Ok(json!({"name": "Apply", "payload": 1}))
        );
        let fail = TargetRef::InProcess {
            function: "Fail".into(),
        };
        assert_eq!(
            targets.invoke(&fail, call(json!(1))).await,
            Err(Failure::new("Injected", "asked to"))
        );
    }
}
