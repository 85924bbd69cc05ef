//! AWS's `MockConfigFile` (Step Functions Local's mocked service integrations): Task states
//! mocked by *state name*, per invocation, for any service integration. Parsing with located
//! diagnostics, [`StateMocks`] (one test case as an engine `Invoker` through the engine's
//! state-level hook, `Invoker::mocked`), and [`export_machines`], which writes a
//! MockConfigFile that replays recorded executions.
//!
//! The format, as AWS documents it ("Configuration file for mocked service integrations in
//! Step Functions", <https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-mock-cfg-file.html>,
//! and "Using mocked service integrations for testing in Step Functions Local",
//! <https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-test-sm-exec.html>):
//!
//! ```json
//! { "StateMachines": { "<machine>": { "TestCases": { "<case>": { "<state>": "<response>" } } } },
//!   "MockedResponses": { "<response>": { "0": { "Return": {…} },
//!                                        "1-2": { "Throw": { "Error": "…", "Cause": "…" } } } } }
//! ```
//!
//! - Invocation keys are 0-based call numbers (`"0"` is the first call) or inclusive ranges
//!   (`"0-2"`: the first three calls); they may not overlap here.
//! - "When you mock a Task, you must specify a mocked response for every invocation … If you
//!   do not specify a mocked response, the state machine execution will fail." So a file whose
//!   keys leave a gap (or do not start at `"0"`) is rejected (T106), and a call past the last
//!   defined invocation fails the execution: the answer is `States.Runtime`, which no `Retry`
//!   or `Catch` sees (the execution fails, as AWS says, whatever the state's catchers), with a
//!   cause starting `flowctl.MockExhausted:` and naming the state, the response and the fix;
//!   it is also recorded as a problem of the case (its verdict is `Error`).
//! - `Return` is the service's whole answer: for `arn:aws:states:::lambda:invoke` the Invoke
//!   response (`{"StatusCode": 200, "Payload": …}`, AWS's own example), so `ResultSelector`
//!   (`$.Payload`) and `ResultPath` apply to it as on AWS; for a Task whose `Resource` is a
//!   Lambda function ARN, the function's result; for any other integration
//!   (`arn:aws:states:::sqs:sendMessage`, …) that service's response. `Throw` is `{"Error",
//!   "Cause"}` (both strings, as AWS requires), matched by `Retry`/`Catch` like a real error.
//! - A state that the test case does not name is not mocked: Step Functions Local would call
//!   the real service. Here a Lambda call goes to the fallback invoker when one is given
//!   (integration), else answers `flowctl.NotMocked` and records a problem; any other service
//!   fails with the engine's `States.Runtime` ("mock it"), also recorded as a problem.
//! - Invocations are counted per state and test case run, across Map iterations and Parallel
//!   branches (AWS advises `MaxConcurrency: 1` for predictable order in a Map).
//!
//! Diagnostic codes (`T1xx`):
//! - T100: the file is not JSON.
//! - T101: an unknown key (top level, state machine, response, `Throw`).
//! - T102: a value of the wrong type or a required key missing.
//! - T103: a test case names a mocked response that `MockedResponses` lacks.
//! - T104: an invocation key that is neither `"N"` nor `"A-B"` with `A <= B`.
//! - T105: invocation keys that overlap.
//! - T106: an invocation without a response (a gap, or keys not starting at `"0"`).
//! - T107: an invocation with neither or both of `Return` and `Throw`.
//! - T108: the state machine to run is not in `StateMachines` (checked against the document).
//! - T109: a test case names a state the document lacks.

use flowctl_engine::{BoxFuture, EventKind, Execution, Invoker, TaskError};
use flowctl_lang::diagnostic::{Diagnostic, Span};
use flowctl_protocol::did_you_mean;
use flowctl_protocol::sfn::lambda_resource;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

mod locate;

/// The error of a call a test case does not mock and no fallback takes.
pub const NOT_MOCKED: &str = "flowctl.NotMocked";
/// How the cause of a call past a mocked response's last invocation starts (the error is
/// `States.Runtime`: the execution fails, as AWS documents).
pub const MOCK_EXHAUSTED: &str = "flowctl.MockExhausted";

/// A parsed MockConfigFile.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// State machine name → its test cases.
    pub state_machines: BTreeMap<String, Machine>,
    /// Mocked response name → its answers.
    pub responses: BTreeMap<String, Arc<MockedResponse>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// Test case name → state name → mocked response name.
    pub test_cases: BTreeMap<String, TestCase>,
    /// The machine's key in the file.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// State name → mocked response name.
    pub states: BTreeMap<String, String>,
    /// Where each state's key is (for diagnostics about the document).
    pub state_spans: BTreeMap<String, Span>,
    /// The test case's key in the file.
    pub span: Span,
}

/// The answers of one mocked response, by invocation (sorted, contiguous from 0).
#[derive(Debug, Clone, PartialEq)]
pub struct MockedResponse {
    pub invocations: Vec<Invocation>,
}

impl MockedResponse {
    /// The answer to call `n` (0-based), if the response defines one.
    pub fn answer(&self, n: u64) -> Option<&Answer> {
        self.invocations
            .iter()
            .find(|i| i.first <= n && n <= i.last)
            .map(|i| &i.answer)
    }

    /// How many calls the response answers.
    pub fn calls(&self) -> u64 {
        self.invocations
            .last()
            .map_or(0, |i| i.last.saturating_add(1))
    }
}

/// Calls `first..=last` (0-based) get `answer`.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub first: u64,
    pub last: u64,
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `Return`: the service's whole response.
    Return(Arc<Value>),
    /// `Throw`.
    Throw { error: String, cause: String },
}

/// Parses a MockConfigFile, reporting every problem found (none stops the others).
pub fn parse(text: &str) -> Result<MockConfig, Vec<Diagnostic>> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let at = flowctl_lang::diagnostic::offset_at(text, e.line(), e.column());
            let span = Span::new(at, (at + 1).min(text.len()).max(at));
            let diagnostic = Diagnostic::error("T100", "the MockConfigFile is not JSON", span)
                .text(e.to_string())
                .hint("write the file as JSON (AWS's MockConfigFile format)");
            return Err(vec![diagnostic]);
        }
    };
    let tree = locate::tree(text);
    let mut parser = Parser {
        diagnostics: Vec::new(),
    };
    let config = parser.config(&value, &tree);
    if parser.diagnostics.is_empty() {
        Ok(config)
    } else {
        // In the order of the text, as the reader goes through the file.
        parser.diagnostics.sort_by_key(|d| d.span.start);
        Err(parser.diagnostics)
    }
}

impl MockConfig {
    /// Checks the file against the document it will run: `machine` (the state machine's name
    /// in `StateMachines`) must be there, and its test cases must name states of the document
    /// (`states`: every state name, nested ones included).
    pub fn check(&self, machine: &str, states: &[String]) -> Vec<Diagnostic> {
        let Some(m) = self.state_machines.get(machine) else {
            let names = self.state_machines.keys().map(String::as_str);
            let mut d = Diagnostic::error(
                "T108",
                format!("the MockConfigFile has no state machine `{machine}`"),
                Span::default(),
            )
            .text("`StateMachines` is here");
            d = match did_you_mean(machine, names) {
                Some(close) => d.hint(format!("did you mean `{close}`?")),
                None => d.hint(format!(
                    "add `\"{machine}\": {{\"TestCases\": {{…}}}}` to `StateMachines`, or run the state machine the file names"
                )),
            };
            return vec![d];
        };
        let mut diagnostics = Vec::new();
        for (case, test) in &m.test_cases {
            for (state, span) in &test.state_spans {
                if states.iter().any(|s| s == state) {
                    continue;
                }
                let d = Diagnostic::error(
                    "T109",
                    format!("test case `{case}` mocks `{state}`, a state the document lacks"),
                    *span,
                )
                .text("no such state");
                let close = did_you_mean(state, states.iter().map(String::as_str));
                diagnostics.push(match close {
                    Some(close) => d.hint(format!("did you mean `{close}`?")),
                    None => d.hint(
                        "name a Task state of the state machine (state names are case-sensitive)",
                    ),
                });
            }
        }
        diagnostics
    }

    /// The mocks of one test case, or `None` if the file does not have it.
    pub fn state_mocks(&self, machine: &str, case: &str) -> Option<StateMocks> {
        let test = self.state_machines.get(machine)?.test_cases.get(case)?;
        let states = test
            .states
            .iter()
            .filter_map(|(state, response)| {
                let answers = self.responses.get(response)?;
                Some((state.clone(), (response.clone(), Arc::clone(answers))))
            })
            .collect();
        Some(StateMocks {
            case: case.to_string(),
            states,
            fallback: None,
            log: Mutex::new(Log::default()),
        })
    }
}

/// One test case of a MockConfigFile as an `Invoker`: Task states it names are answered by
/// their mocked response, per invocation of the state; Lambda calls of other states go to the
/// fallback, if any. Thread-safe: Map iterations and Parallel branches call it concurrently.
pub struct StateMocks {
    case: String,
    /// State → (response name, answers).
    states: HashMap<String, (String, Arc<MockedResponse>)>,
    fallback: Option<Arc<dyn Invoker>>,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    /// Calls so far, per state.
    counters: HashMap<String, u64>,
    /// States answered by a mock and functions called, in order.
    calls: Vec<String>,
    problems: Vec<String>,
}

impl StateMocks {
    /// Unmocked Lambda calls go to `fallback` (integration: the real functions).
    pub fn with_fallback(mut self, fallback: Arc<dyn Invoker>) -> StateMocks {
        self.fallback = Some(fallback);
        self
    }

    /// Mocked states (by name) and called functions, in call order, every attempt.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// What makes the case unable to run as written (a call past a response's last
    /// invocation, an unmocked call without a fallback), one line each.
    pub fn problems(&self) -> Vec<String> {
        self.lock().problems.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn answer(&self, state: &str) -> Result<Arc<Value>, TaskError> {
        let (response, answers) = match self.states.get(state) {
            Some(found) => found,
            None => return Err(TaskError::new(NOT_MOCKED, "")),
        };
        let mut log = self.lock();
        let n = {
            let counter = log.counters.entry(state.to_string()).or_default();
            let n = *counter;
            *counter = counter.saturating_add(1);
            n
        };
        log.calls.push(state.to_string());
        match answers.answer(n) {
            Some(Answer::Return(value)) => Ok(Arc::clone(value)),
            Some(Answer::Throw { error, cause }) => Err(TaskError::new(error, cause)),
            None => {
                let defined = answers.calls();
                let problem = format!(
                    "state `{state}` was called {} times; mocked response `{response}` answers {defined} (invocations 0-{})",
                    n + 1,
                    defined.saturating_sub(1)
                );
                log.problems.push(problem.clone());
                let cause = format!(
                    "{MOCK_EXHAUSTED}: {problem}: Step Functions Local fails the execution when an invocation has no mocked response; add \"{n}\" to `{response}` in test case `{}`",
                    self.case
                );
                Err(TaskError::new(
                    flowctl_protocol::sfn::errors::RUNTIME,
                    cause,
                ))
            }
        }
    }
}

impl Invoker for StateMocks {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        if let Some(fallback) = &self.fallback {
            self.lock().calls.push(function.to_string());
            return fallback.invoke(function, payload);
        }
        let problem = format!(
            "function `{function}` was called but test case `{}` does not mock its state and no real function runs",
            self.case
        );
        self.lock().problems.push(problem.clone());
        let cause = format!("{problem}: add the state to the test case in the MockConfigFile");
        Box::pin(std::future::ready(Err(TaskError::new(NOT_MOCKED, cause))))
    }

    fn mocked<'a>(
        &'a self,
        state: &'a str,
        resource: &'a str,
        _parameters: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Arc<Value>, TaskError>>> {
        if !self.states.contains_key(state) {
            if lambda_resource(resource).is_none() {
                // The engine fails it with `States.Runtime` ("mock it"); the case is wrong.
                self.lock().problems.push(format!(
                    "state `{state}` calls `{resource}`, which runs only mocked: test case `{}` does not mock it",
                    self.case
                ));
            }
            return None;
        }
        Some(Box::pin(std::future::ready(self.answer(state))))
    }

    fn mocks_states(&self) -> bool {
        true
    }
}

impl crate::run::CaseMocks for StateMocks {
    fn calls(&self) -> Vec<String> {
        StateMocks::calls(self)
    }

    fn problems(&self) -> Vec<String> {
        StateMocks::problems(self)
    }
}

/// A MockConfigFile whose test cases replay the recorded executions of `machines` (per state
/// machine, its cases: name and execution, history on), all in one file: per case and Task
/// state, a mocked response named
/// `<case>.<state>` (sanitised: runs of characters other than letters, digits and `_` become
/// `-`; a clash gets `-2`, `-3`, …) with each attempt's answer in history order — a
/// `TaskSucceeded`'s output (the whole service response) or a `LambdaFunctionSucceeded`'s, or
/// the failure's error and cause (a timeout: `States.Timeout`) — consecutive equal answers
/// compressed into ranges. From a `lambda:invoke` response, the per-call request ids
/// (`SdkHttpMetadata`, `SdkResponseMetadata`) are left out, so equal answers compress: the
/// rest (`StatusCode`, `ExecutedVersion`, `Payload`) is what AWS's own example returns.
/// Response names are unique across all the machines.
pub fn export_machines(machines: &[(String, Vec<(String, &Execution)>)]) -> Value {
    let mut machines_json = Map::new();
    let mut responses = Map::new();
    for (state_machine, cases) in machines {
        let mut test_cases = Map::new();
        for (case, execution) in cases {
            test_cases.insert(
                case.clone(),
                Value::Object(test_case(case, execution, &mut responses)),
            );
        }
        let mut machine = Map::new();
        machine.insert("TestCases".into(), Value::Object(test_cases));
        machines_json.insert(state_machine.clone(), Value::Object(machine));
    }
    let mut file = Map::new();
    file.insert("StateMachines".into(), Value::Object(machines_json));
    file.insert("MockedResponses".into(), Value::Object(responses));
    Value::Object(file)
}

/// One test case from a recorded execution: state → the name of its mocked response, each
/// response added to `responses` under a name not taken yet.
fn test_case(
    case: &str,
    execution: &Execution,
    responses: &mut Map<String, Value>,
) -> Map<String, Value> {
    let mut by_state: Vec<(String, Vec<Answer>)> = Vec::new();
    for (state, answer) in attempts(execution) {
        match by_state.iter_mut().find(|(s, _)| *s == state) {
            Some((_, answers)) => answers.push(answer),
            None => by_state.push((state, vec![answer])),
        }
    }
    let mut test = Map::new();
    for (state, answers) in by_state {
        let base = format!("{}.{}", sanitise(case), sanitise(&state));
        let mut name = base.clone();
        let mut n = 1;
        while responses.contains_key(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        responses.insert(name.clone(), invocations_json(&answers));
        test.insert(state, Value::String(name));
    }
    test
}

/// Each Task attempt of an execution, in the order the attempts were scheduled: the state and
/// its answer.
fn attempts(execution: &Execution) -> Vec<(String, Answer)> {
    let history = &execution.history;
    let mut next: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, e) in history.iter().enumerate() {
        next.entry(e.previous_event_id).or_default().push(i);
    }
    let mut out = Vec::new();
    for event in history {
        if !matches!(
            event.kind,
            EventKind::TaskScheduled | EventKind::LambdaFunctionScheduled
        ) {
            continue;
        }
        let Some(state) = event.state.as_deref() else {
            continue;
        };
        // Follow the attempt's line of work to its outcome (Started, then the result).
        let mut current = event.id;
        let mut answer = None;
        for _ in 0..4 {
            let Some(follower) = next
                .get(&current)
                .into_iter()
                .flatten()
                .map(|&k| &history[k])
                .find(|e| e.state.as_deref() == Some(state))
            else {
                break;
            };
            let details = follower.details();
            let text = |key: &str| details[key].as_str().unwrap_or_default().to_string();
            answer = match follower.kind {
                EventKind::TaskSucceeded => Some(Answer::Return(Arc::new(without_request_ids(
                    &details["output"],
                )))),
                EventKind::LambdaFunctionSucceeded => {
                    Some(Answer::Return(Arc::new(details["output"].clone())))
                }
                EventKind::TaskFailed | EventKind::LambdaFunctionFailed => Some(Answer::Throw {
                    error: text("error"),
                    cause: text("cause"),
                }),
                EventKind::TaskTimedOut | EventKind::LambdaFunctionTimedOut => {
                    let error = text("error");
                    Some(Answer::Throw {
                        error: if error.is_empty() {
                            "States.Timeout".into()
                        } else {
                            error
                        },
                        cause: text("cause"),
                    })
                }
                _ => None,
            };
            if answer.is_some() {
                break;
            }
            current = follower.id;
        }
        if let Some(answer) = answer {
            out.push((state.to_string(), answer));
        }
    }
    out
}

fn without_request_ids(response: &Value) -> Value {
    let mut response = response.clone();
    if let Some(object) = response.as_object_mut() {
        if object.contains_key("Payload") && object.contains_key("StatusCode") {
            object.remove("SdkHttpMetadata");
            object.remove("SdkResponseMetadata");
        }
    }
    response
}

fn invocations_json(answers: &[Answer]) -> Value {
    let mut out = Map::new();
    let mut first = 0usize;
    while first < answers.len() {
        let mut last = first;
        while last + 1 < answers.len() && answers[last + 1] == answers[first] {
            last += 1;
        }
        let key = if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        };
        let value = match &answers[first] {
            Answer::Return(v) => serde_json::json!({ "Return": Value::clone(v) }),
            Answer::Throw { error, cause } => {
                serde_json::json!({ "Throw": { "Error": error, "Cause": cause } })
            }
        };
        out.insert(key, value);
        first = last + 1;
    }
    Value::Object(out)
}

fn sanitise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "_".to_string()
    } else {
        out.to_string()
    }
}

struct Parser {
    diagnostics: Vec<Diagnostic>,
}

impl Parser {
    fn error(&mut self, code: &'static str, title: String, span: Span, text: &str, hint: String) {
        self.diagnostics
            .push(Diagnostic::error(code, title, span).text(text).hint(hint));
    }

    fn unknown_keys(&mut self, node: &locate::Node, known: &[&str], place: &str) {
        for entry in node.entries() {
            if known.contains(&entry.key.as_str()) {
                continue;
            }
            let hint = match did_you_mean(&entry.key, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("{place} has only {}", list(known)),
            };
            self.error(
                "T101",
                format!("unknown key `{}` in {place}", entry.key),
                entry.key_span,
                "unknown key",
                hint,
            );
        }
    }

    fn object<'v>(
        &mut self,
        value: &'v Value,
        node: &locate::Node,
        what: &str,
    ) -> Option<&'v Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            self.error(
                "T102",
                format!("{what} must be an object"),
                node.span,
                &format!("found {}", crate::kind(value)),
                format!("write {what} as `{{ … }}`"),
            );
        }
        object
    }

    fn config(&mut self, value: &Value, tree: &locate::Node) -> MockConfig {
        let mut config = MockConfig {
            state_machines: BTreeMap::new(),
            responses: BTreeMap::new(),
        };
        let Some(top) = self.object(value, tree, "the MockConfigFile") else {
            return config;
        };
        self.unknown_keys(tree, &["StateMachines", "MockedResponses"], "the top level");
        for key in ["StateMachines", "MockedResponses"] {
            if !top.contains_key(key) {
                self.error(
                    "T102",
                    format!("the MockConfigFile has no `{key}`"),
                    Span::new(tree.span.start as usize, tree.span.start as usize + 1),
                    &format!("`{key}` is missing"),
                    format!("add `\"{key}\": {{ … }}` (AWS's MockConfigFile has both)"),
                );
            }
        }
        if let Some(responses) = top.get("MockedResponses") {
            let node = tree.child("MockedResponses");
            if let Some(responses) = self.object(responses, node, "`MockedResponses`") {
                for (name, response) in responses {
                    let entry = node.child(name);
                    if let Some(r) = self.response(name, response, entry) {
                        config.responses.insert(name.clone(), Arc::new(r));
                    }
                }
            }
        }
        if let Some(machines) = top.get("StateMachines") {
            let node = tree.child("StateMachines");
            if let Some(machines) = self.object(machines, node, "`StateMachines`") {
                for (name, machine) in machines {
                    let span = node.key_span(name);
                    let machine_node = node.child(name);
                    let names: Vec<&str> = responses_of(value);
                    if let Some(m) = self.machine(name, machine, machine_node, span, &names) {
                        config.state_machines.insert(name.clone(), m);
                    }
                }
            }
        }
        config
    }

    fn machine(
        &mut self,
        name: &str,
        value: &Value,
        node: &locate::Node,
        span: Span,
        responses: &[&str],
    ) -> Option<Machine> {
        let what = format!("state machine `{name}`");
        let machine = self.object(value, node, &what)?;
        self.unknown_keys(node, &["TestCases"], &what);
        let Some(cases) = machine.get("TestCases") else {
            self.error(
                "T102",
                format!("{what} has no `TestCases`"),
                span,
                "`TestCases` is missing",
                "add `\"TestCases\": { \"<case>\": { \"<state>\": \"<mocked response>\" } }`"
                    .into(),
            );
            return None;
        };
        let cases_node = node.child("TestCases");
        let cases = self.object(cases, cases_node, "`TestCases`")?;
        let mut test_cases = BTreeMap::new();
        for (case, states) in cases {
            let case_node = cases_node.child(case);
            let what = format!("test case `{case}`");
            let Some(states) = self.object(states, case_node, &what) else {
                continue;
            };
            let mut test = TestCase {
                states: BTreeMap::new(),
                state_spans: BTreeMap::new(),
                span: cases_node.key_span(case),
            };
            for (state, response) in states {
                let value_span = case_node.child(state).span;
                let Some(response) = response.as_str() else {
                    self.error(
                        "T102",
                        format!("{what} maps state `{state}` to {}", crate::kind(response)),
                        value_span,
                        "expected the name of a mocked response",
                        "write `\"<state>\": \"<mocked response name>\"`".into(),
                    );
                    continue;
                };
                if !responses.contains(&response) {
                    let hint = match did_you_mean(response, responses.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!(
                            "add `\"{response}\": {{\"0\": {{\"Return\": …}}}}` to `MockedResponses`"
                        ),
                    };
                    self.error(
                        "T103",
                        format!("{what} uses `{response}`, which `MockedResponses` lacks"),
                        value_span,
                        "no such mocked response",
                        hint,
                    );
                }
                test.states.insert(state.clone(), response.to_string());
                test.state_spans
                    .insert(state.clone(), case_node.key_span(state));
            }
            test_cases.insert(case.clone(), test);
        }
        Some(Machine { test_cases, span })
    }

    fn response(
        &mut self,
        name: &str,
        value: &Value,
        node: &locate::Node,
    ) -> Option<MockedResponse> {
        let what = format!("mocked response `{name}`");
        let object = self.object(value, node, &what)?;
        let before = self.diagnostics.len();
        let mut invocations: Vec<(Invocation, Span)> = Vec::new();
        for (key, answer) in object {
            let key_span = node.key_span(key);
            let Some((first, last)) = invocation_range(key) else {
                self.error(
                    "T104",
                    format!("`{key}` is not an invocation number or range"),
                    key_span,
                    "expected `\"N\"` or `\"A-B\"`",
                    "invocations are counted from 0: `\"0\"` is the first call, `\"1-2\"` the second and third".into(),
                );
                continue;
            };
            if let Some(answer) = self.answer(&what, key, answer, node.child(key)) {
                invocations.push((
                    Invocation {
                        first,
                        last,
                        answer,
                    },
                    key_span,
                ));
            }
        }
        invocations.sort_by_key(|(i, _)| (i.first, i.last));
        let mut expected = 0u64;
        for (i, span) in &invocations {
            if i.first < expected {
                self.error(
                    "T105",
                    format!("invocation keys of {what} overlap"),
                    *span,
                    &format!("call {} is already answered", i.first),
                    "give each call one answer: make the keys' ranges disjoint".into(),
                );
            } else if i.first > expected {
                let missing = if i.first - expected == 1 {
                    format!("\"{expected}\"")
                } else {
                    format!("\"{expected}-{}\"", i.first - 1)
                };
                self.error(
                    "T106",
                    format!("{what} has no answer for invocation {missing}"),
                    *span,
                    "the calls before this one have no answer",
                    format!("add {missing}: AWS requires a mocked response for every invocation (counted from 0)"),
                );
            }
            expected = expected.max(i.last.saturating_add(1));
        }
        if invocations.is_empty() && self.diagnostics.len() == before {
            self.error(
                "T106",
                format!("{what} answers no invocation"),
                node.span,
                "empty",
                "add `\"0\": {\"Return\": …}` or `\"0\": {\"Throw\": {\"Error\": …, \"Cause\": …}}`"
                    .into(),
            );
        }
        (self.diagnostics.len() == before).then(|| MockedResponse {
            invocations: invocations.into_iter().map(|(i, _)| i).collect(),
        })
    }

    fn answer(
        &mut self,
        what: &str,
        key: &str,
        value: &Value,
        node: &locate::Node,
    ) -> Option<Answer> {
        let place = format!("invocation `{key}` of {what}");
        let object = self.object(value, node, &place)?;
        self.unknown_keys(node, &["Return", "Throw"], &place);
        match (object.get("Return"), object.get("Throw")) {
            (Some(value), None) => Some(Answer::Return(Arc::new(value.clone()))),
            (None, Some(throw)) => {
                let throw_node = node.child("Throw");
                let throw_what = format!("`Throw` of {place}");
                let fields = self.object(throw, throw_node, &throw_what)?;
                self.unknown_keys(throw_node, &["Error", "Cause"], &throw_what);
                let mut text = |field: &str| match fields.get(field).and_then(Value::as_str) {
                    Some(s) => Some(s.to_string()),
                    None => {
                        self.error(
                            "T102",
                            format!("{throw_what} needs `{field}` as a string"),
                            throw_node.span,
                            &format!("`{field}` is missing or not a string"),
                            "write `\"Throw\": {\"Error\": \"<name>\", \"Cause\": \"<text>\"}` (AWS requires both)".into(),
                        );
                        None
                    }
                };
                let error = text("Error");
                let cause = text("Cause");
                Some(Answer::Throw {
                    error: error?,
                    cause: cause?,
                })
            }
            (some_return, _) => {
                let both = some_return.is_some();
                self.error(
                    "T107",
                    if both {
                        format!("{place} has both `Return` and `Throw`")
                    } else {
                        format!("{place} has neither `Return` nor `Throw`")
                    },
                    node.span,
                    if both {
                        "one answer per invocation"
                    } else {
                        "no answer"
                    },
                    "write exactly one: `{\"Return\": …}` for a result, `{\"Throw\": {\"Error\": …, \"Cause\": …}}` for an error".into(),
                );
                None
            }
        }
    }
}

fn responses_of(value: &Value) -> Vec<&str> {
    value["MockedResponses"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// `"N"` or `"A-B"` (decimal, `A <= B`) as an inclusive range.
fn invocation_range(key: &str) -> Option<(u64, u64)> {
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match key.split_once('-') {
        None => number(key).map(|n| (n, n)),
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            (a <= b).then_some((a, b))
        }
    }
}

fn list(known: &[&str]) -> String {
    known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

#[cfg(test)]
mod tests;
