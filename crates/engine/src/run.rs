//! The interpreter: runs a compiled machine state by state, with Step Functions' data flow
//! (`InputPath` → `Parameters` → work → `ResultSelector` → `ResultPath` → `OutputPath`), error
//! handling (`Retry`, `Catch`), concurrency (`Parallel`, `Map`) and the history.
//!
//! Cost model: a state is a match arm over pre-compiled parts; the state value is moved from
//! state to state and only copied where the semantics need the original afterwards (a
//! `ResultPath` that merges, a retry, a change to a value the history holds). The history
//! shares values with the run (`Data::Shared`) instead of copying them, and functions are
//! called with, and answer, shared values too (`Arc<Value>`): a Task whose payload is its input
//! passes that very value. The context object and timestamps are only made when something
//! reads them or the history is on (then one clock read per event). Only Parallel branches,
//! Map iterations and a machine run are boxed futures (they recurse); a Task's work before
//! and after its call is in plain functions, so that the futures that await a call stay small.

use super::history::{invoke_response, uuid_text, Details, EventKind, Recorder};
use super::history::{ACCOUNT, REGION, ROLE_ARN};
use super::model::*;
use super::template::{kind, preview, runtime, Scope, Template};
use super::time::{format_timestamp, system_time_of, Clock};
use super::vars::{Variable, Vars, MAX_ASSIGNED_BYTES};
use super::{
    BoxFuture, Execution, ExecutionOptions, HistoryEvent, Invoker, StateMachine, Status, TaskError,
};
use flowctl_protocol::sfn::{errors, over_payload_quota, payload_bytes_up_to, MAX_PAYLOAD_BYTES};
use futures_util::stream::StreamExt;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// A JSON object from `key => value` pairs, the values moved in (`json!` would serialize a
/// copy of each `Value`, which context building cannot afford).
macro_rules! object {
    ($($key:literal => $value:expr),* $(,)?) => {{
        let mut map = Map::new();
        $(map.insert(String::from($key), Value::from($value));)*
        Value::Object(map)
    }};
}

/// Transitions between two cooperative yields of a machine run.
const YIELD_EVERY: u32 = 128;

/// Room made for the history at the start: most executions fit (it grows past it).
const EXPECTED_EVENTS_MAX: usize = 128;

/// Step Functions' hard quota of events in an execution's history. Event 24,999 is the last
/// the machine produces: the next one, unless it is `ExecutionSucceeded`, becomes
/// `ExecutionFailed` with `States.Runtime` (AWS's "Avoid reaching the history quota"; the error
/// name and cause as AWS reports them). Counted with the history off too, so that the outcome
/// does not depend on it; a Distributed Map's children are executions of their own.
const HISTORY_LIMIT: u64 = flowctl_protocol::sfn::MAX_HISTORY_EVENTS;

/// A failed state: the error, and the state where it arose.
struct Failure {
    error: TaskError,
    state: Arc<str>,
}

/// One line of work (the execution, a branch, an iteration): the last event it recorded, so
/// the next one can point back to it.
struct Frame {
    last: u64,
    /// The execution's own line of work records here (no lock); branches and iterations,
    /// `None`, record into the recorder's shared vector.
    events: Option<Vec<HistoryEvent>>,
    /// In a Distributed Map's child execution (which records nothing here): its own count of
    /// events against the history limit.
    child: Option<Arc<AtomicU64>>,
}

/// A state's input or output as it flows through the run: owned while only the run holds it;
/// shared once the history has recorded it (or several branches start from it), after which
/// a change copies it first, so that the history keeps the version it saw.
#[derive(Debug)]
pub(crate) enum Data {
    Owned(Value),
    Shared(Arc<Value>),
}

impl Data {
    fn get(&self) -> &Value {
        match self {
            Data::Owned(v) => v,
            Data::Shared(v) => v,
        }
    }

    /// The value itself: moved out, or copied if something else still holds it.
    fn into_value(self) -> Value {
        match self {
            Data::Owned(v) => v,
            Data::Shared(v) => Arc::unwrap_or_clone(v),
        }
    }

    /// A handle on the value for the history (the value moves behind an `Arc`, uncopied).
    fn share(&mut self) -> Arc<Value> {
        let shared = match std::mem::replace(self, Data::Owned(Value::Null)) {
            Data::Owned(v) => Arc::new(v),
            Data::Shared(v) => v,
        };
        *self = Data::Shared(shared.clone());
        shared
    }

    /// The `Arc` it is behind, if it is shared already.
    fn arc(&self) -> Option<Arc<Value>> {
        match self {
            Data::Owned(_) => None,
            Data::Shared(v) => Some(v.clone()),
        }
    }

    /// The value behind an `Arc` (moved there if owned), to hand to a function.
    fn into_arc(self) -> Arc<Value> {
        match self {
            Data::Owned(v) => Arc::new(v),
            Data::Shared(v) => v,
        }
    }

    /// Owned again if nothing else holds it (say, a function's answer with the history off),
    /// so that what follows may take from it rather than copy. Always inlined: it is on every
    /// `lambda:invoke`'s path, and a call to it costs more than its work.
    #[inline(always)]
    fn unshared(self) -> Data {
        match self {
            Data::Shared(v) => match Arc::try_unwrap(v) {
                Ok(v) => Data::Owned(v),
                Err(v) => Data::Shared(v),
            },
            owned => owned,
        }
    }
}

/// A Task's input: the state's value when the state needs it afterwards (a retry, a
/// `ResultPath` that merges), or taken when nothing does.
enum TaskInput<'r> {
    Whole(&'r Data),
    /// A part of it (selected by `InputPath`).
    Part(&'r Value),
    Taken(Data),
}

impl TaskInput<'_> {
    fn get(&self) -> &Value {
        match self {
            TaskInput::Whole(d) => d.get(),
            TaskInput::Part(v) => v,
            TaskInput::Taken(d) => d.get(),
        }
    }
}

/// A Task's function call, prepared.
struct Call {
    function: Arc<str>,
    payload: Arc<Value>,
    timeout: Option<Duration>,
    /// The Task's effective parameters as `Invoker::mocked` is asked with them; `None` when
    /// the invoker mocks nothing (`Invoker::mocks_states`), so that nothing is built for it
    /// (a service's Task has them always: it can only be mocked).
    parameters: Option<Arc<Value>>,
}

/// What a `lambda:invoke` calls, from its `Parameters`.
struct Invocation {
    function: Arc<str>,
    /// Shared with the history's `TaskScheduled` event; when it is the effective input itself
    /// and that is shared already, not even built.
    payload: Arc<Value>,
}

/// A Task's answer: its result and whether a mock gave it (`Invoker::mocked`), or its error
/// and whether it timed out.
type Answer = Result<(Arc<Value>, bool), (TaskError, bool)>;

type Flow = Result<Value, Failure>;
type DataFlow = Result<Data, Failure>;

struct Run<'a> {
    machine: &'a StateMachine,
    invoker: &'a dyn Invoker,
    /// `invoker.mocks_states()`, asked once: whether to ask `mocked` before each call.
    mocks: bool,
    options: &'a ExecutionOptions,
    recorder: Recorder,
    start_system: SystemTime,
    clock: Clock,
    /// The execution input, kept only if `$$` is read somewhere.
    input: Option<Arc<Value>>,
    generated_name: OnceLock<String>,
    transitions: AtomicU64,
    /// Events counted against `HISTORY_LIMIT` (recorded or not).
    events: AtomicU64,
    /// The address of the last Task payload the history holds (see `held_payload`).
    held_payload: AtomicUsize,
}

/// About how many events an execution of `machine` records (its top-level states once).
fn expected_events(machine: &Machine) -> usize {
    let per_state = |s: &State| match s.kind {
        Kind::Task(_) => 5,
        _ => 2,
    };
    let events: usize = machine.states.iter().map(per_state).sum();
    (events + 2).min(EXPECTED_EVENTS_MAX)
}

pub(crate) async fn execute(
    machine: &StateMachine,
    mut input: Data,
    invoker: &dyn Invoker,
    options: &ExecutionOptions,
) -> Execution {
    if let Some(refusal) = super::refused_input(input.get()) {
        // A caller that skipped `refused_input`: nothing runs, as nothing starts on AWS.
        return Execution {
            status: Status::Failed,
            output: None,
            error: Some(TaskError::new(errors::DATA_LIMIT_EXCEEDED, refusal)),
            failed_state: None,
            history: Vec::new(),
            transitions: 0,
        };
    }
    let expected = if options.history {
        expected_events(&machine.root)
    } else {
        0
    };
    let run = Run {
        machine,
        invoker,
        mocks: invoker.mocks_states(),
        options,
        recorder: Recorder::new(options.history),
        start_system: SystemTime::now(),
        clock: Clock::new(Instant::now()),
        input: machine.uses_context.then(|| input.share()),
        generated_name: OnceLock::new(),
        transitions: AtomicU64::new(0),
        events: AtomicU64::new(0),
        held_payload: AtomicUsize::new(0),
    };
    let mut frame = Frame {
        last: 0,
        events: options.history.then(|| Vec::with_capacity(expected)),
        child: None,
    };
    // The execution starts when its start time was read: no second read of the clock.
    run.event_at(
        &mut frame,
        run.start_system,
        EventKind::ExecutionStarted,
        None,
        || Details::ExecutionStarted {
            input: input.share(),
            name: run.name().to_owned(),
            virtual_time: options.virtual_time,
        },
    );
    let outcome = {
        let machine_run =
            run.clock
                .each_poll(run.run_machine(&machine.root, input, &mut frame, None));
        match machine.timeout {
            Some(limit) => tokio::time::timeout(limit, machine_run).await.ok(),
            None => Some(machine_run.await),
        }
    };
    let (status, output, error, failed_state) = match outcome {
        Some(Ok(mut output)) => {
            run.last_event(&mut frame, EventKind::ExecutionSucceeded, || {
                Details::Output(output.share())
            });
            (Status::Succeeded, Some(output.into_arc()), None, None)
        }
        Some(Err(failure)) => {
            let e = &failure.error;
            run.last_event(&mut frame, EventKind::ExecutionFailed, || {
                Details::json(json!({"error": e.error, "cause": e.cause}))
            });
            (
                Status::Failed,
                None,
                Some(failure.error),
                Some(failure.state.to_string()),
            )
        }
        None => {
            let seconds = machine.timeout.map_or(0, |d| d.as_secs());
            let error = TaskError::new(errors::TIMEOUT, format!("The execution timed out after {seconds} seconds (the state machine's TimeoutSeconds)"));
            run.last_event(&mut frame, EventKind::ExecutionTimedOut, || {
                Details::json(json!({"error": error.error, "cause": error.cause}))
            });
            (Status::TimedOut, None, Some(error), None)
        }
    };
    let transitions = run.transitions.load(Relaxed);
    Execution {
        status,
        output,
        error,
        failed_state,
        history: run
            .recorder
            .into_events(frame.events.take().unwrap_or_default()),
        transitions,
    }
}

/// Adds one to a counter of the run and returns the new count. All futures of an execution
/// are polled by the one task that runs it (branches and iterations are joined, never
/// spawned), so a load and a store count exactly and spare `fetch_add`'s locked instruction
/// (one per state and per event).
fn count_one(counter: &AtomicU64) -> u64 {
    let count = counter.load(Relaxed) + 1;
    counter.store(count, Relaxed);
    count
}

/// A random version-4 UUID in its text form (request ids, generated execution names).
fn request_id() -> String {
    uuid_text(fastrand::u128(..))
}

/// A `lambda:invoke`'s `Parameters` object as evaluated (what `Invoker::mocked` is shown), in
/// document order, from what the call took from it and `others`, the rest.
fn parameters_object(
    parameters: &InvokeParameters,
    function: &Arc<str>,
    payload: &Arc<Value>,
    mut others: Map<String, Value>,
) -> Value {
    let mut object = Map::with_capacity(parameters.fields.len());
    for (field, _) in &parameters.fields {
        match field {
            InvokeField::FunctionName(_) => {
                object.insert("FunctionName".into(), Value::from(&**function));
            }
            InvokeField::Payload => {
                object.insert("Payload".into(), Value::clone(payload));
            }
            InvokeField::Other(key) => {
                if let Some(v) = others.remove(&**key) {
                    object.insert(key.to_string(), v);
                }
            }
        }
    }
    Value::Object(object)
}

/// A task timeout's error.
#[cold]
fn timed_out(limit: Duration) -> TaskError {
    TaskError::new(
        errors::TIMEOUT,
        format!("The task did not finish within {} seconds", limit.as_secs()),
    )
}

/// Why a Task the engine cannot call (loaded with `LoadOptions::any_task_resource`) failed:
/// no mock answered for its state.
#[cold]
fn unmocked(state: &State, task: &Task) -> TaskError {
    runtime(format!(
        "the local engine cannot call `{}` (state `{}`); mock it (a MockConfigFile test case)",
        task.resource_text, state.name
    ))
}

/// `{"Error": …, "Cause": …}`, what a catcher passes on.
fn error_output(error: &TaskError) -> Value {
    object! {"Error" => error.error.as_str(), "Cause" => error.cause.as_str()}
}

impl<'a> Run<'a> {
    fn now(&self) -> SystemTime {
        self.clock.now(self.start_system)
    }

    /// `payload` for a `…Scheduled` event, its address noted: a function that answers the
    /// very value it was called with (an echo) answers what fit the payload quota already.
    fn held_payload(&self, payload: &Arc<Value>) -> Arc<Value> {
        self.held_payload
            .store(Arc::as_ptr(payload) as usize, Relaxed);
        payload.clone()
    }

    /// Whether `result` is a payload the history holds (so it fits the quota): the history
    /// keeps every payload noted by `held_payload` until the execution ends, so no other value
    /// can be at that address meanwhile.
    fn is_held_payload(&self, result: &Arc<Value>) -> bool {
        Arc::as_ptr(result) as usize == self.held_payload.load(Relaxed)
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
        state: Option<&Arc<str>>,
        details: impl FnOnce() -> Details,
    ) {
        if self.within_limit(frame) && frame.child.is_none() && self.recorder.enabled() {
            frame.last = self.recorder.record(
                frame.events.as_mut(),
                frame.last,
                self.now(),
                kind,
                state,
                details,
            );
        }
    }

    /// An event whose time is known already.
    fn event_at(
        &self,
        frame: &mut Frame,
        at: SystemTime,
        kind: EventKind,
        state: Option<&Arc<str>>,
        details: impl FnOnce() -> Details,
    ) {
        if self.within_limit(frame) && frame.child.is_none() && self.recorder.enabled() {
            frame.last =
                self.recorder
                    .record(frame.events.as_mut(), frame.last, at, kind, state, details);
        }
    }

    /// The execution's last event, which the history limit leaves room for.
    fn last_event(&self, frame: &mut Frame, kind: EventKind, details: impl FnOnce() -> Details) {
        if self.recorder.enabled() {
            frame.last = self.recorder.record(
                frame.events.as_mut(),
                frame.last,
                self.now(),
                kind,
                None,
                details,
            );
        }
    }

    /// The count of events of the execution `frame` is part of.
    fn events<'f>(&'f self, frame: &'f Frame) -> &'f AtomicU64 {
        frame.child.as_deref().unwrap_or(&self.events)
    }

    /// Counts an event against the history limit: whether it fits (if not, it is dropped and
    /// `within_history_limit` fails the state).
    fn within_limit(&self, frame: &Frame) -> bool {
        count_one(self.events(frame)) < HISTORY_LIMIT
    }

    /// Fails `state` once an event did not fit in the history.
    #[inline]
    fn within_history_limit(&self, state: &State, frame: &Frame) -> Result<(), Failure> {
        if self.events(frame).load(Relaxed) < HISTORY_LIMIT {
            return Ok(());
        }
        Err(self.history_limit_reached(state))
    }

    #[cold]
    fn history_limit_reached(&self, state: &State) -> Failure {
        self.failure(
            state,
            runtime(format!(
                "The execution reached the maximum number of history events ({HISTORY_LIMIT})."
            )),
        )
    }

    /// `States.DataLimitExceeded`: what `state` `did` (returned an output or a task result,
    /// built an input) is over Step Functions' payload quota. Terminal, as on AWS: no `Retry`
    /// or `Catch` sees it.
    #[cold]
    fn data_limit_exceeded(&self, state: &State, did: &str) -> Failure {
        let name = &state.name;
        self.failure(
            state,
            TaskError::new(
                errors::DATA_LIMIT_EXCEEDED,
                format!("The state/task '{name}' {did} with a size exceeding the maximum number of bytes service limit ({MAX_PAYLOAD_BYTES} bytes)."),
            ),
        )
    }

    /// Evaluates an `Assign` in `scope` and stages its values: they take effect when the
    /// state is done. Each value, and all of them together, must fit in
    /// `MAX_ASSIGNED_BYTES` (`States.DataLimitExceeded` otherwise).
    fn assign(&self, state: &State, assign: &Assign, scope: &Scope) -> Result<(), Failure> {
        let Value::Object(fields) = assign.0.eval(scope).map_err(|e| self.failure(state, e))?
        else {
            return Err(self.failure(state, runtime("Assign must give an object")));
        };
        let mut total = 0;
        let mut staged = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            let bytes = payload_bytes_up_to(&value, MAX_ASSIGNED_BYTES);
            total += bytes;
            if bytes > MAX_ASSIGNED_BYTES {
                return Err(self.data_limit_exceeded(
                    state,
                    &format!("assigned the variable '{name}' a value"),
                ));
            }
            if total > MAX_ASSIGNED_BYTES {
                return Err(
                    self.data_limit_exceeded(state, "assigned variables whose values together are")
                );
            }
            staged.push(Variable {
                name: name.into(),
                value: Arc::new(value),
                bytes,
            });
        }
        scope.vars.stage(staged);
        Ok(())
    }

    /// A JSONPath state's `Assign`, if it has one, with `$` the value AWS documents for its
    /// type (a Task's result, a Choice's effective input…).
    fn assign_jsonpath(
        &self,
        state: &State,
        dollar: &Value,
        ctx: &(dyn Fn() -> Value + Sync),
        vars: &Vars<'_>,
    ) -> Result<(), Failure> {
        match &state.assign {
            Some(assign) if !state.jsonata => {
                self.assign(state, assign, &Scope::new(dollar, ctx, vars))
            }
            _ => Ok(()),
        }
    }

    /// The end of a state or of one of its branches (a Choice rule, a catcher): its `Assign`,
    /// staged, and (JSONata) its `Output`, evaluated, if it has one (the caller's default
    /// otherwise). Both read the variables as they were when the state was entered.
    fn finish(
        &self,
        state: &State,
        assign: Option<&Assign>,
        output: Option<&Template>,
        scope: &Scope,
    ) -> Result<Option<Value>, Failure> {
        if let Some(assign) = assign {
            self.assign(state, assign, scope)?;
        }
        output
            .map(|t| t.eval(scope).map_err(|e| self.failure(state, e)))
            .transpose()
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
                "Input" => self.input.as_deref().cloned().unwrap_or(Value::Null),
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
        vars: &Vars<'_>,
    ) -> Result<Cow<'v, Value>, Failure> {
        match &state.input_path {
            IoPath::Root => Ok(Cow::Borrowed(raw)),
            IoPath::Empty => Ok(Cow::Owned(Value::Object(Map::new()))),
            IoPath::Path(p) if !p.reads_input() => {
                let scope = Scope::new(raw, ctx, vars);
                let selected = scope.select(p).map(Cow::into_owned);
                selected
                    .map(Cow::Owned)
                    .ok_or_else(|| self.missing(state, "InputPath", p.text(), scope.root_of(p)))
            }
            IoPath::Path(p) => p
                .select(raw, &Value::Null)
                .ok_or_else(|| self.missing(state, "InputPath", p.text(), raw)),
        }
    }

    /// `InputPath` or `OutputPath` applied to a value the state is done with: an owned value
    /// gives up the selected part, a shared one is copied from (only that part).
    fn io(
        &self,
        state: &State,
        io: &IoPath,
        field: &str,
        value: Data,
        ctx: &(dyn Fn() -> Value + Sync),
        vars: &Vars<'_>,
    ) -> DataFlow {
        match io {
            IoPath::Root => Ok(value),
            IoPath::Empty => Ok(Data::Owned(Value::Object(Map::new()))),
            IoPath::Path(p) if !p.reads_input() => {
                let scope = Scope::new(value.get(), ctx, vars);
                let selected = scope.select(p).map(Cow::into_owned);
                selected
                    .map(Data::Owned)
                    .ok_or_else(|| self.missing(state, field, p.text(), scope.root_of(p)))
            }
            IoPath::Path(p) => self.select_data(state, p, field, value),
        }
    }

    /// An input path (not `$$…` or a variable) applied to a value the state is done with.
    fn select_data(
        &self,
        state: &State,
        path: &super::path::Path,
        field: &str,
        value: Data,
    ) -> DataFlow {
        match value {
            shared @ Data::Shared(_) if path.is_root() => Ok(shared),
            Data::Owned(v) => match path.select(&v, &Value::Null) {
                Some(_) => Ok(Data::Owned(
                    path.select_owned(v, &Value::Null).unwrap_or(Value::Null),
                )),
                None => Err(self.missing(state, field, path.text(), &v)),
            },
            Data::Shared(v) => match path.select(&v, &Value::Null) {
                Some(selected) => Ok(Data::Owned(selected.into_owned())),
                None => Err(self.missing(state, field, path.text(), &v)),
            },
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
            TaskError::new(errors::RESULT_PATH_MATCH_FAILURE, format!("Unable to apply {text} to the input '{}': it runs through a value that is not an object, or an array index that does not exist", preview(input))),
        )
    }

    /// `ResultPath`: the result written into (or replacing, or dropped for) the input. When
    /// it cannot be written, the input, unchanged (see `result_path_failure`).
    fn apply_result_path(
        path: &super::path::ResultPath,
        raw: Data,
        result: Data,
    ) -> Result<Data, Value> {
        use super::path::ResultPath;
        match path {
            ResultPath::Discard => Ok(raw),
            ResultPath::Replace => Ok(result),
            ResultPath::At(_) => path
                .apply(raw.into_value(), result.into_value())
                .map(Data::Owned),
        }
    }

    /// A template on a value the state is done with (taken from, when owned).
    fn eval_data(
        &self,
        state: &State,
        template: &Template,
        input: Data,
        ctx: &(dyn Fn() -> Value + Sync),
        vars: &Vars<'_>,
    ) -> Flow {
        match input {
            Data::Owned(v) => template.eval_owned(v, ctx, vars),
            Data::Shared(v) => template.eval(&Scope::new(&v, ctx, vars)),
        }
        .map_err(|e| self.failure(state, e))
    }

    /// Runs a machine (the execution's, a branch, an iteration) in its own variable scope,
    /// inside `outer`'s (none: the execution's, or a Distributed Map child's).
    fn run_machine<'s>(
        &'s self,
        machine: &'s Machine,
        input: Data,
        frame: &'s mut Frame,
        outer: Option<&'s Vars<'s>>,
    ) -> BoxFuture<'s, DataFlow> {
        Box::pin(async move {
            let mut vars = match outer {
                Some(outer) => outer.child(),
                None => Vars::default(),
            };
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
                count_one(&self.transitions);
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
                self.event_at(
                    frame,
                    entered,
                    EventKind::entered(type_name),
                    Some(&state.name),
                    || Details::State {
                        key: "input",
                        value: value.share(),
                    },
                );
                self.within_history_limit(state, frame)?;
                let (mut output, next) = {
                    let vars = &vars;
                    match &state.kind {
                        Kind::Pass(pass) => {
                            (self.pass(state, pass, value, entered, vars)?, state.next)
                        }
                        Kind::Succeed if state.jsonata => {
                            let ctx = || self.context(state, entered, 0, None);
                            let scope = Scope::new(value.get(), &ctx, vars);
                            match self.finish(state, None, state.output.as_ref(), &scope)? {
                                Some(output) => (Data::Owned(output), None),
                                None => (value, None),
                            }
                        }
                        Kind::Succeed => {
                            let ctx = || self.context(state, entered, 0, None);
                            let effective =
                                self.io(state, &state.input_path, "InputPath", value, &ctx, vars)?;
                            (
                                self.io(
                                    state,
                                    &state.output_path,
                                    "OutputPath",
                                    effective,
                                    &ctx,
                                    vars,
                                )?,
                                None,
                            )
                        }
                        Kind::Choice(choice) => self.choice(state, choice, value, entered, vars)?,
                        Kind::Wait(wait) => (
                            self.wait(state, wait, value, entered, vars).await?,
                            state.next,
                        ),
                        Kind::Fail(fail) => {
                            return Err(self.fail(state, fail, value.get(), entered, vars))
                        }
                        // Most Tasks, awaiting only the call itself here: through `guarded` and
                        // `task`, their futures (with room for Parallel and Map) would be built and
                        // moved into this one on every call.
                        Kind::Task(task) if task.consumes_input => {
                            let input = TaskInput::Taken(value);
                            let result = match self
                                .task_call(state, task, input, frame, entered, 0, vars)
                            {
                                Ok(call) => {
                                    let answer = match call.parameters {
                                        None => self
                                            .call(&call.function, call.payload, call.timeout)
                                            .await
                                            .map(|result| (result, false)),
                                        Some(_) => self.mock_or_call(state, task, call).await,
                                    };
                                    self.task_answer(state, task, answer, frame, entered, 0, vars)
                                }
                                Err(failure) => Err(failure),
                            };
                            self.consumed_task_outcome(state, task, result, entered, vars)?
                        }
                        Kind::Task(task) => {
                            self.guarded(state, &task.common, value, frame, entered, vars)
                                .await?
                        }
                        Kind::Parallel(parallel) => {
                            self.guarded(state, &parallel.common, value, frame, entered, vars)
                                .await?
                        }
                        Kind::Map(map) => {
                            self.guarded(state, &map.common, value, frame, entered, vars)
                                .await?
                        }
                    }
                };
                if vars.has_staged() {
                    if let Err(bytes) = vars.commit() {
                        return Err(self.data_limit_exceeded(state, &format!("assigned variables that bring those of the execution to {bytes} bytes, over the {} bytes they may hold; the quota exceeded is", super::vars::MAX_STORED_BYTES)));
                    }
                }
                if state.measure_output && over_payload_quota(output.get()) {
                    return Err(self.data_limit_exceeded(state, "returned an output"));
                }
                self.event(
                    frame,
                    EventKind::exited(type_name),
                    Some(&state.name),
                    || Details::State {
                        key: "output",
                        value: output.share(),
                    },
                );
                // Also fails the state when an event during its work did not fit.
                self.within_history_limit(state, frame)?;
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

    fn pass(
        &self,
        state: &State,
        pass: &Pass,
        raw: Data,
        entered: SystemTime,
        vars: &Vars<'_>,
    ) -> DataFlow {
        use super::path::ResultPath;
        let ctx = || self.context(state, entered, 0, None);
        if state.jsonata {
            let scope = Scope::new(raw.get(), &ctx, vars);
            let output =
                self.finish(state, state.assign.as_ref(), state.output.as_ref(), &scope)?;
            return Ok(output.map_or(raw, Data::Owned));
        }
        if state.assign.is_some() {
            // `$` in its `Assign` is the result: computed once, kept for both.
            let effective = self.input_path(state, raw.get(), &ctx, vars)?;
            let result = match (&pass.result, &pass.parameters) {
                (Some(result), _) => Data::Shared(result.clone()),
                (None, Some(template)) => Data::Owned(
                    template
                        .eval(&Scope::new(&effective, &ctx, vars))
                        .map_err(|e| self.failure(state, e))?,
                ),
                (None, None) => Data::Owned(effective.into_owned()),
            };
            self.assign_jsonpath(state, result.get(), &ctx, vars)?;
            let output = Self::apply_result_path(&pass.result_path, raw, result)
                .map_err(|input| self.result_path_failure(state, &pass.result_path, &input))?;
            return self.io(state, &state.output_path, "OutputPath", output, &ctx, vars);
        }
        let result = match (&pass.result, &pass.parameters) {
            (Some(result), _) => Data::Shared(result.clone()),
            (None, Some(template)) if pass.result_path == ResultPath::Replace => {
                // The input is not needed afterwards: the template may take from it.
                let effective = self.io(state, &state.input_path, "InputPath", raw, &ctx, vars)?;
                let result = self.eval_data(state, template, effective, &ctx, vars)?;
                return self.io(
                    state,
                    &state.output_path,
                    "OutputPath",
                    Data::Owned(result),
                    &ctx,
                    vars,
                );
            }
            (None, Some(template)) => {
                let effective = self.input_path(state, raw.get(), &ctx, vars)?;
                Data::Owned(
                    template
                        .eval(&Scope::new(&effective, &ctx, vars))
                        .map_err(|e| self.failure(state, e))?,
                )
            }
            (None, None) if pass.result_path == ResultPath::Replace => {
                // The common case: the (selected) input goes through unchanged, moved.
                let effective = self.io(state, &state.input_path, "InputPath", raw, &ctx, vars)?;
                return self.io(
                    state,
                    &state.output_path,
                    "OutputPath",
                    effective,
                    &ctx,
                    vars,
                );
            }
            (None, None) => {
                Data::Owned(self.input_path(state, raw.get(), &ctx, vars)?.into_owned())
            }
        };
        let output = Self::apply_result_path(&pass.result_path, raw, result)
            .map_err(|input| self.result_path_failure(state, &pass.result_path, &input))?;
        self.io(state, &state.output_path, "OutputPath", output, &ctx, vars)
    }

    fn choice(
        &self,
        state: &State,
        choice: &Choice,
        raw: Data,
        entered: SystemTime,
        vars: &Vars<'_>,
    ) -> Result<(Data, Option<usize>), Failure> {
        let ctx = || self.context(state, entered, 0, None);
        let effective = self.io(state, &state.input_path, "InputPath", raw, &ctx, vars)?;
        let mut chosen = None;
        let mut output = None;
        {
            let scope = Scope::new(effective.get(), &ctx, vars);
            for branch in &choice.branches {
                if branch
                    .rule
                    .matches(&scope)
                    .map_err(|e| self.failure(state, e))?
                {
                    chosen = Some(branch.next);
                    // A chosen rule's `Assign` and `Output` stand for the state's own.
                    output = self.finish(
                        state,
                        branch.assign.as_ref(),
                        branch.output.as_ref(),
                        &scope,
                    )?;
                    break;
                }
            }
            if chosen.is_none() && choice.default.is_some() {
                output =
                    self.finish(state, state.assign.as_ref(), state.output.as_ref(), &scope)?;
            }
        }
        if let Some(output) = output {
            return Ok((Data::Owned(output), chosen.or(choice.default)));
        }
        let Some(next) = chosen.or(choice.default) else {
            return Err(self.failure(
                state,
                TaskError::new(
                    errors::NO_CHOICE_MATCHED,
                    format!(
                        "No choice rule of the state '{}' matched, and it has no Default",
                        state.name
                    ),
                ),
            ));
        };
        Ok((
            self.io(
                state,
                &state.output_path,
                "OutputPath",
                effective,
                &ctx,
                vars,
            )?,
            Some(next),
        ))
    }

    /// How long until the timestamp `at` (nanoseconds since the epoch) on the engine's clock.
    fn until(&self, at: i128) -> Duration {
        system_time_of(at)
            .duration_since(self.now())
            .unwrap_or(Duration::ZERO)
    }

    async fn wait(
        &self,
        state: &State,
        wait: &Wait,
        raw: Data,
        entered: SystemTime,
        vars: &Vars<'_>,
    ) -> DataFlow {
        let ctx = || self.context(state, entered, 0, None);
        let effective = self.io(state, &state.input_path, "InputPath", raw, &ctx, vars)?;
        let delay = {
            let scope = Scope::new(effective.get(), &ctx, vars);
            let field = wait_field(wait);
            // A value read or computed: the value, the error a wrong one is (JSONPath:
            // States.Runtime; JSONata: States.QueryEvaluationError), how the message names it.
            let computed: Option<(Value, ErrorOf, String)> = match wait {
                Wait::Seconds(_) | Wait::Timestamp(_) => None,
                Wait::SecondsPath(p) | Wait::TimestampPath(p) => Some((
                    scope
                        .select(p)
                        .map(Cow::into_owned)
                        .ok_or_else(|| self.missing(state, field, p.text(), effective.get()))?,
                    runtime,
                    format!("The {field} '{}' must select", p.text()),
                )),
                Wait::SecondsExpr(t) | Wait::TimestampExpr(t) => Some((
                    t.eval(&scope).map_err(|e| self.failure(state, e))?,
                    super::jsonata::query_evaluation_error,
                    format!("The field '{field}' must be"),
                )),
            };
            let seconds = matches!(wait, Wait::SecondsPath(_) | Wait::SecondsExpr(_));
            match (wait, computed) {
                (Wait::Seconds(s), _) => Duration::from_secs(*s),
                (Wait::Timestamp(t), _) => self.until(*t),
                (_, Some((v, error, what))) if seconds => match v.as_u64() {
                    Some(s) => Duration::from_secs(s.min(MAX_DELAY.as_secs())),
                    None => {
                        let cause = format!("{what} a non-negative integer, not {}", preview(&v));
                        return Err(self.failure(state, error(cause)));
                    }
                },
                (_, Some((v, error, what))) => {
                    match v.as_str().and_then(super::time::parse_timestamp) {
                        Some(t) => self.until(t),
                        None => {
                            let cause =
                                format!("{what} an RFC 3339 timestamp, not {}", preview(&v));
                            return Err(self.failure(state, error(cause)));
                        }
                    }
                }
                // Every other kind is computed above.
                (_, None) => Duration::ZERO,
            }
        };
        let output = if state.jsonata {
            let scope = Scope::new(effective.get(), &ctx, vars);
            self.finish(state, state.assign.as_ref(), state.output.as_ref(), &scope)?
        } else {
            self.assign_jsonpath(state, effective.get(), &ctx, vars)?;
            None
        };
        tokio::time::sleep(delay).await;
        match output {
            Some(output) => Ok(Data::Owned(output)),
            None => self.io(
                state,
                &state.output_path,
                "OutputPath",
                effective,
                &ctx,
                vars,
            ),
        }
    }

    fn fail(
        &self,
        state: &State,
        fail: &Fail,
        raw: &Value,
        entered: SystemTime,
        vars: &Vars<'_>,
    ) -> Failure {
        let ctx = || self.context(state, entered, 0, None);
        let scope = Scope::new(raw, &ctx, vars);
        let text = |t: &Option<Text>, field: &str| -> Result<String, TaskError> {
            let value = match t {
                None => return Ok(String::new()),
                Some(Text::Fixed(s)) => return Ok(s.clone()),
                Some(Text::Path(p)) => scope
                    .select(p)
                    .map(Cow::into_owned)
                    .ok_or_else(|| runtime(format!("The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'", p.text(), preview(raw))))?,
                Some(Text::Intrinsic(call)) => call.eval(&scope)?,
                Some(Text::Expr(t)) => match t.eval(&scope)? {
                    Value::String(s) => return Ok(s),
                    other => {
                        return Err(super::jsonata::query_evaluation_error(format!(
                            "The field '{}' must be a string, not {}",
                            field.trim_end_matches("Path"),
                            kind(&other)
                        )))
                    }
                },
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
    /// next state (the catcher's when one caught the error). A Task that consumes its input
    /// runs in `run_machine` instead.
    async fn guarded(
        &self,
        state: &State,
        common: &Common,
        raw: Data,
        frame: &mut Frame,
        entered: SystemTime,
        vars: &Vars<'_>,
    ) -> Result<(Data, Option<usize>), Failure> {
        let mut raw = raw;
        let mut attempts_per_retrier: Vec<u64> = Vec::new();
        let mut retry_count = 0u64;
        loop {
            vars.unstage();
            let failure = match self
                .attempt(state, &raw, frame, entered, retry_count, vars)
                .await
            {
                Ok(result) if state.jsonata => {
                    let ctx = || self.context(state, entered, retry_count, None);
                    let mut scope = Scope::new(raw.get(), &ctx, vars);
                    scope.result = Some(result.get());
                    match self.finish(state, state.assign.as_ref(), state.output.as_ref(), &scope) {
                        Ok(output) => return Ok((output.map_or(result, Data::Owned), state.next)),
                        Err(failure) => failure,
                    }
                }
                Ok(result) => match Self::apply_result_path(&common.result_path, raw, result) {
                    Ok(output) => {
                        let ctx = || self.context(state, entered, retry_count, None);
                        return Ok((
                            self.io(state, &state.output_path, "OutputPath", output, &ctx, vars)?,
                            state.next,
                        ));
                    }
                    Err(input) => {
                        let failure = self.result_path_failure(state, &common.result_path, &input);
                        raw = Data::Owned(input);
                        failure
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
                // The catcher's `Assign` stands for the state's own.
                vars.unstage();
                let caught = error_output(&failure.error);
                let ctx = || self.context(state, entered, retry_count, None);
                if state.jsonata {
                    let mut scope = Scope::new(raw.get(), &ctx, vars);
                    scope.error_output = Some(&caught);
                    let output = self.finish(
                        state,
                        catcher.assign.as_ref(),
                        catcher.output.as_ref(),
                        &scope,
                    )?;
                    return Ok((Data::Owned(output.unwrap_or(caught)), Some(catcher.next)));
                }
                if let Some(assign) = &catcher.assign {
                    self.assign(state, assign, &Scope::new(&caught, &ctx, vars))?;
                }
                let caught = Data::Owned(caught);
                return match Self::apply_result_path(&catcher.result_path, raw, caught) {
                    Ok(output) => Ok((output, Some(catcher.next))),
                    Err(input) => {
                        Err(self.result_path_failure(state, &catcher.result_path, &input))
                    }
                };
            }
            return Err(failure);
        }
    }

    /// The output and next state of a Task that nothing retries and whose input nothing needs
    /// afterwards (`ResultPath` and every catcher's `ResultPath` are `$`; its input was taken,
    /// not copied), from its result: `OutputPath`, or a catcher.
    fn consumed_task_outcome(
        &self,
        state: &State,
        task: &Task,
        result: DataFlow,
        entered: SystemTime,
        vars: &Vars<'_>,
    ) -> Result<(Data, Option<usize>), Failure> {
        let failure = match result {
            Ok(output) => {
                let ctx = || self.context(state, entered, 0, None);
                return Ok((
                    self.io(state, &state.output_path, "OutputPath", output, &ctx, vars)?,
                    state.next,
                ));
            }
            Err(f) => f,
        };
        let error = failure.error.error.as_str();
        if !is_terminal(error) {
            if let Some(catcher) = task.common.catch.iter().find(|c| c.errors.matches(error)) {
                vars.unstage();
                let caught = error_output(&failure.error);
                if let Some(assign) = &catcher.assign {
                    let ctx = || self.context(state, entered, 0, None);
                    self.assign(state, assign, &Scope::new(&caught, &ctx, vars))?;
                }
                return Ok((Data::Owned(caught), Some(catcher.next)));
            }
        }
        Err(failure)
    }

    /// One attempt of a Task, Parallel or Map state: its result after `ResultSelector`.
    async fn attempt(
        &self,
        state: &State,
        raw: &Data,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
        vars: &Vars<'_>,
    ) -> DataFlow {
        match &state.kind {
            Kind::Task(task) => {
                self.task(
                    state,
                    task,
                    TaskInput::Whole(raw),
                    frame,
                    entered,
                    retry_count,
                    vars,
                )
                .await
            }
            Kind::Parallel(parallel) => self
                .parallel(
                    state,
                    parallel,
                    raw.get(),
                    frame,
                    entered,
                    retry_count,
                    vars,
                )
                .await
                .map(Data::Owned),
            Kind::Map(map) => self
                .map(state, map, raw.get(), frame, entered, retry_count, vars)
                .await
                .map(Data::Owned),
            _ => Err(self.failure(
                state,
                runtime("only Task, Parallel and Map states have retriers"),
            )),
        }
    }

    fn select_result(
        &self,
        state: &State,
        selector: &Option<Template>,
        result: Value,
        ctx: &(dyn Fn() -> Value + Sync),
        vars: &Vars<'_>,
    ) -> Flow {
        match selector {
            Some(t) => t
                .eval(&Scope::new(&result, ctx, vars))
                .map_err(|e| self.failure(state, e)),
            None => Ok(result),
        }
    }

    /// The effective input of a Parallel: `InputPath`, then `Parameters`.
    fn effective_input(
        &self,
        state: &State,
        parameters: &Option<Template>,
        raw: &Value,
        ctx: &(dyn Fn() -> Value + Sync),
        vars: &Vars<'_>,
    ) -> Flow {
        let effective = self.input_path(state, raw, ctx, vars)?;
        match parameters {
            Some(t) => t
                .eval(&Scope::new(&effective, ctx, vars))
                .map_err(|e| self.failure(state, e)),
            None => Ok(effective.into_owned()),
        }
    }

    /// One attempt of a Task state: the call prepared, made, and its answer taken in. Only the
    /// call is awaited here: the work before and after it is in plain functions, so that this
    /// future (moved into its callers' at each `.await`) stays small.
    #[allow(clippy::too_many_arguments)]
    async fn task(
        &self,
        state: &State,
        task: &Task,
        input: TaskInput<'_>,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
        vars: &Vars<'_>,
    ) -> DataFlow {
        let call = self.task_call(state, task, input, frame, entered, retry_count, vars)?;
        let answer = match call.parameters {
            None => self
                .call(&call.function, call.payload, call.timeout)
                .await
                .map(|result| (result, false)),
            Some(_) => self.mock_or_call(state, task, call).await,
        };
        self.task_answer(state, task, answer, frame, entered, retry_count, vars)
    }

    /// A Task's call from its input (timeout, `InputPath`, `Parameters`), with its
    /// `…Scheduled` and `…Started` events.
    #[allow(clippy::too_many_arguments)]
    fn task_call(
        &self,
        state: &State,
        task: &Task,
        input: TaskInput<'_>,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
        vars: &Vars<'_>,
    ) -> Result<Call, Failure> {
        let ctx = || self.context(state, entered, retry_count, None);
        let timeout = match &task.timeout {
            None => None,
            Some(Seconds::Fixed(s)) => Some(Duration::from_secs(*s)),
            Some(Seconds::Expr(t)) => {
                let v = t
                    .eval(&Scope::new(input.get(), &ctx, vars))
                    .map_err(|e| self.failure(state, e))?;
                match v.as_u64() {
                    Some(s) if s > 0 => Some(Duration::from_secs(s.min(MAX_DELAY.as_secs()))),
                    _ => {
                        return Err(self.failure(
                            state,
                            super::jsonata::query_evaluation_error(format!(
                                "The field 'TimeoutSeconds' must be a positive integer, not {}",
                                preview(&v)
                            )),
                        ))
                    }
                }
            }
            Some(Seconds::Path(p)) => {
                let effective = self.input_path(state, input.get(), &ctx, vars)?;
                let v = Scope::new(&effective, &ctx, vars)
                    .select(p)
                    .map(Cow::into_owned);
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
        let effective = match input {
            TaskInput::Taken(raw) => {
                TaskInput::Taken(self.io(state, &state.input_path, "InputPath", raw, &ctx, vars)?)
            }
            TaskInput::Whole(raw) => match self.input_path(state, raw.get(), &ctx, vars)? {
                Cow::Borrowed(_) if matches!(state.input_path, IoPath::Root) => {
                    TaskInput::Whole(raw)
                }
                Cow::Borrowed(part) => TaskInput::Part(part),
                Cow::Owned(selected) => TaskInput::Taken(Data::Owned(selected)),
            },
            TaskInput::Part(raw) => match self.input_path(state, raw, &ctx, vars)? {
                Cow::Borrowed(part) => TaskInput::Part(part),
                Cow::Owned(selected) => TaskInput::Taken(Data::Owned(selected)),
            },
        };
        let name = Some(&state.name);
        let timeout_seconds = timeout.map(|d| d.as_secs());
        match &task.resource {
            Resource::LambdaInvoke(parameters) => {
                // The other parameters, kept only to show a mock the whole object.
                let mut others = self.mocks.then(Map::new);
                let Invocation { function, payload } = self.invoke_parameters(
                    state,
                    parameters,
                    effective,
                    &ctx,
                    others.as_mut(),
                    vars,
                )?;
                if !parameters.payload_within_input() && over_payload_quota(&payload) {
                    return Err(self.data_limit_exceeded(state, "has an input"));
                }
                let mock_parameters = others.map(|others| {
                    Arc::new(parameters_object(parameters, &function, &payload, others))
                });
                self.event(frame, EventKind::TaskScheduled, name, || {
                    Details::InvokeScheduled {
                        function: function.clone(),
                        payload: self.held_payload(&payload),
                        timeout: timeout_seconds,
                    }
                });
                self.event(frame, EventKind::TaskStarted, name, || {
                    Details::InvokeStarted
                });
                self.within_history_limit(state, frame)?;
                Ok(Call {
                    function,
                    payload,
                    timeout,
                    parameters: mock_parameters,
                })
            }
            Resource::LambdaArn | Resource::Service(_) => {
                let payload = match &task.common.parameters {
                    Some(t) => Arc::new(match effective {
                        TaskInput::Taken(d) => self.eval_data(state, t, d, &ctx, vars)?,
                        other => t
                            .eval(&Scope::new(other.get(), &ctx, vars))
                            .map_err(|e| self.failure(state, e))?,
                    }),
                    None => match effective {
                        TaskInput::Taken(d) => d.into_arc(),
                        TaskInput::Whole(d) => d.arc().unwrap_or_else(|| Arc::new(d.get().clone())),
                        TaskInput::Part(v) => Arc::new(v.clone()),
                    },
                };
                // Without `Parameters` the payload is the effective input, which fits.
                if task.common.parameters.is_some() && over_payload_quota(&payload) {
                    return Err(self.data_limit_exceeded(state, "has an input"));
                }
                if let Resource::Service(service) = &task.resource {
                    self.event(frame, EventKind::TaskScheduled, name, || {
                        Details::ServiceScheduled {
                            service: service.clone(),
                            parameters: payload.clone(),
                            timeout: timeout_seconds,
                        }
                    });
                    self.event(frame, EventKind::TaskStarted, name, || {
                        Details::ServiceStarted(service.clone())
                    });
                } else {
                    self.event(frame, EventKind::LambdaFunctionScheduled, name, || {
                        Details::LambdaScheduled {
                            resource: task.resource_text.clone(),
                            input: self.held_payload(&payload),
                            timeout: timeout_seconds,
                        }
                    });
                    self.event(frame, EventKind::LambdaFunctionStarted, name, || {
                        Details::Empty
                    });
                }
                self.within_history_limit(state, frame)?;
                // A service's Task is always asked about (and fails when not mocked).
                let service = matches!(task.resource, Resource::Service(_));
                Ok(Call {
                    function: task.resource_text.clone(),
                    parameters: (self.mocks || service).then(|| payload.clone()),
                    payload,
                    timeout,
                })
            }
        }
    }

    /// A Task's result from its function's answer (`ResultSelector`, or the payload alone when
    /// only that is read), with its `…Succeeded`/`…Failed`/`…TimedOut` event.
    #[allow(clippy::too_many_arguments)]
    fn task_answer(
        &self,
        state: &State,
        task: &Task,
        answer: Answer,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
        vars: &Vars<'_>,
    ) -> DataFlow {
        let ctx = || self.context(state, entered, retry_count, None);
        let name = Some(&state.name);
        let lambda_arn = matches!(task.resource, Resource::LambdaArn);
        let (result, mocked) = match answer {
            Ok((result, _)) if !self.is_held_payload(&result) && over_payload_quota(&result) => {
                return Err(self.data_limit_exceeded(state, "returned a result"));
            }
            Ok(answered) => answered,
            Err((error, timed_out)) => {
                let kind = match (lambda_arn, timed_out) {
                    (true, true) => EventKind::LambdaFunctionTimedOut,
                    (true, false) => EventKind::LambdaFunctionFailed,
                    (false, true) => EventKind::TaskTimedOut,
                    (false, false) => EventKind::TaskFailed,
                };
                self.event(frame, kind, name, || {
                    let (resource_type, resource) = match &task.resource {
                        Resource::Service(s) => (&*s.resource_type, &*s.resource),
                        _ => ("lambda", "invoke"),
                    };
                    Details::json(if lambda_arn {
                        json!({"error": error.error, "cause": error.cause})
                    } else {
                        json!({"resourceType": resource_type, "resource": resource, "error": error.error, "cause": error.cause})
                    })
                });
                return Err(self.failure(state, error));
            }
        };
        if lambda_arn {
            let mut result = Data::Shared(result);
            self.event(frame, EventKind::LambdaFunctionSucceeded, name, || {
                Details::Output(result.share())
            });
            self.assign_jsonpath(state, result.get(), &ctx, vars)?;
            return match &task.common.result_selector {
                Some(t) => Ok(Data::Owned(self.eval_data(state, t, result, &ctx, vars)?)),
                None => Ok(result),
            };
        }
        if mocked || matches!(task.resource, Resource::Service(_)) {
            return self.whole_response(state, task, result, frame, &ctx, vars);
        }
        let request_id = fastrand::u128(..);
        let Some(payload_only) = &task.payload_only else {
            let result = Data::Shared(result).unshared().into_value();
            let mut response = Data::Owned(invoke_response(result, request_id));
            self.event(frame, EventKind::TaskSucceeded, name, || {
                Details::InvokeResponse(response.share())
            });
            self.assign_jsonpath(state, response.get(), &ctx, vars)?;
            return match &task.common.result_selector {
                Some(t) => Ok(Data::Owned(self.eval_data(state, t, response, &ctx, vars)?)),
                None => Ok(response),
            };
        };
        // Only the payload is read: the response around it is not built (but for the history,
        // and for the message of a path that selects nothing, which shows the response).
        let mut payload = Data::Shared(result);
        self.event(frame, EventKind::TaskSucceeded, name, || {
            Details::InvokeSucceeded {
                payload: payload.share(),
                request_id: [(request_id >> 64) as u64, request_id as u64],
            }
        });
        let response = |payload: &Value| invoke_response(payload.clone(), request_id);
        match payload_only {
            PayloadOnly::Selector(below) => {
                let found = below.all_paths(&|p| {
                    p.is_context() || p.select(payload.get(), &Value::Null).is_some()
                });
                if !found {
                    let whole = response(payload.get());
                    let selector = &task.common.result_selector;
                    return self
                        .select_result(state, selector, whole, &ctx, vars)
                        .map(Data::Owned);
                }
                Ok(Data::Owned(self.eval_data(
                    state,
                    below,
                    payload.unshared(),
                    &ctx,
                    vars,
                )?))
            }
            PayloadOnly::Output(below) => {
                if below.select(payload.get(), &Value::Null).is_none() {
                    let whole = response(payload.get());
                    return Err(self.missing(state, "OutputPath", below.text(), &whole));
                }
                self.select_data(state, below, "OutputPath", payload.unshared())
            }
        }
    }

    /// A `lambda:invoke`'s function and payload from its `Parameters`.
    fn invoke_parameters(
        &self,
        state: &State,
        parameters: &InvokeParameters,
        effective: TaskInput<'_>,
        ctx: &(dyn Fn() -> Value + Sync),
        mut others: Option<&mut Map<String, Value>>,
        vars: &Vars<'_>,
    ) -> Result<Invocation, Failure> {
        let held;
        // `shared`: the effective input as the history holds it already, passed on as the
        // payload when the payload is the input itself.
        let (read, mut taken, shared) = match effective {
            TaskInput::Taken(Data::Owned(v)) if parameters.single_reader => (None, Some(v), None),
            TaskInput::Taken(d) => {
                held = d;
                (Some(held.get()), None, held.arc())
            }
            TaskInput::Whole(d) => (Some(d.get()), None, d.arc()),
            TaskInput::Part(v) => (Some(v), None, None),
        };
        let nothing = Value::Null;
        let scope = Scope::new(read.unwrap_or(&nothing), ctx, vars);
        let (mut function, mut function_value, mut payload) = (None, None, None);
        for (field, template) in &parameters.fields {
            match field {
                InvokeField::FunctionName(Some(fixed)) => {
                    function = Some(fixed.clone());
                    continue;
                }
                InvokeField::Other(key) if matches!(template, Template::Static(_)) => {
                    if let (Some(others), Template::Static(v)) = (others.as_mut(), template) {
                        others.insert(key.to_string(), v.clone());
                    }
                    continue;
                }
                InvokeField::Payload if template.is_input_itself() && shared.is_some() => {
                    payload = shared.clone();
                    continue;
                }
                _ => {}
            }
            let value = if read.is_some() {
                template.eval(&scope)
            } else {
                template.eval_taking(&mut taken, &scope)
            }
            .map_err(|e| self.failure(state, e))?;
            match field {
                InvokeField::FunctionName(_) => function_value = Some(value),
                InvokeField::Payload => payload = Some(Arc::new(value)),
                InvokeField::Other(key) => {
                    if let Some(others) = others.as_mut() {
                        others.insert(key.to_string(), value);
                    }
                }
            }
        }
        let function = match (function, function_value) {
            (Some(fixed), _) => fixed,
            (None, Some(Value::String(name))) => Arc::from(name),
            (None, other) => {
                return Err(self.failure(
                    state,
                    runtime(format!(
                        "FunctionName must be a string, not {}",
                        other.as_ref().map_or("missing", kind)
                    )),
                ))
            }
        };
        Ok(Invocation {
            function,
            payload: payload.unwrap_or_else(|| Arc::new(Value::Object(Map::new()))),
        })
    }

    /// Calls a function, within the task's timeout; the error says whether it timed out.
    async fn call(
        &self,
        function: &str,
        payload: Arc<Value>,
        timeout: Option<Duration>,
    ) -> Result<Arc<Value>, (TaskError, bool)> {
        let call = self.invoker.invoke(function, payload);
        match timeout {
            // Boxed: a timer is large, and every future that awaits this one would otherwise
            // carry (and move) room for it, timeout or not.
            Some(limit) => match Box::pin(tokio::time::timeout(limit, call)).await {
                Ok(result) => result.map_err(|e| (e, false)),
                Err(_) => Err((timed_out(limit), true)),
            },
            None => call.await.map_err(|e| (e, false)),
        }
    }

    /// A Task's work when the invoker may mock it (`call.parameters` set): the invoker's
    /// answer for its state (`Invoker::mocked`) within the task's timeout, else the call.
    /// Apart from `call`, which most Tasks await alone, so that their futures stay small.
    async fn mock_or_call(&self, state: &State, task: &Task, call: Call) -> Answer {
        let Call {
            function,
            payload,
            timeout,
            parameters,
        } = call;
        let mock = parameters
            .as_deref()
            .and_then(|p| self.invoker.mocked(&state.name, &task.resource_text, p));
        let Some(answer) = mock else {
            // The payload alone again, so that the function may take it uncopied.
            drop(mock);
            drop(parameters);
            if let Resource::Service(_) = task.resource {
                return Err((unmocked(state, task), false));
            }
            let result = self.call(&function, payload, timeout).await;
            return result.map(|result| (result, false));
        };
        let result = match timeout {
            Some(limit) => match Box::pin(tokio::time::timeout(limit, answer)).await {
                Ok(result) => result.map_err(|e| (e, false)),
                Err(_) => Err((timed_out(limit), true)),
            },
            None => answer.await.map_err(|e| (e, false)),
        };
        result.map(|result| (result, true))
    }

    /// A Task's result that is the service's whole response (another service's, or a mocked
    /// `lambda:invoke`'s, which is the Invoke response as the mock wrote it), with its
    /// `TaskSucceeded` event: `ResultSelector`, or the `OutputPath` that a `payload_only`
    /// task took over.
    fn whole_response(
        &self,
        state: &State,
        task: &Task,
        result: Arc<Value>,
        frame: &mut Frame,
        ctx: &(dyn Fn() -> Value + Sync),
        vars: &Vars<'_>,
    ) -> DataFlow {
        let mut response = Data::Shared(result);
        self.event(
            frame,
            EventKind::TaskSucceeded,
            Some(&state.name),
            || match &task.resource {
                Resource::Service(service) => Details::ServiceSucceeded {
                    service: service.clone(),
                    output: response.share(),
                },
                _ => Details::InvokeResponse(response.share()),
            },
        );
        self.assign_jsonpath(state, response.get(), ctx, vars)?;
        if let Some(PayloadOnly::Output(below)) = &task.payload_only {
            // The state's `OutputPath` is `$.Payload…`, applied here to the response.
            let whole = response.get();
            return match whole.get("Payload") {
                Some(payload) if below.select(payload, &Value::Null).is_some() => {
                    self.select_data(state, below, "OutputPath", Data::Owned(payload.clone()))
                }
                _ => Err(self.missing(state, "OutputPath", below.text(), whole)),
            };
        }
        match &task.common.result_selector {
            Some(t) => Ok(Data::Owned(self.eval_data(state, t, response, ctx, vars)?)),
            None => Ok(response),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn parallel(
        &self,
        state: &State,
        parallel: &Parallel,
        raw: &Value,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
        vars: &Vars<'_>,
    ) -> Flow {
        let ctx = || self.context(state, entered, retry_count, None);
        let input = self.effective_input(state, &parallel.common.parameters, raw, &ctx, vars)?;
        // Every branch starts from it: built by `Parameters`, it may be larger than the input.
        if parallel.common.parameters.is_some() && over_payload_quota(&input) {
            return Err(self.data_limit_exceeded(state, "has an input"));
        }
        let name = Some(&state.name);
        self.event(frame, EventKind::ParallelStateStarted, name, || {
            Details::Empty
        });
        let (started, child) = (frame.last, &frame.child);
        // The branches share the input: one copies it only if it changes it.
        let input = Arc::new(input);
        let inputs: Vec<Data> = parallel
            .branches
            .iter()
            .map(|_| Data::Shared(input.clone()))
            .collect();
        drop(input);
        let branches = parallel
            .branches
            .iter()
            .zip(inputs)
            .map(|(branch, input)| async move {
                let mut branch_frame = Frame {
                    last: started,
                    events: None,
                    child: child.clone(),
                };
                self.run_machine(branch, input, &mut branch_frame, Some(vars))
                    .await
            });
        match futures_util::future::try_join_all(branches).await {
            Ok(outputs) => {
                self.event(frame, EventKind::ParallelStateSucceeded, name, || {
                    Details::Empty
                });
                let outputs = Value::Array(outputs.into_iter().map(Data::into_value).collect());
                self.assign_jsonpath(state, &outputs, &ctx, vars)?;
                self.select_result(state, &parallel.common.result_selector, outputs, &ctx, vars)
            }
            Err(failure) => {
                let e = &failure.error;
                self.event(frame, EventKind::ParallelStateFailed, name, || {
                    Details::json(json!({"error": e.error, "cause": e.cause}))
                });
                Err(failure)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn map(
        &self,
        state: &State,
        map: &MapState,
        raw: &Value,
        frame: &mut Frame,
        entered: SystemTime,
        retry_count: u64,
        vars: &Vars<'_>,
    ) -> Flow {
        let ctx = || self.context(state, entered, retry_count, None);
        let effective = self.input_path(state, raw, &ctx, vars)?;
        let effective: &Value = &effective;
        let read_number = |p: &super::path::Path, field: &str| -> Result<Value, Failure> {
            Scope::new(effective, &ctx, vars)
                .select(p)
                .map(Cow::into_owned)
                .ok_or_else(|| self.missing(state, field, p.text(), effective))
        };
        let items = match (&map.items_path, &map.items) {
            (_, Some(items)) => Cow::Owned(
                items
                    .eval(&Scope::new(effective, &ctx, vars))
                    .map_err(|e| self.failure(state, e))?,
            ),
            (None, None) => Cow::Borrowed(effective),
            (Some(p), None) => {
                let scope = Scope::new(effective, &ctx, vars);
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
        // A JSONata field's value: what it must be, or States.QueryEvaluationError.
        let computed = |t: &Template,
                        field: &str,
                        what: &str,
                        read: &dyn Fn(&Value) -> Option<f64>|
         -> Result<f64, Failure> {
            let v = t
                .eval(&Scope::new(effective, &ctx, vars))
                .map_err(|e| self.failure(state, e))?;
            read(&v).ok_or_else(|| {
                self.failure(
                    state,
                    super::jsonata::query_evaluation_error(format!(
                        "The field '{field}' must be {what}, not {}",
                        preview(&v)
                    )),
                )
            })
        };
        let count = |v: &Value| v.as_u64().map(|n| n as f64);
        let max_concurrency = match &map.max_concurrency {
            Count::Fixed(n) => *n,
            Count::Expr(t) => {
                computed(t, "MaxConcurrency", "a non-negative integer", &count)? as u64
            }
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
            Some(Count::Expr(t)) => {
                Some(computed(t, "ToleratedFailureCount", "a non-negative integer", &count)? as u64)
            }
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
            Some(Percentage::Expr(t)) => Some(computed(
                t,
                "ToleratedFailurePercentage",
                "a number from 0 to 100",
                &|v: &Value| v.as_f64().filter(|p| (0.0..=100.0).contains(p)),
            )?),
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
        let name = Some(&state.name);
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
        self.event(frame, started_kind, name, || {
            Details::json(json!({"length": total}))
        });
        let started = frame.last;
        // Each child of a Distributed Map is an execution of its own, with its own count.
        let parent_child = frame.child.clone();
        let child = || {
            if map.distributed {
                Some(Arc::new(AtomicU64::new(0)))
            } else {
                parent_child.clone()
            }
        };
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
                (started, child()),
                index,
                item,
                vars,
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
                    (started, child()),
                    next_index,
                    item,
                    vars,
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
                    *slot = error_output(&failure.error);
                }
                let over_count = tolerated_count.is_some_and(|n| failures > n);
                let over_percentage = tolerated_percentage
                    .is_some_and(|p| failures as f64 * 100.0 > p * total as f64);
                if !(over_count || over_percentage) {
                    continue;
                }
                self.failure(
                    state,
                    TaskError::new(errors::EXCEED_TOLERATED_FAILURE_THRESHOLD, format!("{failures} of {total} iterations failed, more than the Map state tolerates; the last failure: {}: {}", failure.error.error, failure.error.cause)),
                )
            };
            let e = &failure.error;
            self.event(frame, failed_kind, name, || {
                Details::json(json!({"error": e.error, "cause": e.cause}))
            });
            return Err(failure);
        }
        self.event(frame, succeeded_kind, name, || Details::Empty);
        let results = Value::Array(results);
        self.assign_jsonpath(state, &results, &ctx, vars)?;
        self.select_result(state, &map.common.result_selector, results, &ctx, vars)
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
        (started, child): (u64, Option<Arc<AtomicU64>>),
        index: usize,
        item: &Value,
        vars: &Vars<'_>,
    ) -> (usize, Flow) {
        let input = match &map.item_selector {
            Some(selector) => {
                let item_ctx = || self.context(state, entered, retry_count, Some((index, item)));
                match selector.eval(&Scope::new(effective, &item_ctx, vars)) {
                    Ok(input) if over_payload_quota(&input) => {
                        Err(self.data_limit_exceeded(state, "has an iteration input"))
                    }
                    Ok(input) => Ok(input),
                    Err(e) => Err(self.failure(state, e)),
                }
            }
            None => Ok(item.clone()),
        };
        let name = Some(&state.name);
        let mut iteration = Frame {
            last: started,
            events: None,
            child,
        };
        self.event(&mut iteration, EventKind::MapIterationStarted, name, || {
            Details::json(json!({"name": &*state.name, "index": index}))
        });
        let outcome = match input {
            Ok(input) => self
                .run_machine(
                    &map.processor,
                    Data::Owned(input),
                    &mut iteration,
                    // A Distributed Map's children see no variable from outside.
                    (!map.distributed).then_some(vars),
                )
                .await
                .map(Data::into_value),
            Err(f) => Err(f),
        };
        match &outcome {
            Ok(_) => self.event(&mut iteration, EventKind::MapIterationSucceeded, name, || Details::json(json!({"name": &*state.name, "index": index}))),
            Err(f) => self.event(&mut iteration, EventKind::MapIterationFailed, name, || Details::json(json!({"name": &*state.name, "index": index, "error": f.error.error, "cause": f.error.cause}))),
        }
        (index, outcome)
    }
}

/// Makes the error of a wrong value from its cause (`runtime`, `query_evaluation_error`).
type ErrorOf = fn(String) -> TaskError;

/// The field a Wait state reads its time from.
fn wait_field(wait: &Wait) -> &'static str {
    match wait {
        Wait::Seconds(_) | Wait::SecondsExpr(_) => "Seconds",
        Wait::SecondsPath(_) => "SecondsPath",
        Wait::Timestamp(_) | Wait::TimestampExpr(_) => "Timestamp",
        Wait::TimestampPath(_) => "TimestampPath",
    }
}
