//! Hand-written ASL documents for the conformance test: `tests/asl/<name>.json`, each one state
//! machine with its cases, exercising what compiled flows do not generate (intrinsics, Retry
//! backoff, Catch with ResultPath, Distributed Map failure thresholds, Parallel errors, every
//! Choice operator, the context object…):
//!
//! ```json
//! { "about": "what the document covers",
//!   "definition": { "StartAt": …, "States": … },      // Lambda ARNs as "${unit:Echo}"
//!   "cases": [
//!     { "name": "…", "input": …,
//!       "output": …  |  "error": "E", "cause": "C",    // what AWS Step Functions does
//!       "states": ["A", "B"],                          // the states entered, in order
//!       "lambda": [{"payload": …} | {"error": "E", "cause": "C"}, …],   // queued answers
//!       "engine": {"elapsed_seconds": 2.5},            // on the virtual clock
//!       "moto": {…}, "alsf": {…} } ] }                  // see `Record`
//! ```
//!
//! A Lambda answer may carry `"delay_seconds"`. Without queued answers (or once they are
//! used up) the Lambdas echo their payload, as moto's Lambda does without Docker.

use crate::corpus::Expect;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Doc {
    pub name: String,
    pub about: String,
    pub definition: Value,
    pub cases: Vec<Case>,
}

pub struct Case {
    pub name: String,
    pub input: Value,
    pub expect: Expect,
    pub states: Vec<String>,
    pub lambda: Vec<Value>,
    /// Seconds the execution takes on the engine's virtual clock, when the case says.
    pub elapsed_seconds: Option<f64>,
    pub moto: Record,
    pub alsf: Record,
}

/// How one third-party interpreter is judged on a case.
///
/// - absent: it must do what AWS does (status, output, error, cause, states entered);
/// - `{"skip": "why"}`: it cannot run the case (moto's Lambda cannot fail or be slow);
/// - a divergence: `{"why", "aws_doc", …what it answers instead}` with any of `status`,
///   `output` (aws-local-stepfunctions) or `raw_output` (moto: DescribeExecution's text),
///   `error`, `cause`, `states`. The test checks it still answers exactly that, and that
///   every aspect not recorded still agrees with AWS (unless the recorded status differs,
///   which makes the rest moot); a fixed interpreter fails the test until the record goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Agrees,
    Skip(String),
    Diverges(Value),
}

impl Record {
    /// Reads `value` (the case's `moto`/`alsf` entry, or the corpus's `moto` one), panicking
    /// with `what` on a malformed record.
    pub fn parse(value: Option<&Value>, what: &str) -> Record {
        let Some(v) = value else {
            return Record::Agrees;
        };
        if let Some(why) = v.get("skip") {
            let why = why.as_str().unwrap_or_default();
            assert!(!why.is_empty(), "{what}: a skip needs its reason");
            return Record::Skip(why.to_string());
        }
        for key in ["why", "aws_doc"] {
            assert!(
                v.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()),
                "{what}: a divergence needs `{key}`"
            );
        }
        let doc = v["aws_doc"].as_str().unwrap_or_default();
        assert!(
            doc.starts_with("https://docs.aws.amazon.com/")
                || doc.starts_with("https://states-language.net/"),
            "{what}: cite the AWS documentation (or the ASL specification), not {doc}"
        );
        let known = [
            "why",
            "aws_doc",
            "status",
            "output",
            "raw_output",
            "error",
            "cause",
            "states",
        ];
        for key in v
            .as_object()
            .map(|o| o.keys().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            assert!(
                known.contains(&key.as_str()),
                "{what}: unknown divergence field `{key}`"
            );
        }
        Record::Diverges(v.clone())
    }

    pub fn is_skip(&self) -> bool {
        matches!(self, Record::Skip(_))
    }
}

fn asl_dir() -> PathBuf {
    super::repo_root().join("tests/asl")
}

/// Every document under `tests/asl`, sorted by name.
pub fn load() -> Vec<Doc> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(asl_dir())
        .expect("tests/asl exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.iter().map(|p| load_doc(p)).collect()
}

fn load_doc(path: &Path) -> Doc {
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let definition = doc
        .get("definition")
        .cloned()
        .unwrap_or_else(|| panic!("{name}: no definition"));
    let cases: Vec<Case> = doc["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no cases"))
        .iter()
        .map(|c| parse_case(c, &name))
        .collect();
    assert!(!cases.is_empty(), "{name}: no cases");
    Doc {
        about: doc["about"].as_str().unwrap_or_default().to_string(),
        name,
        definition,
        cases,
    }
}

fn parse_case(c: &Value, doc: &str) -> Case {
    let name = c["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{doc}: a case without a name"))
        .to_string();
    let what = format!("tests/asl/{doc}.json, case {name}");
    let expect = match (c.get("output"), c.get("error")) {
        (Some(v), None) => Expect::Output(v.clone()),
        (None, Some(Value::String(e))) => Expect::Failed {
            error: e.clone(),
            cause: c.get("cause").and_then(Value::as_str).map(str::to_string),
        },
        _ => panic!("{what}: needs exactly one of `output` and `error`"),
    };
    let states = c["states"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: needs `states`, the states entered"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{what}: state names are strings"))
                .to_string()
        })
        .collect();
    let lambda: Vec<Value> = c
        .get("lambda")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for answer in &lambda {
        assert!(
            answer.get("payload").is_some() != answer.get("error").is_some(),
            "{what}: a Lambda answer is {{\"payload\": …}} or {{\"error\": …, \"cause\": …}}"
        );
    }
    let moto = Record::parse(c.get("moto"), &format!("{what}, moto"));
    let needs_moto_skip = lambda
        .iter()
        .any(|a| a.get("error").is_some() || a.get("delay_seconds").is_some());
    assert!(
        !needs_moto_skip || moto.is_skip(),
        "{what}: moto's Lambda can neither fail nor be slow; record a moto skip"
    );
    Case {
        input: c.get("input").cloned().unwrap_or(Value::Null),
        expect,
        states,
        lambda,
        elapsed_seconds: c
            .get("engine")
            .and_then(|e| e.get("elapsed_seconds"))
            .and_then(Value::as_f64),
        moto,
        alsf: Record::parse(c.get("alsf"), &format!("{what}, alsf")),
        name,
    }
}

/// The `${unit:NAME}` placeholders anywhere in `doc` (a `Resource` or a `FunctionName`).
pub fn units(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_strings(doc, &mut |s| {
        if let Some(unit) = s.strip_prefix("${unit:").and_then(|r| r.strip_suffix('}')) {
            if !out.iter().any(|u| u == unit) {
                out.push(unit.to_string());
            }
        }
    });
    out
}

fn walk_strings(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| walk_strings(x, f)),
        Value::Object(o) => o.values().for_each(|x| walk_strings(x, f)),
        _ => {}
    }
}

/// `doc` with every `${unit:NAME}` string replaced by `arns[NAME]`; panics on an unknown unit.
pub fn resolve(doc: &Value, arns: &BTreeMap<String, String>) -> Value {
    match doc {
        Value::String(s) => match s.strip_prefix("${unit:").and_then(|r| r.strip_suffix('}')) {
            Some(unit) => Value::String(
                arns.get(unit)
                    .unwrap_or_else(|| panic!("no Lambda for unit {unit}"))
                    .clone(),
            ),
            None => doc.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve(x, arns)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), resolve(x, arns)))
                .collect(),
        ),
        _ => doc.clone(),
    }
}

/// Whether `doc` runs anything concurrently (a Parallel or a Map state), so that the
/// interleaving of entered states may differ from run to run.
pub fn has_concurrency(doc: &Value) -> bool {
    match doc {
        Value::Object(o) => {
            matches!(
                o.get("Type").and_then(Value::as_str),
                Some("Parallel" | "Map")
            ) || o.values().any(has_concurrency)
        }
        Value::Array(a) => a.iter().any(has_concurrency),
        _ => false,
    }
}

/// How two sequences of entered states compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatesMatch {
    Exactly,
    /// The same states the same number of times, the top-level ones in the same order: only
    /// the interleaving of concurrent branches or iterations differs.
    UpToInterleaving,
    No,
}

pub fn compare_states(definition: &Value, expected: &[String], got: &[String]) -> StatesMatch {
    if expected == got {
        return StatesMatch::Exactly;
    }
    if !has_concurrency(definition) {
        return StatesMatch::No;
    }
    let mut a = expected.to_vec();
    let mut b = got.to_vec();
    a.sort();
    b.sort();
    let top: Vec<&str> = definition["States"]
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let top_level = |s: &[String]| -> Vec<String> {
        s.iter()
            .filter(|n| top.contains(&n.as_str()))
            .cloned()
            .collect()
    };
    if a == b && top_level(expected) == top_level(got) {
        StatesMatch::UpToInterleaving
    } else {
        StatesMatch::No
    }
}

/// What one interpreter answered for one execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT`, or the harness's `NOT_CREATED`/`NOT_STARTED`/`INVALID`.
    pub status: String,
    /// The output as a JSON value (for moto: its text parsed, when it parses).
    pub output: Option<Value>,
    /// The output text as the service returned it (moto only).
    pub raw_output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub states: Vec<String>,
}

impl Observed {
    /// From a moto_driver.py answer: `output` is the text DescribeExecution returned.
    pub fn from_moto(v: &Value) -> Observed {
        let raw_output = v.get("output").and_then(Value::as_str).map(str::to_string);
        Observed {
            output: raw_output
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok()),
            raw_output,
            ..Observed::from_alsf(&without_output(v))
        }
    }

    /// From an alsf_driver.mjs answer: `output` is the JSON value itself.
    pub fn from_alsf(v: &Value) -> Observed {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Observed {
            status: s("status").unwrap_or_default(),
            output: v.get("output").cloned(),
            raw_output: None,
            error: s("error"),
            cause: s("cause"),
            states: v
                .get("states")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Whether status, output, error and cause are what AWS gives for `expect` (the cause
    /// only when the case names one).
    pub fn matches(&self, expect: &Expect) -> bool {
        match expect {
            Expect::Output(v) => self.status == "SUCCEEDED" && self.output.as_ref() == Some(v),
            Expect::Failed { error, cause } => {
                self.status == "FAILED"
                    && self.error.as_deref() == Some(error.as_str())
                    && (cause.is_none() || self.cause == *cause)
            }
        }
    }

    /// This observation as a divergence record (what to paste into a case when an
    /// interpreter is shown to be wrong).
    pub fn as_record(&self, raw: bool) -> Value {
        let mut r = serde_json::Map::new();
        r.insert("status".into(), Value::String(self.status.clone()));
        if raw {
            if let Some(o) = &self.raw_output {
                r.insert("raw_output".into(), Value::String(o.clone()));
            }
        } else if let Some(o) = &self.output {
            r.insert("output".into(), o.clone());
        }
        if let Some(e) = &self.error {
            r.insert("error".into(), Value::String(e.clone()));
        }
        if let Some(c) = &self.cause {
            r.insert("cause".into(), Value::String(c.clone()));
        }
        r.insert("states".into(), Value::from(self.states.clone()));
        r.insert("why".into(), Value::String("…".into()));
        r.insert(
            "aws_doc".into(),
            Value::String("https://docs.aws.amazon.com/…".into()),
        );
        Value::Object(r)
    }
}

fn without_output(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("output");
    }
    v
}

/// Judges one observation of a third-party interpreter: `Ok(None)` when it does what AWS
/// does, `Ok(Some(note))` for a recorded divergence that still holds, `Err` otherwise.
/// `states` are the expected entered states (`None`: not checked).
pub fn judge(
    definition: &Value,
    expect: &Expect,
    states: Option<&[String]>,
    record: &Record,
    got: &Observed,
) -> Result<Option<String>, String> {
    let states_ok =
        |expected: &[String]| compare_states(definition, expected, &got.states) != StatesMatch::No;
    let agrees = got.matches(expect) && states.is_none_or(states_ok);
    let record = match record {
        Record::Agrees => {
            return if agrees {
                Ok(None)
            } else {
                Err(format!(
                    "expected {expect:?} entering {states:?}, got {got:?}"
                ))
            }
        }
        Record::Skip(why) => return Ok(Some(format!("skipped: {why}"))),
        Record::Diverges(r) => r,
    };
    let mut problems = Vec::new();
    let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(status) = text("status") {
        if status != got.status {
            problems.push(format!("status: recorded {status}, now {}", got.status));
        }
    }
    for (key, actual) in [
        ("raw_output", &got.raw_output),
        ("error", &got.error),
        ("cause", &got.cause),
    ] {
        if record.get(key).is_some() && text(key) != *actual {
            problems.push(format!("{key}: recorded {:?}, now {actual:?}", text(key)));
        }
    }
    if let Some(output) = record.get("output") {
        if got.output.as_ref() != Some(output) {
            problems.push(format!("output: recorded {output}, now {:?}", got.output));
        }
    }
    if let Some(recorded) = record.get("states") {
        let recorded: Vec<String> = serde_json::from_value(recorded.clone()).unwrap_or_default();
        if compare_states(definition, &recorded, &got.states) == StatesMatch::No {
            problems.push(format!(
                "states: recorded {recorded:?}, now {:?}",
                got.states
            ));
        }
    }
    // What the record does not mention must still be what AWS does, unless the record
    // changes the status (a failure instead of a success has no output to compare).
    let aws_status = match expect {
        Expect::Output(_) => "SUCCEEDED",
        Expect::Failed { .. } => "FAILED",
    };
    if text("status").is_none_or(|s| s == aws_status) {
        match expect {
            Expect::Output(v) => {
                if record.get("output").is_none()
                    && record.get("raw_output").is_none()
                    && got.output.as_ref() != Some(v)
                {
                    problems.push(format!(
                        "output (not recorded): AWS {v}, now {:?}",
                        got.output
                    ));
                }
            }
            Expect::Failed { error, cause } => {
                if record.get("error").is_none() && got.error.as_deref() != Some(error.as_str()) {
                    problems.push(format!(
                        "error (not recorded): AWS {error}, now {:?}",
                        got.error
                    ));
                }
                // A recorded error of its own comes with a cause of its own.
                let own_error = record.get("error").is_some();
                if !own_error
                    && record.get("cause").is_none()
                    && cause.is_some()
                    && got.cause != *cause
                {
                    problems.push(format!(
                        "cause (not recorded): AWS {cause:?}, now {:?}",
                        got.cause
                    ));
                }
            }
        }
        if let Some(expected) = states {
            if record.get("states").is_none() && !states_ok(expected) {
                problems.push(format!(
                    "states (not recorded): AWS {expected:?}, now {:?}",
                    got.states
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "the recorded divergence no longer holds: {}; full outcome {got:?}",
            problems.join("; ")
        ));
    }
    if agrees {
        return Err("now behaves like AWS here: remove the divergence record".into());
    }
    Ok(Some(format!(
        "{} ({})",
        record["why"].as_str().unwrap_or_default(),
        record["aws_doc"].as_str().unwrap_or_default()
    )))
}
