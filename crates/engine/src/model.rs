//! The compiled form of a state machine that `load` produces and `run` executes: states by
//! index, transitions as indices, paths and templates parsed, retriers and catchers ready.

use super::choice::Rule;
use super::path::{Path, ResultPath};
use super::template::{Intrinsic, Template};
use flowctl_protocol::sfn::errors;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A validated, compiled state machine (the top level or a Parallel branch / Map body).
#[derive(Debug)]
pub(crate) struct Machine {
    pub states: Vec<State>,
    pub start: usize,
}

#[derive(Debug)]
pub(crate) struct State {
    pub name: std::sync::Arc<str>,
    pub kind: Kind,
    /// `InputPath` (`Root` when absent or `$`).
    pub input_path: IoPath,
    pub output_path: IoPath,
    /// `None` ends the machine.
    pub next: Option<usize>,
    /// Whether anything in this state reads `$$` (the context object is only built then).
    pub uses_context: bool,
    /// Whether its output must be measured against the payload quota
    /// ([`State::measures_output`]).
    pub measure_output: bool,
    /// `QueryLanguage: JSONata` (its own or the machine's).
    pub jsonata: bool,
    /// The top-level `Assign` (a Choice's is given only when no rule matches).
    pub assign: Option<Assign>,
    /// A JSONata state's `Output` (a Choice's is used only when no rule matches).
    pub output: Option<Template>,
}

/// An `Assign` field: a template whose top-level fields name the variables it sets.
#[derive(Debug)]
pub(crate) struct Assign(pub Template);

impl State {
    /// Whether this state's output can be larger than what was already measured: its input
    /// (every value that reaches a state fits), or its task's result (measured when it
    /// arrives). Not when it only selects from one of them with definite paths (Choice, Wait,
    /// Succeed, a Pass without `Result` or `Parameters` that replaces or discards, a Task whose
    /// output is part of its result): an output inside a value that fits fits too, so the
    /// interpreter spares the measurement on every such transition.
    pub(crate) fn measures_output(kind: &Kind, input_path: &IoPath, output_path: &IoPath) -> bool {
        let selects_within = |p: &IoPath| match p {
            IoPath::Root | IoPath::Empty => true,
            IoPath::Path(p) => p.selects_part_of_input(),
        };
        let kind_grows = match kind {
            Kind::Pass(pass) => {
                pass.result.is_some()
                    || pass.parameters.is_some()
                    || !matches!(pass.result_path, ResultPath::Replace | ResultPath::Discard)
            }
            Kind::Choice(_) | Kind::Wait(_) | Kind::Succeed | Kind::Fail(_) => false,
            // The measured result of a `lambda:invoke` is the payload; only an `OutputPath`
            // into it (`payload_only`) keeps the output inside it.
            Kind::Task(task) => {
                let result_within = match (&task.resource, &task.payload_only) {
                    (Resource::LambdaInvoke(_), Some(PayloadOnly::Output(p))) => {
                        p.selects_part_of_input()
                    }
                    (Resource::LambdaInvoke(_), _) => false,
                    (Resource::LambdaArn | Resource::Service(_), _) => true,
                };
                !(result_within
                    && task.common.result_selector.is_none()
                    && task.common.result_path == ResultPath::Replace)
            }
            Kind::Parallel(_) | Kind::Map(_) => true,
        };
        kind_grows || !selects_within(input_path) || !selects_within(output_path)
    }
}

#[derive(Debug)]
pub(crate) enum IoPath {
    /// `$`: the value as is.
    Root,
    /// `null`: an empty object.
    Empty,
    Path(Path),
}

#[derive(Debug)]
pub(crate) enum Kind {
    Pass(Pass),
    Task(Box<Task>),
    Choice(Box<Choice>),
    Wait(Wait),
    Succeed,
    Fail(Box<Fail>),
    Parallel(Box<Parallel>),
    Map(Box<MapState>),
}

impl Kind {
    /// Step Functions' name of the type (`Task`, `Map`, …), as event names use it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Pass(_) => "Pass",
            Kind::Task(_) => "Task",
            Kind::Choice(_) => "Choice",
            Kind::Wait(_) => "Wait",
            Kind::Succeed => "Succeed",
            Kind::Fail(_) => "Fail",
            Kind::Parallel(_) => "Parallel",
            Kind::Map(_) => "Map",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Pass {
    pub parameters: Option<Template>,
    /// Shared with every execution (and its history) until one changes it.
    pub result: Option<Arc<Value>>,
    pub result_path: ResultPath,
}

/// The parts of Task, Parallel and Map that shape data and handle errors the same way.
#[derive(Debug)]
pub(crate) struct Common {
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug)]
pub(crate) enum Resource {
    /// `arn:aws:states:::lambda:invoke`: `FunctionName` and `Payload` from the parameters,
    /// the result wrapped as the Lambda `Invoke` API answers.
    LambdaInvoke(InvokeParameters),
    /// A Lambda function ARN: the effective input is the payload, the result is its answer.
    LambdaArn,
    /// Anything else (another service integration, `.sync`, `.waitForTaskToken`, an
    /// activity), loaded only with `LoadOptions::any_task_resource`: the engine cannot call
    /// it, only ask the invoker to mock it (`Invoker::mocked`); `Common::parameters` is the
    /// request, a plain template.
    Service(Arc<Service>),
}

/// A service integration's names in the history (`resourceType`, `resource`), split from its
/// ARN as Step Functions does: `arn:aws:states:::sqs:sendMessage` → `sqs`, `sendMessage`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Service {
    pub resource_type: Box<str>,
    pub resource: Box<str>,
}

impl Service {
    pub fn of(resource: &str) -> Service {
        let split = |(kind, name): (&str, &str)| Service {
            resource_type: kind.into(),
            resource: name.into(),
        };
        // arn:<partition>:<service>:<region>:<account>:<rest>
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        match parts.as_slice() {
            // arn:aws:states:::sqs:sendMessage, arn:aws:states:::states:startExecution.sync:2
            ["arn", _, "states", "", "", rest] => split(rest.split_once(':').unwrap_or((rest, ""))),
            // arn:aws:states:us-east-1:123456789012:activity:Name
            ["arn", _, "states", _, _, rest] if rest.starts_with("activity:") => {
                split(("activity", resource))
            }
            ["arn", _, service, _, _, rest] => split((service, rest)),
            _ => split(("", resource)),
        }
    }
}

/// The `Parameters` of a `lambda:invoke`, field by field in document order (in which their
/// errors arise): a call takes `FunctionName` and `Payload` from them without building the
/// object, and a fixed `FunctionName` is not copied.
#[derive(Debug)]
pub(crate) struct InvokeParameters {
    pub fields: Vec<(InvokeField, Template)>,
    /// At most one field reads the input, so it may take the input instead of copying it.
    pub single_reader: bool,
}

impl InvokeParameters {
    /// Whether the payload is a definite path into the input (`"Payload.$": "$"`), and so
    /// fits when the input does: the quota is not measured again.
    pub(crate) fn payload_within_input(&self) -> bool {
        self.fields.iter().any(|(field, template)| {
            matches!(field, InvokeField::Payload)
                && matches!(template, Template::Path { path, .. } if path.selects_part_of_input())
        })
    }
}

#[derive(Debug)]
pub(crate) enum InvokeField {
    /// A string in the document (its template is not evaluated), or `None`: computed.
    FunctionName(Option<Arc<str>>),
    Payload,
    /// Other parameters (`Qualifier`, …), by name: evaluated for their errors, passed on only
    /// to `Invoker::mocked`.
    Other(Box<str>),
}

#[derive(Debug)]
pub(crate) struct Task {
    pub resource: Resource,
    pub resource_text: Arc<str>,
    pub common: Common,
    pub timeout: Option<Seconds>,
    /// Set for a `lambda:invoke` whose result is only read at `$.Payload…`: the Invoke
    /// response need not be built (unless the history shows it).
    pub payload_only: Option<PayloadOnly>,
    /// Nothing needs the state's input once the task has its effective input (no retrier, and
    /// `ResultPath` and every catcher's `ResultPath` are `$`), so it may be taken, not copied.
    pub consumes_input: bool,
}

/// How a `payload_only` task reads its result.
#[derive(Debug)]
pub(crate) enum PayloadOnly {
    /// `ResultSelector` reads only `$.Payload…`: this is it, reading the payload itself.
    Selector(Template),
    /// No `ResultSelector`, `ResultPath` `$` and `OutputPath` `$.Payload…`: this is that
    /// `OutputPath`, reading the payload itself (the state's own `OutputPath` is then `$`).
    Output(Path),
}

/// A number of seconds, fixed, read from the input, or (JSONata) computed.
#[derive(Debug)]
pub(crate) enum Seconds {
    Fixed(u64),
    Path(Path),
    Expr(Template),
}

#[derive(Debug)]
pub(crate) struct Choice {
    pub branches: Vec<Branch>,
    pub default: Option<usize>,
}

/// A Choice rule: when it holds, where it goes, and what it assigns and outputs.
#[derive(Debug)]
pub(crate) struct Branch {
    pub rule: Rule,
    pub next: usize,
    pub assign: Option<Assign>,
    /// JSONata: the state's output when this rule is chosen.
    pub output: Option<Template>,
}

#[derive(Debug)]
pub(crate) enum Wait {
    Seconds(u64),
    SecondsPath(Path),
    /// Nanoseconds since the epoch.
    Timestamp(i128),
    TimestampPath(Path),
    /// JSONata `Seconds`: an expression that must give a non-negative integer.
    SecondsExpr(Template),
    /// JSONata `Timestamp`: an expression that must give a timestamp.
    TimestampExpr(Template),
}

#[derive(Debug)]
pub(crate) enum Text {
    Fixed(String),
    Path(Path),
    Intrinsic(Box<Intrinsic>),
    /// JSONata `Error`/`Cause`: an expression that must give a string.
    Expr(Template),
}

#[derive(Debug)]
pub(crate) struct Fail {
    pub error: Option<Text>,
    pub cause: Option<Text>,
}

#[derive(Debug)]
pub(crate) struct Parallel {
    pub branches: Vec<Machine>,
    pub common: Common,
}

#[derive(Debug)]
pub(crate) enum Count {
    Fixed(u64),
    Path(Path),
    Expr(Template),
}

#[derive(Debug)]
pub(crate) enum Percentage {
    Fixed(f64),
    Path(Path),
    Expr(Template),
}

#[derive(Debug)]
pub(crate) struct MapState {
    pub processor: Machine,
    /// `None`: `$`.
    pub items_path: Option<Path>,
    /// JSONata `Items`: an array, or an expression that gives one (`None`: the input).
    pub items: Option<Template>,
    pub item_selector: Option<Template>,
    pub max_concurrency: Count,
    pub tolerated_count: Option<Count>,
    pub tolerated_percentage: Option<Percentage>,
    /// `ProcessorConfig.Mode: DISTRIBUTED`: each item is a child execution, whose states are
    /// not in this execution's history (a Map Run's events stand for them).
    pub distributed: bool,
    pub common: Common,
}

#[derive(Debug)]
pub(crate) struct Errors {
    pub names: Vec<Box<str>>,
    /// `States.ALL`.
    pub all: bool,
    /// `States.TaskFailed`: every error except `States.Timeout`.
    pub task_failed: bool,
}

impl Errors {
    pub fn matches(&self, error: &str) -> bool {
        if is_terminal(error) {
            return false;
        }
        self.all
            || (self.task_failed && error != errors::TIMEOUT)
            || self.names.iter().any(|n| &**n == error)
    }
}

/// Errors no retrier or catcher sees (Step Functions: not even `States.ALL`).
pub(crate) use flowctl_protocol::sfn::errors::is_terminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    None,
    Full,
}

#[derive(Debug)]
pub(crate) struct Retrier {
    pub errors: Errors,
    pub interval: Duration,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay: Option<Duration>,
    pub jitter: Jitter,
}

impl Retrier {
    /// The delay before retry number `retry` (0 for the first retry), before jitter.
    pub fn delay(&self, retry: u64) -> Duration {
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let seconds = self.interval.as_secs_f64() * self.backoff_rate.powi(exponent);
        let cap = self.max_delay.unwrap_or(MAX_DELAY).min(MAX_DELAY);
        Duration::try_from_secs_f64(seconds).unwrap_or(cap).min(cap)
    }
}

/// No delay is longer than this (the largest interval ASL allows).
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(flowctl_protocol::sfn::MAX_SECONDS);

#[derive(Debug)]
pub(crate) struct Catcher {
    pub errors: Errors,
    pub result_path: ResultPath,
    pub next: usize,
    /// Given instead of the state's own `Assign` when this catcher takes the error.
    pub assign: Option<Assign>,
    /// JSONata: the state's output (default: the error output).
    pub output: Option<Template>,
}
