//! Running one case on the engine and judging what happened against what the case expects.
//!
//! Time: the engine's waits, retry delays and timeouts use `tokio::time`. Run mocked cases on
//! [`virtual_runtime`] (a current-thread runtime whose clock is paused and jumps ahead when
//! nothing else can run), so a case with a one-hour `Wait` or a retry backing off for minutes
//! ends at once, with the history's timestamps still an hour apart. Integration cases
//! (`real: true`, functions running as processes) need a normal runtime: on a paused clock a
//! task timeout would fire while a process is still working.
//!
//! The verdict: `Error` when the mocks reported problems (the case cannot run as written:
//! a function neither mocked nor real, a list of answers used up), even if a `catch` swallowed
//! the error they answered; otherwise `Failed` with one problem line per mismatch (status,
//! output, error, cause, calls, path), or `Passed`.

mod diff;

pub use diff::unified as unified_diff;

use crate::cases::Case;
use crate::mock::FunctionMocks;
use crate::report::{CaseResult, Verdict};
use crate::snapshot::Snapshots;
use flowctl_engine::{execute, Execution, ExecutionOptions, Invoker, StateMachine, Status};
use flowctl_lang::asl::to_pretty_json;
use serde_json::Value;
use std::time::Instant;

/// The mocks of a case as `run_case` reads them: an `Invoker` that also tells which functions
/// were called and what went wrong with the case itself.
pub trait CaseMocks: Invoker {
    /// The functions called, in order (every attempt); empty if not tracked.
    fn calls(&self) -> Vec<String>;
    /// Problems of the case (not of the flow); any makes the verdict `Error`.
    fn problems(&self) -> Vec<String>;
}

impl CaseMocks for FunctionMocks {
    fn calls(&self) -> Vec<String> {
        FunctionMocks::calls(self)
    }

    fn problems(&self) -> Vec<String> {
        FunctionMocks::problems(self)
    }
}

/// Where a case comes from and the snapshot store of its file.
pub struct RunContext<'a> {
    /// The test file as the user would open it (for the report).
    pub file: &'a str,
    /// The flow (for the report).
    pub flow: &'a str,
    /// The file's snapshots (`Snapshots::new()` when there is no snapshot file yet).
    pub snapshots: &'a mut Snapshots,
    /// `flowctl test --update`: a case with `snapshot: true` records its output (when the
    /// execution succeeded) instead of comparing it.
    pub update: bool,
    /// The case runs on [`virtual_runtime`] (recorded in the `ExecutionStarted` event).
    pub virtual_time: bool,
}

/// A current-thread runtime with its clock paused (`tokio::time::pause`): waits and retry
/// delays take no time. For mocked cases; integration cases need a normal runtime.
pub fn virtual_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
}

/// Runs `case` on `machine` with `mocks` (e.g. [`FunctionMocks::for_case`]) and judges it.
/// Call it inside [`virtual_runtime`] for mocked cases (the execution is then marked
/// `virtual_time`). The execution is returned too (coverage, `--export`).
pub async fn run_case<M: CaseMocks>(
    machine: &StateMachine,
    case: &Case,
    mocks: &M,
    context: &mut RunContext<'_>,
) -> (CaseResult, Execution) {
    let started = Instant::now();
    let options = ExecutionOptions {
        name: execution_name(&case.name),
        history: true,
        virtual_time: context.virtual_time,
    };
    let execution = execute(machine, case.input.clone(), mocks, &options).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut result = judge(
        case,
        &execution,
        mocks.calls(),
        mocks.problems(),
        context.snapshots,
        context.update,
    );
    result.file = context.file.to_string();
    result.flow = context.flow.to_string();
    result.seconds = seconds;
    (result, execution)
}

/// A Step Functions execution name from a case name: at most 80 characters, no whitespace,
/// brackets, wildcards, `"#%\^|~`$&,;:/` or control characters (each becomes `-`).
pub fn execution_name(case: &str) -> String {
    let name: String = case
        .chars()
        .map(|c| {
            let forbidden =
                c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
            if forbidden {
                '-'
            } else {
                c
            }
        })
        .take(80)
        .collect();
    if name.is_empty() {
        "case".to_string()
    } else {
        name
    }
}

/// The verdict of `case` on an execution that already ran (what `run_case` does after the
/// run): `calls` and `problems` from its mocks; a `snapshot: true` case compares with (or,
/// under `update`, records into) `snapshots`. `file`, `flow` and `seconds` are left empty.
pub fn judge(
    case: &Case,
    execution: &Execution,
    calls: Vec<String>,
    problems: Vec<String>,
    snapshots: &mut Snapshots,
    update: bool,
) -> CaseResult {
    let output = execution.output.as_deref().cloned();
    let error = execution.error.as_ref().map(|e| e.error.clone());
    let cause = execution.error.as_ref().map(|e| e.cause.clone());
    let path = execution.entered_states();
    let mut result = CaseResult {
        file: String::new(),
        flow: String::new(),
        case: case.name.clone(),
        verdict: Verdict::Passed,
        problems: Vec::new(),
        diff: String::new(),
        status: execution.status.as_str().to_string(),
        output,
        error,
        cause,
        failed_state: execution.failed_state.clone(),
        calls,
        path,
        seconds: 0.0,
        trace: String::new(),
    };
    if !problems.is_empty() {
        result.verdict = Verdict::Error;
        result.problems = problems;
    } else {
        compare(case, execution, &mut result, snapshots, update);
        if !result.problems.is_empty() {
            result.verdict = Verdict::Failed;
        }
    }
    if result.verdict != Verdict::Passed {
        result.trace = flowctl_engine::trace::timeline(&execution.history, false);
    }
    result
}

fn compare(
    case: &Case,
    execution: &Execution,
    result: &mut CaseResult,
    snapshots: &mut Snapshots,
    update: bool,
) {
    let expect = &case.expect;
    let problems = &mut result.problems;
    let succeeded = execution.status == Status::Succeeded;
    if expect.expects_failure() {
        if succeeded {
            problems.push(match &expect.error {
                Some(error) => {
                    format!("the execution succeeded; the case expects it to fail with `{error}`")
                }
                None => "the execution succeeded; the case expects it to fail".to_string(),
            });
        } else {
            let actual = execution.error.as_ref();
            if let Some(expected) = &expect.error {
                let found = actual.map_or("", |e| e.error.as_str());
                if found != expected {
                    problems.push(format!(
                        "the execution failed with `{found}`{}; the case expects `{expected}`",
                        in_state(execution)
                    ));
                }
            }
            if let Some(expected) = &expect.cause {
                let found = actual.map_or("", |e| e.cause.as_str());
                if !cause_matches(expected, found) {
                    problems.push(format!(
                        "cause: expected {}, found {}",
                        quoted(expected),
                        quoted(found)
                    ));
                }
            }
        }
    } else if !succeeded && !expect.any_outcome {
        let (error, cause) = execution
            .error
            .as_ref()
            .map_or(("", ""), |e| (e.error.as_str(), e.cause.as_str()));
        problems.push(format!(
            "the execution {} with `{error}`{}{}; the case expects it to succeed",
            if execution.status == Status::TimedOut {
                "timed out"
            } else {
                "failed"
            },
            in_state(execution),
            if cause.is_empty() {
                String::new()
            } else {
                format!(": {}", shorten(cause, 200))
            }
        ));
    } else {
        let actual = execution.output.as_deref().unwrap_or(&Value::Null);
        if let Some(expected) = &expect.output {
            if !json_eq(expected, actual) {
                problems.push("the output differs from `expect.output` (see the diff)".into());
                result.diff = unified_diff(&to_pretty_json(expected), &to_pretty_json(actual));
            }
        }
        if case.snapshot {
            if update {
                snapshots.record(&case.name, actual.clone());
            } else {
                match snapshots.get(&case.name) {
                    None => problems
                        .push("no snapshot recorded: run `flowctl test --update`".to_string()),
                    Some(expected) if !json_eq(expected, actual) => {
                        problems.push(
                            "the output differs from its snapshot (see the diff; `flowctl test --update` records the new one)"
                                .into(),
                        );
                        result.diff =
                            unified_diff(&to_pretty_json(expected), &to_pretty_json(actual));
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(expected) = &expect.output_includes {
            let before = problems.len();
            includes(expected, actual, &mut String::new(), problems, 0);
            if problems.len() > before {
                if problems.len() - before > MAX_PLACES {
                    let more = problems.len() - before - MAX_PLACES;
                    problems.truncate(before + MAX_PLACES);
                    problems.push(format!("… and {more} more differences in the output"));
                }
                if result.diff.is_empty() {
                    // Only the parts `output_includes` names: the rest of the output is noise.
                    let shown = project(actual, expected, 0);
                    result.diff = unified_diff(&to_pretty_json(expected), &to_pretty_json(&shown));
                }
            }
        }
    }
    if let Some(expected) = &expect.calls {
        if let Some(line) = sequence_problem("functions called", expected, &result.calls) {
            problems.push(line);
        }
    }
    if let Some(expected) = &expect.path {
        if let Some(line) = sequence_problem("states entered", expected, &result.path) {
            problems.push(line);
        }
    }
}

/// At most this many places listed for one `output_includes`.
const MAX_PLACES: usize = 20;

fn in_state(execution: &Execution) -> String {
    match &execution.failed_state {
        Some(state) => format!(" in state `{state}`"),
        None => String::new(),
    }
}

/// The cause matches exactly, or it is a Lambda error object (what a function's error
/// becomes, e.g. a mocked `throw`) whose `errorMessage` matches.
fn cause_matches(expected: &str, found: &str) -> bool {
    if expected == found {
        return true;
    }
    if !found.starts_with('{') {
        return false;
    }
    serde_json::from_str::<Value>(found)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(|m| m == expected)
        })
        .unwrap_or(false)
}

fn quoted(text: &str) -> String {
    shorten(&Value::String(text.to_string()).to_string(), 200)
}

/// At most `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A value as compact JSON for a problem line, cut short.
fn compact(value: &Value) -> String {
    shorten(&value.to_string(), 80)
}

/// JSON equality where numbers are compared by value (`2` equals `2.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                    (Some(i), Some(j), _, _) => i == j,
                    (_, _, Some(i), Some(j)) => i == j,
                    _ => x.as_f64() == y.as_f64(),
                }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn place(pointer: &str) -> String {
    if pointer.is_empty() {
        "the output".to_string()
    } else {
        format!("the output at `{pointer}`")
    }
}

/// Whether `actual` includes `expected` (objects: at least its keys; lists: same length, each
/// item included; scalars: equal); each place that does not is one problem, by JSON pointer.
fn includes(
    expected: &Value,
    actual: &Value,
    pointer: &mut String,
    problems: &mut Vec<String>,
    depth: usize,
) {
    if problems.len() > MAX_PLACES * 4 || depth > flowctl_protocol::MAX_JSON_DEPTH {
        return;
    }
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match have.get(key) {
                    Some(found) => includes(value, found, pointer, problems, depth + 1),
                    None => problems.push(format!(
                        "{} is missing (expected {})",
                        place(pointer),
                        compact(value)
                    )),
                }
                pointer.truncate(len);
            }
        }
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                problems.push(format!(
                    "{} has {} items; the case expects {}",
                    place(pointer),
                    have.len(),
                    want.len()
                ));
                return;
            }
            for (index, (value, found)) in want.iter().zip(have).enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                includes(value, found, pointer, problems, depth + 1);
                pointer.truncate(len);
            }
        }
        (Value::Object(_) | Value::Array(_), _) => problems.push(format!(
            "{} is {}; the case expects {}",
            place(pointer),
            crate::kind(actual),
            crate::kind(expected)
        )),
        _ => {
            if !json_eq(expected, actual) {
                problems.push(format!(
                    "{}: expected {}, found {}",
                    place(pointer),
                    compact(expected),
                    compact(actual)
                ));
            }
        }
    }
}

/// `actual` cut to the shape of `expected` (the keys it names, in its order), for a diff of
/// only what `output_includes` checks.
fn project(actual: &Value, expected: &Value, depth: usize) -> Value {
    if depth > flowctl_protocol::MAX_JSON_DEPTH {
        return actual.clone();
    }
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => Value::Object(
            want.iter()
                .filter_map(|(key, value)| {
                    have.get(key)
                        .map(|found| (key.clone(), project(found, value, depth + 1)))
                })
                .collect(),
        ),
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => Value::Array(
            want.iter()
                .zip(have)
                .map(|(value, found)| project(found, value, depth + 1))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

/// One line saying where two name lists first differ, or `None` when equal.
fn sequence_problem(what: &str, expected: &[String], actual: &[String]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let first = expected
        .iter()
        .zip(actual)
        .take_while(|(a, b)| a == b)
        .count();
    let at = match (expected.get(first), actual.get(first)) {
        (Some(want), Some(got)) => format!("#{}: expected `{want}`, found `{got}`", first + 1),
        (Some(want), None) => format!("#{}: expected `{want}`, found nothing more", first + 1),
        (None, Some(got)) => format!("#{}: `{got}` more than expected", first + 1),
        (None, None) => String::new(),
    };
    let list = |names: &[String]| shorten(&format!("[{}]", names.join(", ")), 400);
    Some(format!(
        "{what} differ at {at} (expected {}, found {})",
        list(expected),
        list(actual)
    ))
}

#[cfg(test)]
mod tests;
