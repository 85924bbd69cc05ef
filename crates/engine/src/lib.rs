//! flowctl's engine: an interpreter of Amazon States Language (JSONPath and JSONata, with
//! workflow variables) that runs the
//! same document that is deployed, recording a Step Functions-style execution history. It
//! depends on no compiler and no AWS SDK: embed it in your own service to run a flow
//! in-process, with its functions as closures, and move the same document to Step Functions
//! and Lambda when one machine is no longer enough.
//!
//! ```
//! use flowctl_engine::{execute, load, ExecutionOptions, InProcess, Status, TaskError};
//! use serde_json::json;
//!
//! // What `flowctl compile` writes for a flow `r = Quote(input); if r.ok … else fail(…)`,
//! // with the Lambda units' ARNs already resolved (here: plain function names).
//! let document = json!({
//!     "StartAt": "Quote",
//!     "States": {
//!         "Quote": {
//!             "Type": "Task",
//!             "Resource": "arn:aws:states:::lambda:invoke",
//!             "Parameters": { "FunctionName": "Quote", "Payload.$": "$" },
//!             "ResultSelector": { "value.$": "$.Payload" },
//!             "ResultPath": "$.quote",
//!             "Retry": [{ "ErrorEquals": ["Busy"], "MaxAttempts": 2 }],
//!             "Next": "Ok?"
//!         },
//!         "Ok?": {
//!             "Type": "Choice",
//!             "Choices": [{ "Variable": "$.quote.value.ok", "BooleanEquals": true, "Next": "Done" }],
//!             "Default": "Refused"
//!         },
//!         "Done": { "Type": "Pass", "OutputPath": "$.quote.value", "End": true },
//!         "Refused": { "Type": "Fail", "Error": "Refused", "Cause": "no quote" }
//!     }
//! });
//! let machine = load(&document).expect("a valid state machine");
//!
//! // The functions, as closures: the engine calls them where Step Functions would call Lambda.
//! let functions = InProcess::new().sync("Quote", |input| {
//!     match input["nights"].as_u64() {
//!         Some(nights) => Ok(json!({ "ok": true, "total": nights * 120 })),
//!         None => Err(TaskError::from_lambda("InvalidInput", "nights is missing")),
//!     }
//! });
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let execution = runtime.block_on(execute(
//!     &machine,
//!     json!({ "nights": 3 }),
//!     &functions,
//!     &ExecutionOptions::default(),
//! ));
//! assert_eq!(execution.status, Status::Succeeded);
//! assert_eq!(execution.output.as_deref(), Some(&json!({ "ok": true, "total": 360 })));
//! assert_eq!(execution.entered_states(), ["Quote", "Ok?", "Done"]);
//! ```
//!
//! `load` validates a document the way Step Functions does and compiles it (states by index,
//! paths and templates parsed); `execute` runs it with an `Invoker` for the Task states.
//! Waits, retry delays and timeouts use `tokio::time`, so a test under
//! `#[tokio::test(start_paused = true)]` runs them on a virtual clock, and the history's
//! timestamps (the execution's start time plus `tokio::time::Instant` offsets) are virtual too.
//!
//! What runs: `Pass Task Choice Wait Succeed Fail Parallel Map`; `InputPath Parameters
//! ResultSelector ResultPath OutputPath`; `Retry`/`Catch` with the `States.*` error names;
//! intrinsic functions; the context object (`$$`); task and execution timeouts; JSONata states
//! (`QueryLanguage`, `Arguments Output Assign Condition Items ItemSelector`, `$states`, the
//! functions Step Functions adds, `States.QueryEvaluationError`, see [`jsonata`]); workflow
//! variables (`Assign`, `$name`, their scopes and quotas). Tasks call
//! Lambda functions, through `arn:aws:states:::lambda:invoke` (history: `Task*` events) or a
//! function ARN (`LambdaFunction*` events); other resources (service integrations such as
//! `arn:aws:states:::sqs:sendMessage`, `.sync`, `.waitForTaskToken`, activities) and
//! Distributed Map's `ItemReader`/`ResultWriter`/`ItemBatcher` are rejected by `load`. A
//! Distributed Map runs its items like an inline one, but, as on AWS, its children's states
//! stay out of the history (`MapRun*` events instead) and it tolerates no failure by default.
//!
//! Mocks by state, for tests (Step Functions Local's mocked service integrations): an
//! `Invoker` may answer a Task's whole result by the state's name ([`Invoker::mocked`],
//! asked at every attempt before the call) — for `lambda:invoke` the whole Invoke response,
//! which `ResultSelector`, `ResultPath` and `OutputPath` then read as usual; a mocked error is
//! retried and caught like a real one. `load_with` with [`LoadOptions::any_task_resource`]
//! loads the Tasks the engine cannot call; they run only when mocked (`TaskScheduled`,
//! `TaskStarted`, `TaskSucceeded`/`TaskFailed` with the service's `resourceType` and
//! `resource`, e.g. `sqs`, `sendMessage`) and otherwise fail with `States.Runtime`.
//!
//! Errors: a path that selects nothing (in `InputPath`, `Parameters`, `ResultSelector`,
//! `ItemSelector`, `OutputPath`, a Choice `Variable`…) or an intrinsic function that fails on
//! its arguments is `States.Runtime`, which, like `States.DataLimitExceeded`, no retrier or
//! catcher sees (not even `States.ALL`). So is reaching Step Functions' quota of 25,000
//! history events (counted whether or not the history is recorded), which ends a loop that
//! never stops. A state's output, a Task's input (after `Parameters`) or its result over the
//! 256 KiB payload quota (compact JSON text, UTF-8, `flowctl_protocol::sfn::MAX_PAYLOAD_BYTES`)
//! fails with `States.DataLimitExceeded`; an execution input over it is refused
//! ([`refused_input`]).
//!
//! The history costs little: events share the values of the run (`Arc`) rather than copying
//! them, and `HistoryEvent::details` builds their JSON when asked.

mod choice;
mod history;
pub mod intrinsics;
pub mod invoke;
pub mod jsonata;
mod load;
mod model;
mod path;
mod run;
mod template;
mod time;
pub mod trace;
pub mod units;
mod vars;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_jsonata;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_load;
#[cfg(test)]
mod tests_mock;
#[cfg(test)]
mod tests_variables;

pub use history::{EventKind, HistoryEvent};
pub use invoke::{BoxFuture, InProcess, Invoker, TaskError};
pub use units::Units;

use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A problem in a state machine document, located by state and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AslError {
    /// The state's path from the document root, e.g. `States.Foo` or
    /// `States.Foo.Iterator.States.Bar`; `None` for the top level.
    pub state: Option<String>,
    /// The field inside that state (`Next`, `Retry[0].ErrorEquals`, …); empty for the state
    /// itself.
    pub field: String,
    pub message: String,
}

impl AslError {
    pub(crate) fn new(
        state: Option<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> AslError {
        AslError {
            state,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for AslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.state, self.field.is_empty()) {
            (Some(state), false) => write!(
                f,
                "state `{state}`, field `{}`: {}",
                self.field, self.message
            ),
            (Some(state), true) => write!(f, "state `{state}`: {}", self.message),
            (None, false) => write!(f, "field `{}`: {}", self.field, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for AslError {}

/// A loaded, validated state machine, ready to run any number of times (also concurrently).
#[derive(Debug)]
pub struct StateMachine {
    pub(crate) root: model::Machine,
    pub(crate) timeout: Option<Duration>,
    pub(crate) name: String,
    /// Whether anything reads `$$` (then the execution input is kept for `$$.Execution.Input`).
    pub(crate) uses_context: bool,
}

impl StateMachine {
    /// The name used in the context object (`$$.StateMachine.Name`) and in ARNs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets that name (the default is `StateMachine`).
    pub fn with_name(mut self, name: impl Into<String>) -> StateMachine {
        self.name = name.into();
        self
    }
}

/// Validates `doc` and compiles it; every problem found is reported. Never panics.
pub fn load(doc: &Value) -> Result<StateMachine, Vec<AslError>> {
    load::load(doc, &LoadOptions::default())
}

/// What `load_with` accepts beyond what `load` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Load a Task whose `Resource` the engine cannot call (another service integration such
    /// as `arn:aws:states:::sqs:sendMessage`, `.sync`, `.waitForTaskToken`, an activity ARN)
    /// instead of rejecting it; its `Parameters` are evaluated as a plain template (the
    /// request). Such a Task runs only when the invoker mocks its state
    /// ([`Invoker::mocked`]); otherwise it fails with `States.Runtime`. For tests with mocked
    /// service integrations (Step Functions Local's `MockConfigFile`).
    pub any_task_resource: bool,
}

/// `load`, with options: see [`LoadOptions`]. `load(doc)` is `load_with(doc,
/// &LoadOptions::default())`.
pub fn load_with(doc: &Value, options: &LoadOptions) -> Result<StateMachine, Vec<AslError>> {
    load::load(doc, options)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionOptions {
    /// The execution's name (`$$.Execution.Name`, part of `$$.Execution.Id`); empty: a UUID,
    /// made only if something reads it.
    pub name: String,
    /// Record the history (default true). Off, recording costs nothing but counting events
    /// against the history quota.
    pub history: bool,
    /// Informational: the caller runs the engine on a paused tokio clock
    /// (`tokio::time::pause`, `#[tokio::test(start_paused = true)]`), so waits, retry delays
    /// and timeouts take no real time. The engine behaves the same either way (it always uses
    /// `tokio::time`); the flag is recorded in the `ExecutionStarted` event's details.
    pub virtual_time: bool,
}

impl Default for ExecutionOptions {
    fn default() -> ExecutionOptions {
        ExecutionOptions {
            name: String::new(),
            history: true,
            virtual_time: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
}

impl Status {
    /// Step Functions' name for it, as `DescribeExecution` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
        }
    }
}

/// The outcome of one execution.
#[derive(Debug, Clone)]
pub struct Execution {
    pub status: Status,
    /// The final output (only when `Succeeded`); shared with the history's last events, which
    /// hold the same value.
    pub output: Option<Arc<Value>>,
    /// Why it failed or timed out (`States.Timeout` for a machine timeout).
    pub error: Option<TaskError>,
    /// The state where the failure arose (the innermost one, inside a branch or iteration).
    pub failed_state: Option<String>,
    pub history: Vec<HistoryEvent>,
    /// States entered, at every level (a state entered twice counts twice).
    pub transitions: u64,
}

impl Execution {
    /// Names of the states entered, in the order of their `…StateEntered` events (top level
    /// and nested). Empty when the history was not recorded.
    pub fn entered_states(&self) -> Vec<String> {
        self.history
            .iter()
            .filter(|e| e.kind.is_state_entered())
            .filter_map(|e| e.state.as_deref().map(String::from))
            .collect()
    }
}

/// Why Step Functions' `StartExecution` would refuse `input`, if it would: its JSON text is
/// over the 256 KiB payload quota (AWS answers a validation error and starts nothing). Callers
/// ask before [`execute`], which, given such an input anyway, runs nothing and fails with
/// `States.DataLimitExceeded` and an empty history.
pub fn refused_input(input: &Value) -> Option<String> {
    use flowctl_protocol::sfn::{over_payload_quota, MAX_PAYLOAD_BYTES};
    over_payload_quota(input).then(|| {
        format!("The execution input is larger than Step Functions accepts: its JSON text is over {MAX_PAYLOAD_BYTES} bytes (256 KiB), the payload quota of an execution, a state or a task.")
    })
}

/// Runs `machine` on `input`, calling functions through `invoker`.
pub async fn execute(
    machine: &StateMachine,
    input: Value,
    invoker: &dyn Invoker,
    options: &ExecutionOptions,
) -> Execution {
    run::execute(machine, run::Data::Owned(input), invoker, options).await
}

/// [`execute`] with an input the caller holds too (say, one input for many executions):
/// nothing is copied — the run and the history share it, and a state that changes it
/// changes a copy.
///
/// ```
/// use flowctl_engine::{execute_shared, load, ExecutionOptions, InProcess};
/// use serde_json::json;
/// use std::sync::Arc;
///
/// let machine = load(&json!({"StartAt": "Add", "States": {
///     "Add": {"Type": "Pass", "Result": 1, "ResultPath": "$.added", "End": true}
/// }})).unwrap();
/// let input = Arc::new(json!({"order": 7}));
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// for _ in 0..3 {
///     let execution = runtime.block_on(execute_shared(
///         &machine,
///         input.clone(),
///         &InProcess::new(),
///         &ExecutionOptions::default(),
///     ));
///     assert_eq!(execution.output.as_deref(), Some(&json!({"order": 7, "added": 1})));
/// }
/// assert_eq!(*input, json!({"order": 7}));
/// ```
pub async fn execute_shared(
    machine: &StateMachine,
    input: Arc<Value>,
    invoker: &dyn Invoker,
    options: &ExecutionOptions,
) -> Execution {
    run::execute(machine, run::Data::Shared(input), invoker, options).await
}
