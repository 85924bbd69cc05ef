//! Fusion keeps meaning: every flow of the corpus (`tests/corpus`) and of the examples, compiled
//! with one Lambda per function and no fusion, and compiled with the colocation plan and its
//! fused chains, gives the same status, output, error and cause — on flowctl's engine and on
//! moto's interpreter.
//!
//! The functions: the corpus's are echoes; the booking example's are its real functions
//! (`booking_functions::registry()`), in-process. On the engine, units are served by
//! `engine::Units` (the shim's envelope and chain code). moto's Lambda cannot run code
//! without Docker, so each execution's Lambda answers are the ones the engine's run of the
//! same document recorded, queued *keyed by request* (`tests/support/moto_server.py`): a
//! fused chain's answer on moto is what the chain gave on the engine, and moto's part is
//! interpreting the document around it (Parameters, ResultSelector, the group variables, the
//! Choices). A case whose functions fail is checked on the engine only: moto's Lambda without
//! Docker cannot fail. Every fused document also passes asl-validator.

use flowctl_engine::{
    self as engine, BoxFuture, ExecutionOptions, InProcess, Invoker, TaskError, Units,
};
use flowctl_lang::asl;
use flowctl_lang::flow::{self, ir, KnownFunctions};
use flowctl_lang::manifest::{self, Manifest};
use flowctl_lang::plan::{self, Plan};
use flowctl_tests::corpus;
use flowctl_tests::moto::Moto;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const REGION: &str = "us-east-1";

/// One flow with its inputs and the functions behind it.
struct Subject {
    id: String,
    manifest: Manifest,
    ir: ir::Flow,
    inputs: Vec<(String, Value)>,
    functions: fn() -> InProcess,
}

/// What one run ended as.
#[derive(Debug, Clone, PartialEq)]
struct Ending {
    status: String,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
}

/// One invocation: the function as the document names it, the payload, the answer.
type Call = (String, Value, Result<Value, TaskError>);

/// Records every invocation a run makes.
struct Recorder<I> {
    inner: I,
    calls: Mutex<Vec<Call>>,
}

impl<I: Invoker> Invoker for Recorder<I> {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        Box::pin(async move {
            let answer = self.inner.invoke(function, payload.clone()).await;
            self.calls.lock().unwrap().push((
                function.to_string(),
                Value::clone(&payload),
                answer.clone().map(Arc::unwrap_or_clone),
            ));
            answer
        })
    }
}

fn echoes() -> InProcess {
    corpus::FUNCTIONS
        .iter()
        .fold(InProcess::new(), |inv, f| inv.sync(*f, Ok))
}

fn hotel() -> InProcess {
    let registry = Arc::new(booking_functions::registry());
    let names: Vec<String> = registry
        .describe()
        .functions
        .into_iter()
        .map(|f| f.name)
        .collect();
    names.into_iter().fold(InProcess::new(), |inv, name| {
        let registry = registry.clone();
        let key = name.clone();
        inv.function(name, move |input: Arc<Value>| {
            let registry = registry.clone();
            let key = key.clone();
            async move {
                registry
                    .call(&key, Arc::unwrap_or_clone(input))
                    .await
                    .map_err(|e| TaskError::from_lambda(e.name(), e.message()))
            }
        })
    })
}

fn corpus_manifest() -> Manifest {
    let mut yaml = format!(
        "project: fusion\nnamespace: {}\nfunctions:\n",
        corpus::NAMESPACE
    );
    for f in corpus::FUNCTIONS {
        yaml.push_str(&format!(
            "  {f}: {{ package: corpus-functions, idempotent: true }}\n"
        ));
    }
    let (m, diags) = manifest::parse(&yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    m.unwrap()
}

fn checked(src: &str, manifest: &Manifest, what: &str) -> ir::Flow {
    let (file, diags) = flow::parse(src);
    assert!(diags.is_empty(), "{what}: {diags:#?}");
    let known = KnownFunctions::new(manifest.namespace(), manifest.functions.keys().cloned());
    let (ir, diags) = flow::check(&file.unwrap(), &known);
    assert!(diags.is_empty(), "{what}: {diags:#?}");
    ir.unwrap()
}

fn subjects() -> Vec<Subject> {
    let mut out = Vec::new();
    for flow in corpus::load() {
        let manifest = corpus_manifest();
        let ir = checked(&flow.src, &manifest, &flow.name);
        out.push(Subject {
            id: format!("corpus/{}", flow.name),
            manifest,
            ir,
            inputs: flow.cases.into_iter().map(|c| (c.name, c.input)).collect(),
            functions: echoes,
        });
    }

    let path = flowctl_tests::repo_root().join("examples/booking/flowctl.yaml");
    let loaded = flowctl::project::load(&path).expect("the booking example loads");
    assert_eq!(loaded.error_count(), 0, "the booking example checks");
    let project = loaded.project.unwrap();
    let stay = |id: &str, amount: f64| {
        json!({"id": id, "nights": 2, "amount": amount, "arrival": "2025-07-12",
               "currency": "EUR", "guest": "vip-ann"})
    };
    let nights = json!(["2025-07-12", "2025-07-13"]);
    for flow in &project.flows {
        let inputs = match flow.name.as_str() {
            "Booking" => vec![
                ("confirmed".into(), stay("b-100", 240.0)),
                ("no rooms".into(), stay("full-7", 240.0)),
                ("declined".into(), stay("b-101", 5000.0)),
                ("gateway down".into(), stay("flaky-3", 240.0)),
            ],
            "Reprice" => ["email", "sms", "none"]
                .into_iter()
                .map(|channel| {
                    let input = json!({"guest": "member-bo", "nights": nights, "currency": "GBP",
                                       "delay_seconds": 0, "channel": channel});
                    (channel.to_string(), input)
                })
                .collect(),
            other => panic!("examples/booking: no inputs for flow {other}; add some here"),
        };
        out.push(Subject {
            id: format!("booking/{}", flow.name),
            manifest: project.manifest.clone(),
            ir: flow.ir.clone().expect("checked"),
            inputs,
            functions: hotel,
        });
    }
    out
}

/// The two documents of a subject, with placeholders still in them.
fn documents(s: &Subject) -> (Value, Value, Plan) {
    let planned = plan::plan(&s.manifest, &[&s.ir]);
    let baseline = plan::one_unit_per_function(&s.manifest);
    let compile = |p: &Plan, fuse: bool| {
        asl::compile(&s.ir, &p.compile_options(&s.manifest, &s.id, fuse))
            .unwrap_or_else(|d| panic!("{}: {d:#?}", s.id))
    };
    (compile(&baseline, false), compile(&planned, true), planned)
}

/// Runs a resolved document on the engine; answers its ending, its entered states and its
/// invocations.
fn run_engine(
    doc: &Value,
    input: &Value,
    units: &BTreeMap<String, Vec<String>>,
    functions: InProcess,
) -> (Ending, usize, Vec<Call>) {
    let machine = engine::load(doc).unwrap_or_else(|e| panic!("{e:#?}"));
    let invoker = Recorder {
        inner: units
            .iter()
            .fold(Units::new(functions), |u, (arn, members)| {
                u.unit(arn.clone(), members.clone())
            }),
        calls: Mutex::new(Vec::new()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let ex = runtime.block_on(engine::execute(
        &machine,
        input.clone(),
        &invoker,
        &ExecutionOptions::default(),
    ));
    let status = ex.status.as_str();
    let ending = Ending {
        status: status.into(),
        output: ex.output.clone().map(Arc::unwrap_or_clone),
        error: ex.error.as_ref().map(|e| e.error.clone()),
        cause: ex.error.as_ref().map(|e| e.cause.clone()),
    };
    let states = ex.entered_states().len();
    (ending, states, invoker.calls.into_inner().unwrap())
}

impl Ending {
    /// The same ending. A `States.Runtime` error's cause is left out: it names the path Step
    /// Functions could not read, the missing one unfused and `complete` fused (whose text
    /// shows the chain's answer naming the missing path); ARCHITECTURE.md, "Fusion".
    fn same_as(&self, other: &Ending) -> bool {
        let runtime = self.error.as_deref() == Some("States.Runtime");
        self.status == other.status
            && self.output == other.output
            && self.error == other.error
            && (runtime || self.cause == other.cause)
    }
}

fn moto_ending(v: &Value) -> Ending {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ending {
        status: s("status").unwrap_or_default(),
        output: s("output").and_then(|o| serde_json::from_str(&o).ok()),
        error: s("error"),
        cause: s("cause"),
    }
}

#[test]
fn fused_and_unfused_flows_agree_on_the_engine_and_on_moto() {
    let subjects = subjects();
    let moto = Moto::shared();

    let mut failures = Vec::new();
    let mut machines: Vec<(String, String)> = Vec::new();
    let mut executions = Vec::new();
    // id → the engine's ending (the same for both documents once checked).
    let mut expected: BTreeMap<String, Ending> = BTreeMap::new();
    let (mut fused_flows, mut cases, mut engine_only) = (0, 0, 0);
    let (mut states_unfused, mut states_fused) = (0, 0);
    let mut validated: Vec<(String, Value)> = Vec::new();

    for (n, s) in subjects.iter().enumerate() {
        let (unfused, fused, planned) = documents(s);
        let chains = asl::fused_chains(&fused);
        if !chains.is_empty() {
            fused_flows += 1;
            validated.push((format!("fused-{}", s.id.replace('/', "-")), fused.clone()));
        }
        let baseline = plan::one_unit_per_function(&s.manifest);
        let mut all_units: BTreeSet<String> = asl::units_of(&unfused);
        all_units.extend(asl::units_of(&fused));
        let prefix = format!("fusion{n}");
        let arns = moto.lambdas(REGION, &prefix, &all_units);
        let members = |p: &Plan| -> BTreeMap<String, Vec<String>> {
            p.units
                .iter()
                .filter_map(|u| Some((arns.get(&u.name)?.clone(), u.functions.clone())))
                .collect()
        };
        let resolve = |doc: &Value| {
            asl::resolve_units(doc, |u| arns.get(u).cloned()).unwrap_or_else(|u| panic!("{u}"))
        };
        let docs = [
            ("unfused", resolve(&unfused), members(&baseline)),
            ("fused", resolve(&fused), members(&planned)),
        ];
        for (kind, doc, _) in &docs {
            machines.push((format!("{prefix}-{kind}"), doc.to_string()));
        }

        for (case, input) in &s.inputs {
            cases += 1;
            let id = format!("{}/{case}", s.id);
            let runs: Vec<_> = docs
                .iter()
                .map(|(kind, doc, units)| (kind, run_engine(doc, input, units, (s.functions)())))
                .collect();
            let (u, f) = (&runs[0].1, &runs[1].1);
            if !u.0.same_as(&f.0) {
                failures.push(format!(
                    "{id}: on the engine, unfused {:?} but fused {:?}",
                    u.0, f.0
                ));
                continue;
            }
            states_unfused += u.1;
            states_fused += f.1;
            if u.1 < f.1 {
                failures.push(format!(
                    "{id}: fusion entered more states ({} > {})",
                    f.1, u.1
                ));
            }
            let failed_calls = runs
                .iter()
                .any(|(_, (_, _, calls))| calls.iter().any(|c| c.2.is_err()));
            if failed_calls {
                engine_only += 1;
                continue;
            }
            expected.insert(id.clone(), u.0.clone());
            for (kind, (_, _, calls)) in &runs {
                let answers: Vec<Value> = calls
                    .iter()
                    .map(|(function, payload, answer)| {
                        json!({"flowctl_function": function, "flowctl_when": payload,
                               "flowctl_answer": answer.as_ref().unwrap()})
                    })
                    .collect();
                executions.push(json!({
                    "id": format!("{id}/{kind}"),
                    "machine": format!("{prefix}-{kind}"),
                    "input": input.to_string(),
                    "lambda_results": answers,
                }));
            }
        }
    }

    if let Err(report) = flowctl_tests::validate(&validated) {
        failures.push(format!("asl-validator rejected fused documents:\n{report}"));
    }
    let answered = moto.run(REGION, &machines, &executions);
    let errors = &answered["machine_errors"];
    assert!(
        errors.as_object().is_none_or(|e| e.is_empty()),
        "moto rejected state machines: {errors:#}"
    );
    for id in expected.keys() {
        let ending = |kind: &str| {
            answered["executions"]
                .get(format!("{id}/{kind}"))
                .map(moto_ending)
        };
        match (ending("unfused"), ending("fused")) {
            (Some(u), Some(f)) if u.same_as(&f) => {}
            (u, f) => failures.push(format!(
                "{id}: on moto, unfused {u:?} but fused {f:?} (the engine: {:?})",
                expected[id]
            )),
        }
    }
    eprintln!(
        "fusion: {} flows ({fused_flows} with fused chains), {cases} cases: engine fused == unfused in all, \
         moto in {} ({engine_only} engine-only: a function fails, which moto's Lambda cannot); \
         states entered {states_unfused} unfused → {states_fused} fused",
        subjects.len(),
        expected.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        fused_flows >= 8,
        "the corpus and the examples exercise fusion ({fused_flows} flows fused)"
    );
}
