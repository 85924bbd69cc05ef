//! The interpreter: runs a compiled machine state by state, with Step Functions' data flow
//! (`InputPath` → `Parameters` → work → `ResultSelector` → `ResultPath` → `OutputPath`), error
//! handling (`Retry`, `Catch`), concurrency (`Parallel`, `Map`) and the history.
//!
//! Cost model: a state is a match arm over pre-compiled parts; the state value is moved from
//! state to state and only copied where the semantics need the original afterwards (a
//! `ResultPath` that merges, a retry). The context object and timestamps are only made when
//! something reads them or the history is on. Only Parallel branches, Map iterations and a
//! machine run are boxed futures (they recurse).

use super::history::{EventKind, Recorder};
use super::model::*;
use super::template::{kind, preview, runtime, Scope};
use super::time::{format_timestamp, system_time_of};
use super::{BoxFuture, Execution, ExecutionOptions, Invoker, StateMachine, Status, TaskError};
use futures_util::stream::StreamExt;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// A JSON object from `key => value` pairs, the values moved in (`json!` would serialize a
/// copy of each `Value`, which history and context building cannot afford).
macro_rules! object {
    ($($key:literal => $value:expr),* $(,)?) => {{
        let mut map = Map::new();
        $(map.insert(String::from($key), Value::from($value));)*
        Value::Object(map)
    }};
}

/// The account and region the local engine's ARNs name (AWS documentation's example account).
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/flowctl-local";

/// Transitions between two cooperative yields of a machine run.
const YIELD_EVERY: u32 = 128;

/// A failed state: the error, and the state where it arose.
struct Failure {
    error: TaskError,
    state: Box<str>,
}

/// One line of work (the execution, a branch, an iteration): the last event it recorded, so
/// the next one can point back to it.
struct Frame {
    last: u64,
    /// Records nothing: the states of a Distributed Map's child executions.
    quiet: bool,
}

type Flow = Result<Value, Failure>;

struct Run<'a> {
    machine: &'a StateMachine,
    invoker: &'a dyn Invoker,
    options: &'a ExecutionOptions,
    recorder: Recorder,
    start_system: SystemTime,
    start_instant: Instant,
    /// The execution input, kept only if `$$` is read somewhere.
    input: Option<Value>,
    generated_name: OnceLock<String>,
    transitions: AtomicU64,
}

pub(crate) async fn execute(
    machine: &StateMachine,
    input: Value,
    invoker: &dyn Invoker,
    options: &ExecutionOptions,
) -> Execution {
    let run = Run {
        machine,
        invoker,
        options,
        recorder: Recorder::new(options.history),
        start_system: SystemTime::now(),
        start_instant: Instant::now(),
        input: machine.uses_context.then(|| input.clone()),
        generated_name: OnceLock::new(),
        transitions: AtomicU64::new(0),
    };
    let mut frame = Frame {
        last: 0,
        quiet: false,
    };
    run.event(&mut frame, EventKind::ExecutionStarted, None, || {
        object! {"input" => input.clone(), "roleArn" => ROLE_ARN, "name" => run.name(), "virtualTime" => options.virtual_time}
    });
    let outcome = {
        let machine_run = run.run_machine(&machine.root, input, &mut frame);
        match machine.timeout {
            Some(limit) => tokio::time::timeout(limit, machine_run).await.ok(),
            None => Some(machine_run.await),
        }
    };
    let (status, output, error, failed_state) = match outcome {
        Some(Ok(output)) => {
            run.event(
                &mut frame,
                EventKind::ExecutionSucceeded,
                None,
                || object! {"output" => output.clone()},
            );
            (Status::Succeeded, Some(output), None, None)
        }
        Some(Err(failure)) => {
            let e = &failure.error;
            run.event(
                &mut frame,
                EventKind::ExecutionFailed,
                None,
                || json!({"error": e.error, "cause": e.cause}),
            );
            (
                Status::Failed,
                None,
                Some(failure.error),
                Some(failure.state.into()),
            )
        }
        None => {
            let seconds = machine.timeout.map_or(0, |d| d.as_secs());
            let error = TaskError::new("States.Timeout", format!("The execution timed out after {seconds} seconds (the state machine's TimeoutSeconds)"));
            run.event(
                &mut frame,
                EventKind::ExecutionTimedOut,
                None,
                || json!({"error": error.error, "cause": error.cause}),
            );
            (Status::TimedOut, None, Some(error), None)
        }
    };
    let transitions = run.transitions.load(Relaxed);
    Execution {
        status,
        output,
        error,
        failed_state,
        history: run.recorder.into_events(),
        transitions,
    }
}

/// A random version-4 UUID in its text form (request ids, generated execution names).
fn request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = fastrand::u128(..).to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    text
}

/// What the Lambda `Invoke` API answers, as the optimised integration passes it on.
fn invoke_response(payload: Value) -> Value {
    let id = request_id();
    object! {
        "ExecutedVersion" => "$LATEST",
        "Payload" => payload,
        "SdkHttpMetadata" => object! {
            "HttpHeaders" => object! {"Content-Type" => "application/json", "X-Amz-Executed-Version" => "$LATEST", "x-amzn-RequestId" => id.as_str()},
            "HttpStatusCode" => 200
        },
        "SdkResponseMetadata" => object! {"RequestId" => id},
        "StatusCode" => 200
    }
}

impl<'a> Run<'a> {
    fn now(&self) -> SystemTime {
        self.start_system + self.start_instant.elapsed()
    }

    fn name(&self) -> &str {
        if self.options.name.is_empty() {
            self.generated_name.get_or_init(request_id)
        } else {
            &self.options.name
        }
    }

    fn event(
        &self,
        frame: &mut Frame,
        kind: EventKind,
        state: Option<&str>,
        details: impl FnOnce() -> Value,
    ) {
        if self.recorder.enabled() && !frame.quiet {
            frame.last = self
                .recorder
                .record(frame.last, || self.now(), kind, state, details);
        }
    }

    fn failure(&self, state: &State, error: TaskError) -> Failure {
        Failure {
            error,
            state: state.name.clone(),
        }
    }

    /// The context object (`$$`) as seen from `state`.
    fn context(
        &self,
        state: &State,
        entered: SystemTime,
        retry_count: u64,
        item: Option<(usize, &Value)>,
    ) -> Value {
        let machine = &self.machine.name;
        let name = self.name();
        let mut ctx = object! {
            "Execution" => object! {
                "Id" => format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"),
                "Input" => self.input.clone().unwrap_or(Value::Null),
                "Name" => name,
                "RoleArn" => ROLE_ARN,
                "StartTime" => format_timestamp(self.start_system),
                "RedriveCount" => 0
            },
            "State" => object! {"EnteredTime" => format_timestamp(entered), "Name" => &*state.name, "RetryCount" => retry_count},
            "StateMachine" => object! {"Id" => format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine}"), "Name" => machine.as_str()}
        };
        if let (Some((index, value)), Some(obj)) = (item, ctx.as_object_mut()) {
            obj.insert(
                "Map".into(),
                object! {"Item" => object! {"Index" => index, "Value" => value.clone()}},
            );
        }
        ctx
    }

    fn missing(&self, state: &State, field: &str, path: &str, input: &Value) -> Failure {
        self.failure(state, runtime(format!("The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'", preview(input))))
    }

    /// `InputPath` applied without giving up the raw input (Task, Parallel, Map need it for
    /// `ResultPath`).
    fn input_path<'v>(
        &self,
        state: &State,
        raw: &'v Value,
        ctx: &(dyn Fn() -> Value + Sync),
    ) -> Result<Cow<'v, Value>, Failure> {
        match &state.input_path {
            IoPath::Root => Ok(Cow::Borrowed(raw)),
            IoPath::Empty => Ok(Cow::Owned(Value::Object(Map::new()))),
            IoPath::Path(p) if p.is_context() => {
                let context = ctx();
                let selected = p.select(raw, &context).map(Cow::into_owned);
                selected
                    .map(Cow::Owned)
                    .ok_or_else(|| self.missing(state, "InputPath", p.text(), &context))
            }
            IoPath::Path(p) => p
                .select(raw, &Value::Null)
                .ok_or_else(|| self.missing(state, "InputPath", p.text(), raw)),
        }
    }

    /// `InputPath` or `OutputPath` applied to a value the state owns.
    fn io_owned(
        &self,
        state: &State,
        io: &IoPath,
        field: &str,
        value: Value,
        ctx: &(dyn Fn() -> Value + Sync),
    ) -> Flow {
        match io {
            IoPath::Root => Ok(value),
            IoPath::Empty => Ok(Value::Object(Map::new())),
            IoPath::Path(p) => {
                if p.is_context() {
                    let context = ctx();
                    let selected = p.select(&value, &context).map(Cow::into_owned);
                    return selected.ok_or_else(|| self.missing(state, field, p.text(), &context));
                }
                match p.select(&value, &Value::Null) {
                    Some(_) => Ok(p.select_owned(value, &Value::Null).unwrap_or(Value::Null)),
                    None => Err(self.missing(state, field, p.text(), &value)),
                }
            }
        }
    }

    fn result_path_failure(
        &self,
        state: &State,
        path: &super::path::ResultPath,
        input: &Value,
    ) -> Failure {
        let text = match path {
            super::path::ResultPath::At(_) => "the state's ResultPath",
            _ => "$",
        };
        self.failure(
            state,
            TaskError::new("States.ResultPathMatchFailure", format!("Unable to apply {text} to the input '{}': it runs through a value that is not an object, or an array index that does not exist", preview(input))),
        )
    }

    fn run_machine<'s>(
        &'s self,
        machine: &'s Machine,
        input: Value,
        frame: &'s mut Frame,
    ) -> BoxFuture<'s, Flow> {
        Box::pin(async move {
            let mut at = machine.start;
            let mut value = input;
            let mut steps_since_yield = 0u32;
            loop {
                let Some(state) = machine.states.get(at) else {
                    return Err(Failure {
                        error: runtime(format!("no state at index {at}")),
                        state: "".into(),
                    });
                };
                self.transitions.fetch_add(1, Relaxed);
                // A loop of states that never waits would otherwise hold the thread forever
                // and no timeout could fire.
                steps_since_yield += 1;
                if steps_since_yield == YIELD_EVERY {
                    steps_since_yield = 0;
                    tokio::task::yield_now().await;
                }
                let entered = if state.uses_context || self.recorder.enabled() {
                    self.now()
                } else {
                    UNIX_EPOCH
                };
                let type_name = state.kind.type_name();
                self.event(
                    frame,
                    EventKind::entered(type_name),
                    Some(&state.name),
                    || object! {"name" => &*state.name, "input" => value.clone()},
                );
                let (output, next) = match &state.kind {
                    Kind::Pass(pass) => (self.pass(state, pass, value, entered)?, state.next),
                    Kind::Succeed => {
                        let ctx = || self.context(state, entered, 0, None);
                        let effective =
                            self.io_owned(state, &state.input_path, "InputPath", value, &ctx)?;
                        (
                            self.io_owned(
                                state,
                                &state.output_path,
                                "OutputPath",
                                effective,
                                &ctx,
                            )?,
                            None,
                        )
                    }
                    Kind::Choice(choice) => self.choice(state, choice, value, entered)?,
                    Kind::Wait(wait) => (self.wait(state, wait, value, entered).await?, state.next),
                    Kind::Fail(fail) => return Err(self.fail(state, fail, &value, entered)),
                    Kind::Task(task) => {
                        self.guarded(state, &task.common, value, frame, entered)
                            .await?
                    }
                    Kind::Parallel(parallel) => {
                        self.guarded(state, &parallel.common, value, frame, entered)
                            .await?
                    }
                    Kind::Map(map) => {
                        self.guarded(state, &map.common, value, frame, entered)
                            .await?
                    }
                };
                self.event(
                    frame,
                    EventKind::exited(type_name),
                    Some(&state.name),
                    || object! {"name" => &*state.name, "output" => output.clone()},
                );
                match next {
                    Some(n) => {
                        at = n;
                        value = output;
                    }
                    None => return Ok(output),
                }
            }
        })
    }

    fn pass(&self, state: &State, pass: &Pass, raw: Value, entered: SystemTime) -> Flow {
        let ctx = || self.context(state, entered, 0, None);
        let result = match (&pass.result, &pass.parameters) {
            (Some(result), _) => result.clone(),
            (None, Some(template)) => {
                let effective = self.input_path(state, &raw, &ctx)?;
                template
                    .eval(&Scope::new(&effective, &ctx))
                    .map_err(|e| self.failure(state, e))?
            }
            (None, None) if pass.result_path == super::path::ResultPath::Replace => {
                // The common case: the (selected) input goes through unchanged, moved.
                let effective = self.io_owned(state, &state.input_path, "InputPath", raw, &ctx)?;
                return self.io_owned(state, &state.output_path, "OutputPath", effective, &ctx);
            }
            (None, None) => self.input_path(state, &raw, &ctx)?.into_owned(),
        };
        let output = pass
            .result_path
            .apply(raw, result)
            .map_err(|input| self.result_path_failure(state, &pass.result_path, &input))?;
        self.io_owned(state, &state.output_path, "OutputPath", output, &ctx)
    }

    fn choice(
        &self,
        state: &State,
        choice: &Choice,
        raw: Value,
        entered: SystemTime,
    ) -> Result<(Value, Option<usize>), Failure> {
        let ctx = || self.context(state, entered, 0, None);
        let effective = self.io_owned(state, &state.input_path, "InputPath", raw, &ctx)?;
        let mut chosen = None;
        {
            let scope = Scope::new(&effective, &ctx);
            for (rule, next) in &choice.branches {
                if rule.matches(&scope).map_err(|e| self.failure(state, e))? {
                    chosen = Some(*next);
                    break;
                }
            }
        }
        let Some(next) = chosen.or(choice.default) else {
            return Err(self.failure(
                state,
                TaskError::new(
                    "States.NoChoiceMatched",
                    format!(
                        "No choice rule of the state '{}' matched, and it has no Default",
                        state.name
                    ),
                ),
            ));
        };
        Ok((
            self.io_owned(state, &state.output_path, "OutputPath", effective, &ctx)?,
            Some(next),
        ))
    }

    /// How long until the timestamp `at` (nanoseconds since the epoch) on the engine's clock.
    fn until(&self, at: i128) -> Duration {
        system_time_of(at)
            .duration_since(self.now())
            .unwrap_or(Duration::ZERO)
    }

    async fn wait(&self, state: &State, wait: &Wait, raw: Value, entered: SystemTime) -> Flow {
        let ctx = || self.context(state, entered, 0, None);
        let effective = self.io_owned(state, &state.input_path, "InputPath", raw, &ctx)?;
        let delay = {
            let scope = Scope::new(&effective, &ctx);
            let read = |p: &super::path::Path| {
                scope
                    .select(p)
                    .map(Cow::into_owned)
                    .ok_or_else(|| self.missing(state, wait_field(wait), p.text(), &effective))
            };
            match wait {
                Wait::Seconds(s) => Duration::from_secs(*s),
                Wait::SecondsPath(p) => {
                    let v = read(p)?;
                    match v.as_u64() {
                        Some(s) => Duration::from_secs(s.min(MAX_DELAY.as_secs())),
                        None => {
                            return Err(self.failure(
                                state,
                                runtime(format!(
                                "The SecondsPath '{}' must select a non-negative integer, not {v}",
                                p.text()
                            )),
                            ))
                        }
                    }
                }
                Wait::Timestamp(t) => self.until(*t),
                Wait::TimestampPath(p) => {
                    let v = read(p)?;
                    match v.as_str().and_then(super::time::parse_timestamp) {
                        Some(t) => self.until(t),
                        None => {
                            return Err(self.failure(
                                state,
                                runtime(format!(
                                "The TimestampPath '{}' must select an RFC 3339 timestamp, not {v}",
                                p.text()
                            )),
                            ))
                        }
                    }
                }
            }
        };
        tokio::time::sleep(delay).await;
        self.io_owned(state, &state.output_path, "OutputPath", effective, &ctx)
    }

    fn fail(&self, state: &State, fail: &Fail, raw: &Value, entered: SystemTime) -> Failure {
        let ctx = || self.context(state, entered, 0, None);
        let scope = Scope::new(raw, &ctx);
        let text = |t: &Option<Text>, field: &str| -> Result<String, TaskError> {
            let value = match t {
                None => return Ok(String::new()),
                Some(Text::Fixed(s)) => return Ok(s.clone()),
                Some(Text::Path(p)) => scope
                    .select(p)
                    .map(Cow::into_owned)
                    .ok_or_else(|| runtime(format!("The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'", p.text(), preview(raw))))?,
                Some(Text::Intrinsic(call)) => call.eval(&scope)?,
            };
            match value {
                Value::String(s) => Ok(s),
                other => Err(runtime(format!(
                    "The field '{field}' must resolve to a string, not {}",
                    kind(&other)
                ))),
            }
        };
        let error = match (
            text(&fail.error, "ErrorPath"),
            text(&fail.cause, "CausePath"),
        ) {
            (Ok(error), Ok(cause)) => TaskError::new(error, cause),
            (Err(e), _) | (_, Err(e)) => e,
        };
        self.failure(state, error)
    }

    /// Runs a Task, Parallel or Map state with its retriers and catchers; the output and the
    /// next state (the catcher's when one caught the error).
    async fn guarded(
        &self,
        state: &State,
        common: &Common,
        raw: Value,
        frame: &mut Frame,
        entered: SystemTime,
    ) -> Result<(Value, Option<usize>), Failure> {
        let mut raw = raw;
        let mut attempts_per_retrier: Vec<u64> = Vec::new();
        let mut retry_count = 0u64;
        loop {
            let failure = match self.attempt(state, &raw, frame, entered, retry_count).await {
                Ok(result) => match common.result_path.apply(raw, result) {
                    Ok(output) => {
                        let ctx = || self.context(state, entered, retry_count, None);
                        return Ok((
                            self.io_owned(state, &state.output_path, "OutputPath", output, &ctx)?,
                            state.next,
                        ));
                    }
                    Err(input) => {
                        let f = self.result_path_failure(state, &common.result_path, &input);
                        raw = input;
                        f
                    }
                },
                Err(f) => f,
            };
            let error = failure.error.error.as_str();
            if is_terminal(error) {
                return Err(failure);
            }
            if let Some(i) = common.retry.iter().position(|r| r.errors.matches(error)) {
                attempts_per_retrier.resize(common.retry.len(), 0);
                let retrier = &common.retry[i];
                if attempts_per_retrier[i] < retrier.max_attempts {
                    let mut delay = retrier.delay(attempts_per_retrier[i]);
                    if retrier.jitter == Jitter::Full {
                        delay = delay.mul_f64(fastrand::f64());
                    }
                    attempts_per_retrier[i] += 1;
                    retry_count += 1;
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            if let Some(catcher) = common.catch.iter().find(|c| c.errors.matches(error)) {
                let error_output = object! {"Error" => failure.error.error.as_str(), "Cause" => failure.error.cause.as_str()};
                return match catcher.result_path.apply(raw, error_output) {
                    Ok(output) => Ok((output, Some(catcher.next))),
                    Err(input) => {
                        Err(self.result_path_failure(state, &catcher.result_path, &input))
                    }
                };
            }
            return Err(failure);
        }
    }

    /// One attempt of a Task, Parallel or Map state: its result after `ResultSelector`.
    async fn attempt(
        &self,
        state: &State,
        raw: &Value,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
    ) -> Flow {
        match &state.kind {
            Kind::Task(task) => {
                self.task(state, task, raw, frame, entered, retry_count)
                    .await
            }
            Kind::Parallel(parallel) => {
                self.parallel(state, parallel, raw, frame, entered, retry_count)
                    .await
            }
            Kind::Map(map) => self.map(state, map, raw, frame, entered, retry_count).await,
            _ => Err(self.failure(
                state,
                runtime("only Task, Parallel and Map states have retriers"),
            )),
        }
    }

    fn select_result(
        &self,
        state: &State,
        selector: &Option<super::template::Template>,
        result: Value,
        ctx: &(dyn Fn() -> Value + Sync),
    ) -> Flow {
        match selector {
            Some(t) => t
                .eval(&Scope::new(&result, ctx))
                .map_err(|e| self.failure(state, e)),
            None => Ok(result),
        }
    }

    /// The effective input of a Task or Parallel: `InputPath`, then `Parameters`.
    fn effective_input(
        &self,
        state: &State,
        parameters: &Option<super::template::Template>,
        raw: &Value,
        ctx: &(dyn Fn() -> Value + Sync),
    ) -> Flow {
        let effective = self.input_path(state, raw, ctx)?;
        match parameters {
            Some(t) => t
                .eval(&Scope::new(&effective, ctx))
                .map_err(|e| self.failure(state, e)),
            None => Ok(effective.into_owned()),
        }
    }

    async fn task(
        &self,
        state: &State,
        task: &Task,
        raw: &Value,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
    ) -> Flow {
        let ctx = || self.context(state, entered, retry_count, None);
        let timeout = match &task.timeout {
            None => None,
            Some(Seconds::Fixed(s)) => Some(Duration::from_secs(*s)),
            Some(Seconds::Path(p)) => {
                let effective = self.input_path(state, raw, &ctx)?;
                let v = Scope::new(&effective, &ctx).select(p).map(Cow::into_owned);
                match v.as_ref().and_then(Value::as_u64) {
                    Some(s) if s > 0 => Some(Duration::from_secs(s.min(MAX_DELAY.as_secs()))),
                    _ => {
                        return Err(self.failure(
                            state,
                            runtime(format!(
                                "The TimeoutSecondsPath '{}' must select a positive integer",
                                p.text()
                            )),
                        ))
                    }
                }
            }
        };
        let payload = self.effective_input(state, &task.common.parameters, raw, &ctx)?;
        let (function, payload, lambda_arn) = match &task.resource {
            Resource::LambdaInvoke => {
                let Value::Object(mut params) = payload else {
                    return Err(self.failure(
                        state,
                        runtime("the Parameters of a lambda:invoke task must be an object"),
                    ));
                };
                let payload = params
                    .remove("Payload")
                    .unwrap_or_else(|| Value::Object(Map::new()));
                match params.remove("FunctionName") {
                    Some(Value::String(f)) => (Cow::Owned(f), payload, false),
                    other => {
                        return Err(self.failure(
                            state,
                            runtime(format!(
                                "FunctionName must be a string, not {}",
                                other.as_ref().map_or("missing", kind)
                            )),
                        ));
                    }
                }
            }
            Resource::LambdaArn(arn) => (Cow::Borrowed(&**arn), payload, true),
        };
        let name = Some(&*state.name);
        let timeout_seconds = timeout.map(|d| d.as_secs());
        if lambda_arn {
            self.event(frame, EventKind::LambdaFunctionScheduled, name, || object! {"resource" => &*task.resource_text, "input" => payload.clone(), "timeoutInSeconds" => timeout_seconds});
            self.event(frame, EventKind::LambdaFunctionStarted, name, || json!({}));
        } else {
            self.event(frame, EventKind::TaskScheduled, name, || {
                object! {"resourceType" => "lambda", "resource" => "invoke", "region" => REGION, "parameters" => object! {"FunctionName" => &*function, "Payload" => payload.clone()}, "timeoutInSeconds" => timeout_seconds}
            });
            self.event(
                frame,
                EventKind::TaskStarted,
                name,
                || json!({"resourceType": "lambda", "resource": "invoke"}),
            );
        }
        let call = self.invoker.invoke(&function, payload);
        let outcome = match timeout {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(result) => result.map_err(|e| (e, false)),
                Err(_) => Err((
                    TaskError::new(
                        "States.Timeout",
                        format!("The task did not finish within {} seconds", limit.as_secs()),
                    ),
                    true,
                )),
            },
            None => call.await.map_err(|e| (e, false)),
        };
        match outcome {
            Ok(result) => {
                let result = if lambda_arn {
                    result
                } else if task.payload_only && !self.recorder.enabled() {
                    object! {"Payload" => result}
                } else {
                    invoke_response(result)
                };
                if lambda_arn {
                    self.event(
                        frame,
                        EventKind::LambdaFunctionSucceeded,
                        name,
                        || object! {"output" => result.clone()},
                    );
                } else {
                    self.event(frame, EventKind::TaskSucceeded, name, || object! {"resourceType" => "lambda", "resource" => "invoke", "output" => result.clone()});
                }
                self.select_result(state, &task.common.result_selector, result, &ctx)
            }
            Err((error, timed_out)) => {
                let kind = match (lambda_arn, timed_out) {
                    (true, true) => EventKind::LambdaFunctionTimedOut,
                    (true, false) => EventKind::LambdaFunctionFailed,
                    (false, true) => EventKind::TaskTimedOut,
                    (false, false) => EventKind::TaskFailed,
                };
                self.event(frame, kind, name, || {
                    if lambda_arn {
                        json!({"error": error.error, "cause": error.cause})
                    } else {
                        json!({"resourceType": "lambda", "resource": "invoke", "error": error.error, "cause": error.cause})
                    }
                });
                Err(self.failure(state, error))
            }
        }
    }

    async fn parallel(
        &self,
        state: &State,
        parallel: &Parallel,
        raw: &Value,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
    ) -> Flow {
        let ctx = || self.context(state, entered, retry_count, None);
        let input = self.effective_input(state, &parallel.common.parameters, raw, &ctx)?;
        let name = Some(&*state.name);
        self.event(frame, EventKind::ParallelStateStarted, name, || json!({}));
        let (started, quiet) = (frame.last, frame.quiet);
        let input = &input;
        let branches = parallel.branches.iter().map(|branch| async move {
            let mut branch_frame = Frame {
                last: started,
                quiet,
            };
            self.run_machine(branch, input.clone(), &mut branch_frame)
                .await
        });
        match futures_util::future::try_join_all(branches).await {
            Ok(outputs) => {
                self.event(frame, EventKind::ParallelStateSucceeded, name, || json!({}));
                self.select_result(
                    state,
                    &parallel.common.result_selector,
                    Value::Array(outputs),
                    &ctx,
                )
            }
            Err(failure) => {
                let e = &failure.error;
                self.event(
                    frame,
                    EventKind::ParallelStateFailed,
                    name,
                    || json!({"error": e.error, "cause": e.cause}),
                );
                Err(failure)
            }
        }
    }

    async fn map(
        &self,
        state: &State,
        map: &MapState,
        raw: &Value,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
    ) -> Flow {
        let ctx = || self.context(state, entered, retry_count, None);
        let effective = self.input_path(state, raw, &ctx)?;
        let effective: &Value = &effective;
        let read_number = |p: &super::path::Path, field: &str| -> Result<Value, Failure> {
            Scope::new(effective, &ctx)
                .select(p)
                .map(Cow::into_owned)
                .ok_or_else(|| self.missing(state, field, p.text(), effective))
        };
        let items = match &map.items_path {
            None => Cow::Borrowed(effective),
            Some(p) => {
                let scope = Scope::new(effective, &ctx);
                let selected = scope.select(p).map(|v| Cow::Owned(v.into_owned()));
                selected.ok_or_else(|| self.missing(state, "ItemsPath", p.text(), effective))?
            }
        };
        let Value::Array(items) = &*items else {
            return Err(self.failure(
                state,
                runtime(format!(
                    "The Map state's items must be an array, not {} ('{}')",
                    kind(&items),
                    preview(&items)
                )),
            ));
        };
        let max_concurrency = match &map.max_concurrency {
            Count::Fixed(n) => *n,
            Count::Path(p) => read_number(p, "MaxConcurrencyPath")?
                .as_u64()
                .ok_or_else(|| {
                    self.failure(
                        state,
                        runtime("MaxConcurrencyPath must select a non-negative integer"),
                    )
                })?,
        };
        let tolerated_count = match &map.tolerated_count {
            None => None,
            Some(Count::Fixed(n)) => Some(*n),
            Some(Count::Path(p)) => Some(
                read_number(p, "ToleratedFailureCountPath")?
                    .as_u64()
                    .ok_or_else(|| {
                        self.failure(
                            state,
                            runtime("ToleratedFailureCountPath must select a non-negative integer"),
                        )
                    })?,
            ),
        };
        let tolerated_percentage = match &map.tolerated_percentage {
            None => None,
            Some(Percentage::Fixed(p)) => Some(*p),
            Some(Percentage::Path(p)) => Some(
                read_number(p, "ToleratedFailurePercentagePath")?
                    .as_f64()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| {
                        self.failure(
                            state,
                            runtime(
                                "ToleratedFailurePercentagePath must select a number from 0 to 100",
                            ),
                        )
                    })?,
            ),
        };
        // A Distributed Map tolerates no failed item unless told otherwise, and fails with
        // States.ExceedToleratedFailureThreshold; an inline Map fails with the item's error.
        let tolerated_count = match (tolerated_count, tolerated_percentage) {
            (None, None) if map.distributed => Some(0),
            (count, _) => count,
        };
        let tolerant = tolerated_count.is_some() || tolerated_percentage.is_some();
        let total = items.len();
        let name = Some(&*state.name);
        let (started_kind, succeeded_kind, failed_kind) = if map.distributed {
            (
                EventKind::MapRunStarted,
                EventKind::MapRunSucceeded,
                EventKind::MapRunFailed,
            )
        } else {
            (
                EventKind::MapStateStarted,
                EventKind::MapStateSucceeded,
                EventKind::MapStateFailed,
            )
        };
        self.event(frame, started_kind, name, || json!({"length": total}));
        let started = frame.last;
        let quiet = frame.quiet || map.distributed;
        let limit = match usize::try_from(max_concurrency) {
            Ok(0) | Err(_) => total.max(1),
            Ok(n) => n.min(total.max(1)),
        };
        let mut pending = items.iter().enumerate();
        let mut running = futures_util::stream::FuturesUnordered::new();
        for (index, item) in pending.by_ref().take(limit) {
            running.push(self.iteration(
                state,
                map,
                effective,
                entered,
                retry_count,
                (started, quiet),
                index,
                item,
            ));
        }
        let mut results = vec![Value::Null; total];
        let mut failures = 0u64;
        while let Some((index, outcome)) = running.next().await {
            if let Some((next_index, item)) = pending.next() {
                running.push(self.iteration(
                    state,
                    map,
                    effective,
                    entered,
                    retry_count,
                    (started, quiet),
                    next_index,
                    item,
                ));
            }
            let failure = match outcome {
                Ok(output) => {
                    if let Some(slot) = results.get_mut(index) {
                        *slot = output;
                    }
                    continue;
                }
                Err(f) => f,
            };
            let failure = if !tolerant || is_terminal(&failure.error.error) {
                if map.distributed {
                    // The child execution failed; for this execution, the Map state did.
                    self.failure(state, failure.error)
                } else {
                    failure
                }
            } else {
                failures += 1;
                if let Some(slot) = results.get_mut(index) {
                    *slot = object! {"Error" => failure.error.error.as_str(), "Cause" => failure.error.cause.as_str()};
                }
                let over_count = tolerated_count.is_some_and(|n| failures > n);
                let over_percentage = tolerated_percentage
                    .is_some_and(|p| failures as f64 * 100.0 > p * total as f64);
                if !(over_count || over_percentage) {
                    continue;
                }
                self.failure(
                    state,
                    TaskError::new("States.ExceedToleratedFailureThreshold", format!("{failures} of {total} iterations failed, more than the Map state tolerates; the last failure: {}: {}", failure.error.error, failure.error.cause)),
                )
            };
            let e = &failure.error;
            self.event(
                frame,
                failed_kind,
                name,
                || json!({"error": e.error, "cause": e.cause}),
            );
            return Err(failure);
        }
        self.event(frame, succeeded_kind, name, || json!({}));
        self.select_result(
            state,
            &map.common.result_selector,
            Value::Array(results),
            &ctx,
        )
    }

    /// One Map iteration: its input (the item, or `ItemSelector` with `$$.Map.Item`), then
    /// the item processor.
    #[allow(clippy::too_many_arguments)]
    async fn iteration(
        &self,
        state: &State,
        map: &MapState,
        effective: &Value,
        entered: SystemTime,
        retry_count: u64,
        (started, quiet): (u64, bool),
        index: usize,
        item: &Value,
    ) -> (usize, Flow) {
        let input = match &map.item_selector {
            Some(selector) => {
                let item_ctx = || self.context(state, entered, retry_count, Some((index, item)));
                selector
                    .eval(&Scope::new(effective, &item_ctx))
                    .map_err(|e| self.failure(state, e))
            }
            None => Ok(item.clone()),
        };
        let name = Some(&*state.name);
        let mut iteration = Frame {
            last: started,
            quiet,
        };
        self.event(
            &mut iteration,
            EventKind::MapIterationStarted,
            name,
            || json!({"name": &*state.name, "index": index}),
        );
        let outcome = match input {
            Ok(input) => {
                self.run_machine(&map.processor, input, &mut iteration)
                    .await
            }
            Err(f) => Err(f),
        };
        match &outcome {
            Ok(_) => self.event(&mut iteration, EventKind::MapIterationSucceeded, name, || json!({"name": &*state.name, "index": index})),
            Err(f) => self.event(&mut iteration, EventKind::MapIterationFailed, name, || json!({"name": &*state.name, "index": index, "error": f.error.error, "cause": f.error.cause})),
        }
        (index, outcome)
    }
}

fn wait_field(wait: &Wait) -> &'static str {
    match wait {
        Wait::TimestampPath(_) => "TimestampPath",
        _ => "SecondsPath",
    }
}
