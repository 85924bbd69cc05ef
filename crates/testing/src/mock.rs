//! Functions mocked by name: an `Invoker` that answers each call from a case's `mocks`, by
//! manifest function key and call number, and records the calls in order and the problems of
//! the case (a function neither mocked nor real, a list of answers used up).
//!
//! A compiled flow calls Lambda *units*, not functions: a unit serving several functions gets
//! an envelope (`{"function","payload"}`) or a fused chain (`{"chain","vars"}`).
//! [`FunctionMocks`] unwraps those with `flowctl_engine::Units` (the shim's own envelope
//! parser and chain runner), so the mocks see plain function calls and a case means the same
//! whether the plan fuses, colocates or renames units. A name that is not one of the units
//! given is taken as a function key (hand-written documents naming functions directly).
//!
//! Thread-safe: Map iterations and Parallel branches call concurrently; one `Mutex` guards the
//! per-function call counters, the call log and the problems.

use crate::cases::{Case, FunctionMock};
use flowctl_engine::{BoxFuture, Invoker, TaskError, Units};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// The error a call to a function the case does not mock answers (without a fallback).
pub const NOT_MOCKED: &str = "flowctl.NotMocked";
/// The error a call past the last answer of a list of answers gets.
pub const MOCK_EXHAUSTED: &str = "flowctl.MockExhausted";

/// A case's mocked functions, as the engine's `Invoker`.
pub struct FunctionMocks {
    answers: Arc<Answers>,
    /// The units (by name) and the envelope handling, over the same answers.
    units: Units<Shared>,
    unit_names: HashSet<String>,
}

impl FunctionMocks {
    /// `mocks`: the case's answers by function key. `units`: the plan's units as the document
    /// names them, each with the function keys it serves (empty for a document that names
    /// functions directly). `fallback`: where calls of functions without a mock go
    /// (integration cases, `real: true`), by function key with the function's own payload;
    /// `None`: such a call is a problem of the case.
    pub fn new(
        mocks: BTreeMap<String, FunctionMock>,
        units: &[(String, Vec<String>)],
        fallback: Option<Arc<dyn Invoker>>,
    ) -> FunctionMocks {
        let answers = Arc::new(Answers {
            mocks,
            fallback,
            log: Mutex::new(Log::default()),
        });
        let mut unit_invoker = Units::new(Shared(Arc::clone(&answers)));
        let mut unit_names = HashSet::with_capacity(units.len());
        for (unit, functions) in units {
            unit_invoker = unit_invoker.unit(unit.clone(), functions.clone());
            unit_names.insert(unit.clone());
        }
        FunctionMocks {
            answers,
            units: unit_invoker,
            unit_names,
        }
    }

    /// The mocks of `case` (see [`FunctionMocks::new`]); the answers are shared, not copied.
    pub fn for_case(
        case: &Case,
        units: &[(String, Vec<String>)],
        fallback: Option<Arc<dyn Invoker>>,
    ) -> FunctionMocks {
        FunctionMocks::new(case.mocks.clone(), units, fallback)
    }

    /// The functions called so far, in call order (every attempt, fallback calls included).
    pub fn calls(&self) -> Vec<String> {
        self.answers.log().calls.clone()
    }

    /// What makes the case wrong rather than the flow (its verdict `Error`), one line each,
    /// in the order they first happened: functions called without a mock (and no fallback),
    /// lists of answers used up.
    pub fn problems(&self) -> Vec<String> {
        let log = self.answers.log();
        log.problems
            .iter()
            .map(|(function, problem)| {
                let called = log.counts.get(function).copied().unwrap_or(0);
                match problem {
                    Problem::NotMocked => format!(
                        "`{function}` was called but the case does not mock it: add `{function}:` under `mocks` (`{{ return: … }}` or `{{ throw: {{ error: …, cause: … }} }}`), or set `real: true`"
                    ),
                    Problem::Exhausted(mocked) => format!(
                        "`{function}` was called {} but the case mocks {}: add answers to its list (or `times:`), or give one answer for every call",
                        times(called),
                        plural(*mocked, "call")
                    ),
                }
            })
            .collect()
    }

    fn is_unit(&self, name: &str) -> bool {
        !self.unit_names.is_empty()
            && (self.unit_names.contains(name) || self.unit_names.contains(short_name(name)))
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn times(n: u64) -> String {
    match n {
        1 => "once".to_string(),
        2 => "twice".to_string(),
        n => format!("{n} times"),
    }
}

impl Invoker for FunctionMocks {
    /// Mocks by function, never by state: the engine need not build each call's parameters
    /// to ask.
    fn mocks_states(&self) -> bool {
        false
    }

    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        if self.is_unit(function) {
            self.units.invoke(function, payload)
        } else {
            self.answers.call(short_name(function), payload)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    NotMocked,
    /// How many calls the list answers.
    Exhausted(u64),
}

#[derive(Default)]
struct Log {
    counts: HashMap<String, u64>,
    calls: Vec<String>,
    /// One per function, in the order they first happened.
    problems: Vec<(String, Problem)>,
}

struct Answers {
    mocks: BTreeMap<String, FunctionMock>,
    fallback: Option<Arc<dyn Invoker>>,
    log: Mutex<Log>,
}

impl Answers {
    fn log(&self) -> MutexGuard<'_, Log> {
        // A panic elsewhere while holding the lock leaves the log as it was: still readable.
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn call<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        let mock = self.mocks.get(function);
        let answer = {
            let mut log = self.log();
            log.calls.push(function.to_string());
            let count = log.counts.entry(function.to_string()).or_insert(0);
            let call = *count;
            *count += 1;
            match mock {
                Some(mock) => match mock.answer(call) {
                    Some(answer) => Some(answer.result()),
                    None => {
                        let mocked = mock.calls().unwrap_or(0);
                        if !log.problems.iter().any(|(f, _)| f == function) {
                            log.problems
                                .push((function.to_string(), Problem::Exhausted(mocked)));
                        }
                        Some(Err(TaskError::new(
                            MOCK_EXHAUSTED,
                            format!(
                                "{function} was called {} times; the case mocks {}",
                                call + 1,
                                plural(mocked, "call")
                            ),
                        )))
                    }
                },
                None if self.fallback.is_some() => None,
                None => {
                    if !log.problems.iter().any(|(f, _)| f == function) {
                        log.problems
                            .push((function.to_string(), Problem::NotMocked));
                    }
                    Some(Err(TaskError::new(
                        NOT_MOCKED,
                        format!(
                            "{function} is not mocked in this case: add `{function}:` under the case's `mocks`, or set `real: true` to run it"
                        ),
                    )))
                }
            }
        };
        match (answer, &self.fallback) {
            (Some(answer), _) => Box::pin(std::future::ready(answer)),
            (None, Some(fallback)) => fallback.invoke(function, payload),
            // Not reached: no answer only when there is a fallback.
            (None, None) => Box::pin(std::future::ready(Err(TaskError::new(
                NOT_MOCKED,
                format!("{function} is not mocked in this case"),
            )))),
        }
    }
}

/// The answers behind `Units`, which owns its inner invoker.
struct Shared(Arc<Answers>);

impl Invoker for Shared {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        self.0.call(function, payload)
    }
}

/// The function name in a Lambda ARN (`arn:aws:lambda:…:function:NAME[:qualifier]`), else
/// the name as given; as the engine's `InProcess` reads names.
fn short_name(function: &str) -> &str {
    match function.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => function,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::Answer;
    use serde_json::json;

    fn answer(value: Value) -> Answer {
        Answer::Return(Arc::new(value))
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn throw(error: &str) -> Answer {
        Answer::Throw {
            error: error.into(),
            cause: "down".into(),
        }
    }

    fn mocks() -> BTreeMap<String, FunctionMock> {
        BTreeMap::from([
            (
                "Quote".to_string(),
                FunctionMock::Always(answer(json!(120))),
            ),
            (
                "Pay".to_string(),
                FunctionMock::Calls(vec![(throw("Timeout"), 2), (answer(json!("t-1")), 1)]),
            ),
        ])
    }

    fn call(m: &FunctionMocks, f: &str, payload: Value) -> Result<Value, TaskError> {
        block_on(m.invoke(f, Arc::new(payload))).map(Arc::unwrap_or_clone)
    }

    #[test]
    fn answers_by_call_number_then_reports_the_list_used_up() {
        let m = FunctionMocks::new(mocks(), &[], None);
        assert_eq!(call(&m, "Quote", json!({})), Ok(json!(120)));
        assert_eq!(
            call(&m, "Pay", json!({})),
            Err(TaskError::from_lambda("Timeout", "down"))
        );
        assert_eq!(call(&m, "Pay", json!({})).unwrap_err().error, "Timeout");
        assert_eq!(call(&m, "Pay", json!({})), Ok(json!("t-1")));
        assert_eq!(call(&m, "Quote", json!({})), Ok(json!(120)));
        assert!(m.problems().is_empty());
        let err = call(&m, "Pay", json!({})).unwrap_err();
        assert_eq!(err.error, MOCK_EXHAUSTED);
        assert_eq!(err.cause, "Pay was called 4 times; the case mocks 3 calls");
        call(&m, "Pay", json!({})).unwrap_err();
        assert_eq!(
            m.calls(),
            ["Quote", "Pay", "Pay", "Pay", "Quote", "Pay", "Pay"]
        );
        assert_eq!(
            m.problems(),
            ["`Pay` was called 5 times but the case mocks 3 calls: add answers to its list (or `times:`), or give one answer for every call"]
        );
    }

    #[test]
    fn an_unmocked_function_is_a_problem_without_a_fallback() {
        let m = FunctionMocks::new(mocks(), &[], None);
        let err = call(&m, "arn:aws:lambda:eu-west-1:1:function:Notify", json!({})).unwrap_err();
        assert_eq!(err.error, NOT_MOCKED);
        assert!(
            err.cause.contains("add `Notify:` under the case's `mocks`"),
            "{}",
            err.cause
        );
        assert_eq!(m.calls(), ["Notify"]);
        assert_eq!(m.problems().len(), 1);
        assert!(m.problems()[0].starts_with("`Notify` was called but the case does not mock it"));
    }

    #[test]
    fn unmocked_calls_go_to_the_fallback_by_function_key() {
        let real = flowctl_engine::InProcess::new().sync("Notify", |v: Arc<Value>| {
            Ok(json!({"sent": v["to"].clone()}))
        });
        let m = FunctionMocks::new(mocks(), &[], Some(Arc::new(real)));
        assert_eq!(
            call(&m, "Notify", json!({"to": "ada"})),
            Ok(json!({"sent": "ada"}))
        );
        assert_eq!(call(&m, "Quote", json!({})), Ok(json!(120)));
        assert_eq!(m.calls(), ["Notify", "Quote"]);
        assert!(m.problems().is_empty());
    }

    #[test]
    fn units_are_unwrapped_so_mocks_see_function_calls() {
        let units = [
            (
                "reservations".to_string(),
                vec!["Quote".to_string(), "Pay".to_string()],
            ),
            ("QuoteAlone".to_string(), vec!["Quote".to_string()]),
        ];
        let m = FunctionMocks::new(mocks(), &units, None);
        let envelope = json!({"function": "Quote", "payload": {"n": 1}});
        assert_eq!(call(&m, "reservations", envelope), Ok(json!(120)));
        assert_eq!(
            call(
                &m,
                "arn:aws:lambda:eu-west-1:1:function:QuoteAlone",
                json!({})
            ),
            Ok(json!(120))
        );
        let chain = json!({
            "chain": [
                {"function": "Quote", "payload": {}, "bind": "a"},
                {"function": "Quote", "payload": {"$var": "a"}, "bind": "b"}
            ],
            "vars": {}
        });
        assert_eq!(
            call(&m, "reservations", chain),
            Ok(json!({"results": {"a": 120, "b": 120}, "complete": true}))
        );
        assert_eq!(m.calls(), ["Quote", "Quote", "Quote", "Quote"]);
    }

    #[test]
    fn concurrent_calls_are_all_counted() {
        let m = Arc::new(FunctionMocks::new(mocks(), &[], None));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let m = Arc::clone(&m);
                    tokio::spawn(async move {
                        let _ = m.invoke("Quote", Arc::new(json!({}))).await;
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert_eq!(m.calls().len(), 50);
    }
}
