//! Conformance of flowctl's local engine with two independent ASL interpreters: every case of
//! the hand-written documents (`tests/asl`) and of the compiled flow corpus (`tests/corpus`)
//! runs through (a) `flowctl_engine` with in-process echo Lambdas on a paused (virtual)
//! clock, (b) moto's interpreter (a port of LocalStack's), on a moto server shared by the
//! tests of this binary, and (c) aws-local-stepfunctions in one Node process per batch.
//!
//! For each case: the engine's status, output, error (and cause, when the case names one)
//! are what AWS Step Functions gives; its entered states are the case's (for compiled flows,
//! whose cases do not list them: moto's, else aws-local-stepfunctions'); moto and
//! aws-local-stepfunctions give the same, unless a divergence record of the case says
//! otherwise and cites the AWS documentation (see `flowctl_tests::asl_cases::Record`).
//! Entered states compare exactly, or, for documents with Parallel or Map states, up to the
//! interleaving of concurrent branches (same states, same counts, same top-level order).

use flowctl_engine::{self as engine, ExecutionOptions, InProcess, TaskError};
use flowctl_lang::asl;
use flowctl_tests::alsf;
use flowctl_tests::asl_cases::{self, compare_states, Observed, Record, StatesMatch};
use flowctl_tests::corpus::{self, Expect};
use flowctl_tests::moto::Moto;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REGION: &str = "us-east-1";

/// One execution to run everywhere.
struct Subject {
    /// `asl/<doc>/<case>` or `corpus/<flow>/<case>`.
    id: String,
    /// The state machine's name on moto.
    machine: String,
    /// The document with its placeholders resolved to moto's Lambda ARNs (the same bytes run
    /// on all three interpreters).
    definition: Value,
    input: Value,
    expect: Expect,
    /// The entered states the case lists (hand-written documents).
    states: Option<Vec<String>>,
    /// Queued Lambda answers (`{"payload"}` or `{"error", "cause"}`, optional `delay_seconds`).
    lambda: Vec<Value>,
    elapsed_seconds: Option<f64>,
    moto: Record,
    alsf: Record,
}

/// What the three interpreters answered for one subject.
struct Answers {
    engine: Result<(Observed, Duration), String>,
    moto: Option<Observed>,
    alsf: Option<Observed>,
}

/// Creates one moto Lambda per unit and answers unit → ARN.
fn lambdas(units: &BTreeSet<String>) -> BTreeMap<String, String> {
    Moto::shared().lambdas(REGION, "conformance", units)
}

fn hand_written_subjects() -> Vec<Subject> {
    let docs = asl_cases::load();
    let units: BTreeSet<String> = docs
        .iter()
        .flat_map(|d| asl_cases::units(&d.definition))
        .collect();
    let arns = lambdas(&units);
    let mut out = Vec::new();
    for doc in &docs {
        let definition = asl_cases::resolve(&doc.definition, &arns);
        for case in &doc.cases {
            out.push(Subject {
                id: format!("asl/{}/{}", doc.name, case.name),
                machine: format!("asl-{}", doc.name),
                definition: definition.clone(),
                input: case.input.clone(),
                expect: case.expect.clone(),
                states: Some(case.states.clone()),
                lambda: case.lambda.clone(),
                elapsed_seconds: case.elapsed_seconds,
                moto: case.moto.clone(),
                alsf: case.alsf.clone(),
            });
        }
    }
    out
}

fn corpus_subjects() -> Vec<Subject> {
    let flows = corpus::load();
    let compiled: Vec<Value> = flows.iter().map(|f| f.compile()).collect();
    let units: BTreeSet<String> = compiled.iter().flat_map(asl::units_of).collect();
    let arns = lambdas(&units);
    let records = corpus_alsf_records();
    let mut out = Vec::new();
    for (flow, doc) in flows.iter().zip(&compiled) {
        let definition = asl::resolve_units(doc, |u| arns.get(u).cloned())
            .unwrap_or_else(|u| panic!("corpus/{}: no Lambda for unit {u}", flow.name));
        // The canonical text, as `flowctl build` writes it and moto_e2e deploys it: key order
        // shows in outputs built by Parameters, so every interpreter gets these bytes.
        let text = asl::to_pretty_json(&definition);
        assert!(
            !text.contains("${unit:"),
            "corpus/{}: a placeholder is left",
            flow.name
        );
        let definition: Value = serde_json::from_str(&text).expect("flowctl writes JSON");
        for case in &flow.cases {
            let key = format!("{}/{}", flow.name, case.name);
            out.push(Subject {
                id: format!("corpus/{key}"),
                machine: format!("corpus-{}", flow.name),
                definition: definition.clone(),
                input: case.input.clone(),
                expect: case.expect.clone(),
                states: None,
                lambda: case
                    .lambda_results
                    .iter()
                    .map(|p| json!({ "payload": p }))
                    .collect(),
                elapsed_seconds: None,
                moto: Record::parse(case.moto.as_ref(), &format!("tests/corpus/{key}, moto")),
                alsf: Record::parse(
                    records.get(&key),
                    &format!("tests/asl/corpus/alsf.json, {key}"),
                ),
            });
        }
    }
    out
}

/// aws-local-stepfunctions' divergences on corpus cases (the corpus files record moto's):
/// `tests/asl/corpus/alsf.json`, `{"<flow>/<case>": record}`.
fn corpus_alsf_records() -> BTreeMap<String, Value> {
    let path = flowctl_tests::repo_root().join("tests/asl/corpus/alsf.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
        Err(_) => BTreeMap::new(),
    }
}

/// In-process Lambdas for every ARN of `arns`: each answers the next queued answer, or
/// echoes its payload as moto's Lambda does without Docker.
fn echo_invoker(arns: &[String], answers: &[Value]) -> InProcess {
    let queue = Arc::new(Mutex::new(
        answers.iter().cloned().collect::<VecDeque<Value>>(),
    ));
    let mut invoker = InProcess::new();
    for arn in arns {
        let queue = queue.clone();
        invoker = invoker.function(arn.clone(), move |payload: Arc<Value>| {
            let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
            async move {
                let Some(next) = next else {
                    return Ok(payload);
                };
                if let Some(seconds) = next.get("delay_seconds").and_then(Value::as_f64) {
                    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                }
                match next.get("error").and_then(Value::as_str) {
                    Some(error) => Err(TaskError::new(
                        error,
                        next.get("cause")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    )),
                    None => Ok(Arc::new(
                        next.get("payload").cloned().unwrap_or(Value::Null),
                    )),
                }
            }
        });
    }
    invoker
}

/// Every Lambda ARN a resolved document names.
fn function_arns(definition: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.starts_with("arn:aws:lambda:") && !out.contains(s) => {
                out.push(s.clone())
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(definition, &mut out);
    out
}

/// Runs one subject on the engine, on a paused tokio clock: returns what it answered and how
/// long the execution took on that clock (from its first to its last history event).
fn run_engine(s: &Subject) -> Result<(Observed, Duration), String> {
    let machine = engine::load(&s.definition).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("engine::load rejected the document: {}", list.join("; "))
    })?;
    let invoker = echo_invoker(&function_arns(&s.definition), &s.lambda);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let options = ExecutionOptions {
        name: s.id.replace('/', "-"),
        history: true,
        virtual_time: true,
    };
    let execution = runtime.block_on(engine::execute(
        &machine,
        s.input.clone(),
        &invoker,
        &options,
    ));
    let elapsed = match (execution.history.first(), execution.history.last()) {
        (Some(first), Some(last)) => last
            .timestamp
            .duration_since(first.timestamp)
            .unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let status = execution.status.as_str();
    Ok((
        Observed {
            status: status.to_string(),
            output: execution.output.as_deref().cloned(),
            raw_output: None,
            error: execution.error.as_ref().map(|e| e.error.clone()),
            cause: execution.error.as_ref().map(|e| e.cause.clone()),
            states: execution.entered_states(),
        },
        elapsed,
    ))
}

/// Runs every subject on the three interpreters (moto and aws-local-stepfunctions at the
/// same time: both are other processes); prints how long each took.
fn run_all(subjects: &[Subject], label: &str) -> Vec<Answers> {
    let mut machines: BTreeMap<String, String> = BTreeMap::new();
    let mut executions = Vec::new();
    for s in subjects.iter().filter(|s| !s.moto.is_skip()) {
        machines.insert(s.machine.clone(), s.definition.to_string());
        let payloads: Vec<Value> = s.lambda.iter().map(|a| a["payload"].clone()).collect();
        executions.push(json!({ "id": s.id, "machine": s.machine, "input": s.input.to_string(), "lambda_results": payloads }));
    }
    let machines: Vec<(String, String)> = machines.into_iter().collect();
    let alsf_cases: Vec<Value> = subjects
        .iter()
        .filter(|s| !s.alsf.is_skip())
        .map(|s| json!({ "id": s.id, "definition": s.definition, "input": s.input, "lambda": s.lambda }))
        .collect();

    let ((moto, moto_time), (alsf, alsf_time)) = std::thread::scope(|scope| {
        let alsf = scope.spawn(|| {
            let started = Instant::now();
            (alsf::run(&alsf_cases), started.elapsed())
        });
        let started = Instant::now();
        let moto = Moto::shared().run(REGION, &machines, &executions);
        let moto = (moto, started.elapsed());
        (
            moto,
            alsf.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
        )
    });
    let errors = &moto["machine_errors"];
    assert!(
        errors.as_object().is_none_or(|e| e.is_empty()),
        "moto rejected state machines: {errors:#}"
    );

    let started = Instant::now();
    let engine: Vec<_> = subjects.iter().map(run_engine).collect();
    let engine_time = started.elapsed();
    eprintln!(
        "{label}: {} cases; moto {:.1}s ({} executions), aws-local-stepfunctions {:.1}s ({}), at the same time; engine {:.3}s",
        subjects.len(),
        moto_time.as_secs_f64(),
        executions.len(),
        alsf_time.as_secs_f64(),
        alsf_cases.len(),
        engine_time.as_secs_f64()
    );
    subjects
        .iter()
        .zip(engine)
        .map(|(s, engine)| Answers {
            engine,
            moto: moto["executions"].get(&s.id).map(Observed::from_moto),
            alsf: alsf.get(&s.id).map(Observed::from_alsf),
        })
        .collect()
}

/// Whether a record leaves the entered states as AWS has them (so they can serve as the
/// reference for a compiled flow's case).
fn states_trustworthy(record: &Record) -> bool {
    match record {
        Record::Agrees => true,
        Record::Skip(_) => false,
        Record::Diverges(r) => r.get("status").is_none() && r.get("states").is_none(),
    }
}

/// Judges every subject; panics listing every failure.
fn check(subjects: &[Subject], answers: &[Answers], label: &str) {
    let mut failures = Vec::new();
    let mut divergences = Vec::new();
    let mut skips = Vec::new();
    let (mut exact, mut interleaved, mut unchecked) = (0, 0, 0);
    for (s, a) in subjects.iter().zip(answers) {
        // The entered states every interpreter must show: the case's, else a third party's.
        let reference: Option<(Vec<String>, &str)> = match &s.states {
            Some(states) => Some((states.clone(), "the case")),
            None => match (&a.moto, &a.alsf) {
                (Some(m), _) if states_trustworthy(&s.moto) => Some((m.states.clone(), "moto")),
                (_, Some(n)) if states_trustworthy(&s.alsf) => {
                    Some((n.states.clone(), "aws-local-stepfunctions"))
                }
                _ => None,
            },
        };
        let expected_states = reference.as_ref().map(|(v, _)| v.as_slice());

        match &a.engine {
            Err(e) => failures.push(format!("{}: engine: {e}", s.id)),
            Ok((got, elapsed)) => {
                let mut problems = Vec::new();
                if !got.matches(&s.expect) {
                    problems.push(format!(
                        "expected {:?}, got {:?} / {:?} {:?} {:?}",
                        s.expect, got.status, got.output, got.error, got.cause
                    ));
                }
                match expected_states {
                    Some(expected) => match compare_states(&s.definition, expected, &got.states) {
                        StatesMatch::Exactly => exact += 1,
                        StatesMatch::UpToInterleaving => interleaved += 1,
                        StatesMatch::No => problems.push(format!(
                            "entered {:?}, {} entered {expected:?}",
                            got.states,
                            reference.as_ref().map(|r| r.1).unwrap_or_default()
                        )),
                    },
                    None => unchecked += 1,
                }
                if let Some(seconds) = s.elapsed_seconds {
                    if (elapsed.as_secs_f64() - seconds).abs() > 0.01 {
                        problems.push(format!(
                            "took {:.3}s on the virtual clock, expected {seconds}s",
                            elapsed.as_secs_f64()
                        ));
                    }
                }
                if !problems.is_empty() {
                    failures.push(format!("{}: engine: {}", s.id, problems.join("; ")));
                }
            }
        }

        for (who, record, got, raw) in [
            ("moto", &s.moto, &a.moto, true),
            ("aws-local-stepfunctions", &s.alsf, &a.alsf, false),
        ] {
            if let Record::Skip(why) = record {
                skips.push(format!("{}: {who}: {why}", s.id));
                continue;
            }
            let Some(got) = got else {
                failures.push(format!("{}: {who} gave no answer", s.id));
                continue;
            };
            match asl_cases::judge(&s.definition, &s.expect, expected_states, record, got) {
                Ok(None) => {}
                Ok(Some(note)) => divergences.push(format!("{}: {who}: {note}", s.id)),
                Err(e) => failures.push(format!(
                    "{}: {who}: {e}\n    as a record: {}",
                    s.id,
                    got.as_record(raw)
                )),
            }
        }
    }
    eprintln!(
        "{label}: entered states equal exactly in {exact} cases, up to the interleaving of concurrent branches in {interleaved}, unchecked in {unchecked}; {} recorded divergence(s), {} skip(s):",
        divergences.len(),
        skips.len()
    );
    for d in divergences.iter().chain(&skips) {
        eprintln!("  {d}");
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn hand_written_documents_conform() {
    let subjects = hand_written_subjects();
    assert!(subjects.len() >= 15, "at least 15 hand-written cases");
    let answers = run_all(&subjects, "tests/asl");
    check(&subjects, &answers, "tests/asl");
}

#[test]
fn compiled_flows_conform() {
    let subjects = corpus_subjects();
    let answers = run_all(&subjects, "tests/corpus");
    check(&subjects, &answers, "tests/corpus");
}
