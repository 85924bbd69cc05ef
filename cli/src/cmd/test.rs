//! `flowctl test`: a project's flow cases (`flows/<name>.test.yaml`, functions mocked by name)
//! or AWS's MockConfigFile test cases of any state machine (`--asl`), run on the embedded engine
//! on a virtual clock; the branches no case took; JSON and JUnit XML reports; `--init`,
//! `--update` and `--export-mock-config`. Exit 0 when every case passed, 1 when one failed.

use super::common::local::{local_units, read_input};
use super::common::{clean_project, compile_options, fail, find_flow, flow_report, or_exit};
use super::out::{self, note, note_raw};
use super::{Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::project::{LoadedFlow, Project};
use flowctl_engine::{self as engine, BoxFuture, Invoker, StateMachine, TaskError};
use flowctl_lang::diagnostic::{line_col, Span};
use flowctl_lang::plan::Plan;
use flowctl_lang::render::FileDiagnostics;
use flowctl_lang::{asl, routes};
use flowctl_testing::cases::{self, Case, TestFile};
use flowctl_testing::coverage::{self, Coverage};
use flowctl_testing::mock::FunctionMocks;
use flowctl_testing::mock_config;
use flowctl_testing::run::RunContext;
use flowctl_testing::snapshot::Snapshots;
use flowctl_testing::{junit, run, skeleton, CaseResult, Verdict};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flows whose cases to run (default: every flow with a test file)
    #[arg(conflicts_with_all = ["asl", "init"])]
    pub flows: Vec<String>,
    /// Run only the cases whose name contains TEXT
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Also write the results as JUnit XML to FILE (for CI test reports)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Record the actual outputs of the cases marked `snapshot: true`
    #[arg(long)]
    pub update: bool,
    /// List every branch no case took, by flow statement (the totals are always printed)
    #[arg(long)]
    pub coverage: bool,
    /// Write a test file for FLOW with one case per path through it, to fill in
    #[arg(long, value_name = "FLOW", conflicts_with_all = ["asl", "update", "export_mock_config"])]
    pub init: Option<String>,
    /// Run the test cases of a MockConfigFile (`--mock-config`) against this state machine document
    #[arg(long, value_name = "FILE", requires = "mock_config")]
    pub asl: Option<PathBuf>,
    /// AWS's MockConfigFile (Step Functions Local's mocked service integrations) for `--asl`
    #[arg(long, value_name = "FILE", requires = "asl")]
    pub mock_config: Option<PathBuf>,
    /// With --asl: the state machine's name in the MockConfigFile (default: its only one)
    #[arg(long, value_name = "NAME", requires = "asl")]
    pub state_machine: Option<String>,
    /// With --asl: the execution input of every test case: JSON text, `@file`, or `@-`
    #[arg(long, default_value = "{}", value_name = "JSON", requires = "asl")]
    pub input: String,
    /// Also write the flows' mocked cases as an AWS MockConfigFile to FILE (run them on Step Functions Local or LocalStack)
    #[arg(long, value_name = "FILE", conflicts_with = "asl")]
    pub export_mock_config: Option<PathBuf>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    if let Some(flow) = &args.init {
        return init(global, flow);
    }
    if args.asl.is_some() {
        return asl_cases(global, &args);
    }
    project_cases(global, &args)
}

/// One flow's cases and what running them needs.
struct Suite<'p> {
    flow: &'p LoadedFlow,
    /// The test file as shown to the user.
    path: PathBuf,
    file: TestFile,
    snapshots: Snapshots,
    snapshot_path: PathBuf,
    doc: Value,
    machine: StateMachine,
    sources: asl::SourceMap,
}

fn project_cases(global: &Global, args: &Args) -> anyhow::Result<Exit> {
    let project = or_exit!(clean_project(global));
    let plan = project.plan();
    let chosen: Vec<&LoadedFlow> = if args.flows.is_empty() {
        project.flows.iter().collect()
    } else {
        let mut chosen = Vec::new();
        for name in &args.flows {
            chosen.push(find_flow(&project, name)?);
        }
        chosen
    };
    let functions: Vec<String> = project.manifest.functions.keys().cloned().collect();
    let mut suites = Vec::new();
    let mut reports = Vec::new();
    let mut untested = Vec::new();
    for flow in chosen {
        let path = test_path(&flow.path);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !args.flows.is_empty() {
                    bail!(
                        "flow `{}` has no cases: {} does not exist (`flowctl test --init {}` writes one)",
                        flow.name,
                        path.display(),
                        flow.name
                    );
                }
                untested.push(flow);
                continue;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display())))
            }
        };
        let file = match cases::parse(&text, &flow.name, &functions) {
            Ok(file) => file,
            Err(diagnostics) => {
                reports.push(FileDiagnostics {
                    path: path.clone(),
                    source: text,
                    diagnostics,
                });
                continue;
            }
        };
        let snapshot_path = snapshot_path(&path);
        let snapshots = match std::fs::read_to_string(&snapshot_path) {
            Ok(text) => match Snapshots::parse(&text) {
                Ok(snapshots) => snapshots,
                Err(diagnostics) => {
                    reports.push(FileDiagnostics {
                        path: snapshot_path.clone(),
                        source: text,
                        diagnostics,
                    });
                    continue;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Snapshots::default(),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot read {}", snapshot_path.display())))
            }
        };
        let (doc, sources) = match compile(&project, &plan, flow) {
            Ok(compiled) => compiled,
            Err(report) => {
                reports.push(report);
                continue;
            }
        };
        let machine = engine::load(&doc)
            .map_err(|errors| {
                anyhow::anyhow!(
                    "flow `{}` compiled to a document the engine refuses: {}",
                    flow.name,
                    errors[0]
                )
            })?
            .with_name(flowctl_lang::manifest::names::state_machine_name(
                &project.manifest.project,
                &flow.name,
            ));
        suites.push(Suite {
            flow,
            path,
            file,
            snapshots,
            snapshot_path,
            doc,
            machine,
            sources,
        });
    }
    if !reports.is_empty() {
        return fail(global, &reports);
    }

    // Integration cases run the built units, as `invoke` does: built once, only when asked.
    let wants_real = suites
        .iter()
        .any(|s| s.file.cases.iter().any(|c| c.real && selected(args, c)));
    let real: Option<Arc<dyn Invoker>> = if wants_real {
        let processes = match local_units(global, &project, &plan, None, &[])? {
            Ok(processes) => processes,
            Err(exit) => return Ok(exit),
        };
        Some(Arc::new(ByFunction::new(&plan, processes)))
    } else {
        None
    };
    let units: Vec<(String, Vec<String>)> = plan
        .units
        .iter()
        .map(|u| (u.name.clone(), u.functions.clone()))
        .collect();

    let virtual_clock = run::virtual_runtime().context("cannot start the async runtime")?;
    let real_clock = if wants_real {
        Some(
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?,
        )
    } else {
        None
    };
    let mut results: Vec<CaseResult> = Vec::new();
    let mut coverages = Vec::new();
    let mut exported = Vec::new();
    for suite in &mut suites {
        let file_label = suite.path.display().to_string();
        let mut executions = Vec::new();
        for case in suite.file.cases.iter().filter(|c| selected(args, c)) {
            let fallback = if case.real { real.clone() } else { None };
            let mocks = FunctionMocks::for_case(case, &units, fallback);
            let input_problems = input_problems(&project, suite.flow, &case.input);
            let (runtime, virtual_time) = match (&real_clock, case.real) {
                (Some(rt), true) => (rt, false),
                _ => (&virtual_clock, true),
            };
            let mut context = RunContext {
                file: &file_label,
                flow: &suite.flow.name,
                snapshots: &mut suite.snapshots,
                update: args.update,
                virtual_time,
            };
            let (mut result, execution) =
                runtime.block_on(run::run_case(&suite.machine, case, &mocks, &mut context));
            if !input_problems.is_empty() {
                result.verdict = Verdict::Error;
                result.problems.splice(0..0, input_problems);
            }
            results.push(result);
            executions.push(execution);
        }
        coverages.push(coverage::measure(
            &suite.doc,
            &executions.iter().collect::<Vec<_>>(),
        ));
        if args.export_mock_config.is_some() {
            let cases: Vec<(String, engine::Execution)> = suite
                .file
                .cases
                .iter()
                .filter(|c| selected(args, c) && !c.real)
                .map(|c| c.name.clone())
                .zip(executions)
                .collect();
            exported.push((suite.machine.name().to_string(), cases));
        }
        if args.update {
            // Snapshots of cases no longer in the file go (only a full run knows which).
            if args.filter.is_none() {
                suite
                    .snapshots
                    .retain(suite.file.cases.iter().map(|c| c.name.as_str()));
            }
        }
        if args.update && suite.snapshots.changed() {
            std::fs::write(&suite.snapshot_path, suite.snapshots.to_text())
                .with_context(|| format!("cannot write {}", suite.snapshot_path.display()))?;
            note!("recorded {}", suite.snapshot_path.display());
        }
    }

    if let Some(path) = &args.export_mock_config {
        let mut config = serde_json::Map::new();
        for (machine, cases) in &exported {
            let cases: Vec<(String, &engine::Execution)> =
                cases.iter().map(|(n, e)| (n.clone(), e)).collect();
            merge(&mut config, mock_config::export(machine, &cases));
        }
        write_json(path, &Value::Object(config))?;
        note!("wrote {}", path.display());
    }

    let flows: Vec<FlowCoverage> = suites
        .iter()
        .zip(&coverages)
        .map(|(suite, measured)| FlowCoverage::of(suite, measured))
        .chain(
            untested
                .iter()
                .map(|flow| FlowCoverage::untested(&project, &plan, flow)),
        )
        .collect();
    let junit_coverage: Vec<(String, Coverage)> = suites
        .iter()
        .map(|s| s.path.display().to_string())
        .zip(coverages)
        .collect();
    report(global, args, &results, &flows, &junit_coverage)
}

fn selected(args: &Args, case: &Case) -> bool {
    args.filter
        .as_deref()
        .is_none_or(|text| case.name.contains(text))
}

/// `flows/booking.flow` → `flows/booking.test.yaml`.
pub fn test_path(flow_source: &Path) -> PathBuf {
    flow_source.with_extension("test.yaml")
}

/// `flows/booking.test.yaml` → `flows/booking.test.snap.json`.
fn snapshot_path(test_path: &Path) -> PathBuf {
    test_path.with_extension("snap.json")
}

/// A flow compiled as it deploys (the project's plan, fused), with unit names in place of the
/// placeholders, and the statement each state comes from.
fn compile(
    project: &Project,
    plan: &Plan,
    flow: &LoadedFlow,
) -> Result<(Value, asl::SourceMap), FileDiagnostics> {
    let Some(ir) = &flow.ir else {
        return Err(flow_report(flow, Vec::new()));
    };
    let (doc, sources) = asl::compile_with_sources(ir, &compile_options(project, plan, flow, true))
        .map_err(|diagnostics| flow_report(flow, diagnostics))?;
    let doc = asl::resolve_units(&doc, |unit| Some(unit.to_string())).unwrap_or(doc);
    Ok((doc, sources))
}

/// A case's input against the flow's declared input type, each problem at its JSON pointer.
fn input_problems(project: &Project, flow: &LoadedFlow, input: &Value) -> Vec<String> {
    let Some(ir) = &flow.ir else {
        return Vec::new();
    };
    flowctl_lang::types::validate(input, &ir.input, &project.registry.types)
        .into_iter()
        .map(|p| {
            let at = if p.pointer.is_empty() {
                "(the input)"
            } else {
                &p.pointer
            };
            format!(
                "the input does not fit the flow's input type {}: {at}: {}",
                ir.input.show(),
                p.message
            )
        })
        .collect()
}

/// Calls by function key onto the local unit processes: a unit with several functions gets
/// the `{"function", "payload"}` envelope its Lambda would get from the flow.
struct ByFunction {
    unit_of: BTreeMap<String, (String, bool)>,
    processes: flowctl::local::LocalProcesses,
}

impl ByFunction {
    fn new(plan: &Plan, processes: flowctl::local::LocalProcesses) -> ByFunction {
        let unit_of = plan
            .units
            .iter()
            .flat_map(|u| {
                let shared = u.functions.len() > 1;
                u.functions
                    .iter()
                    .map(move |f| (f.clone(), (u.name.clone(), shared)))
            })
            .collect();
        ByFunction { unit_of, processes }
    }
}

impl Invoker for ByFunction {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        let Some((unit, shared)) = self.unit_of.get(function) else {
            return Box::pin(async move {
                Err(TaskError::from_lambda(
                    engine::invoke::FUNCTION_NOT_FOUND,
                    &format!("no unit serves function {function}"),
                ))
            });
        };
        let payload = if *shared {
            Arc::new(json!({
                asl::ENVELOPE_FUNCTION: function,
                asl::ENVELOPE_PAYLOAD: Value::clone(&payload),
            }))
        } else {
            payload
        };
        self.processes.invoke(unit, payload)
    }
}

/// A flow's branches for the reports: taken or not, each at its flow statement.
struct FlowCoverage {
    flow: String,
    file: String,
    covered: usize,
    total: usize,
    /// (where: `flows/booking.flow:12:5`, the branch's label)
    missed: Vec<(String, String)>,
    /// No test file: every branch is missed.
    untested: bool,
}

impl FlowCoverage {
    fn of(suite: &Suite, measured: &Coverage) -> FlowCoverage {
        let source = suite.flow.source.as_deref().unwrap_or_default();
        let place = |state: &str| match suite.sources.get(state) {
            Some(span) => where_in(&suite.flow.path, source, *span),
            None => suite.flow.path.display().to_string(),
        };
        FlowCoverage {
            flow: suite.flow.name.clone(),
            file: suite.path.display().to_string(),
            covered: measured.covered(),
            total: measured.total(),
            missed: measured
                .missed()
                .into_iter()
                .map(|branch| (place(&branch.state), branch.label.clone()))
                .collect(),
            untested: false,
        }
    }

    fn untested(project: &Project, plan: &Plan, flow: &LoadedFlow) -> FlowCoverage {
        let (total, missed) = match compile(project, plan, flow) {
            Ok((doc, sources)) => {
                let source = flow.source.as_deref().unwrap_or_default();
                let branches = coverage::branches(&doc);
                let missed = branches
                    .iter()
                    .map(|b| {
                        let at = sources.get(&b.state).map_or_else(
                            || flow.path.display().to_string(),
                            |span| where_in(&flow.path, source, *span),
                        );
                        (at, b.label.clone())
                    })
                    .collect();
                (branches.len(), missed)
            }
            Err(_) => (0, Vec::new()),
        };
        FlowCoverage {
            flow: flow.name.clone(),
            file: test_path(&flow.path).display().to_string(),
            covered: 0,
            total,
            missed,
            untested: true,
        }
    }

    fn json(&self) -> Value {
        json!({
            "flow": self.flow,
            "file": self.file,
            "has_cases": !self.untested,
            "covered": self.covered,
            "total": self.total,
            "missed": self.missed.iter().map(|(at, label)| json!({"at": at, "branch": label})).collect::<Vec<_>>(),
        })
    }
}

/// `flows/booking.flow:12:5`.
fn where_in(path: &Path, source: &str, span: Span) -> String {
    let (line, col) = line_col(source, span.start as usize);
    format!("{}:{line}:{col}", path.display())
}

/// Prints the results (text or JSON), writes `--junit`, and says whether all passed.
fn report(
    global: &Global,
    args: &Args,
    results: &[CaseResult],
    flows: &[FlowCoverage],
    coverage: &[(String, Coverage)],
) -> anyhow::Result<Exit> {
    let passed = results
        .iter()
        .filter(|r| r.verdict == Verdict::Passed)
        .count();
    let failed = results
        .iter()
        .filter(|r| r.verdict == Verdict::Failed)
        .count();
    let errors = results
        .iter()
        .filter(|r| r.verdict == Verdict::Error)
        .count();
    if let Some(path) = &args.junit {
        let mut suites: Vec<(String, Vec<CaseResult>)> = Vec::new();
        for result in results {
            match suites.iter_mut().find(|(file, _)| file == &result.file) {
                Some((_, cases)) => cases.push(result.clone()),
                None => suites.push((result.file.clone(), vec![result.clone()])),
            }
        }
        std::fs::write(path, junit::write(&suites, coverage))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let ok = failed == 0 && errors == 0;
    match global.output {
        Output::Json => out::json(&json!({
            "ok": ok,
            "passed": passed,
            "failed": failed,
            "errors": errors,
            "cases": results,
            "coverage": flows.iter().map(FlowCoverage::json).collect::<Vec<_>>(),
        }))?,
        Output::Text => text_report(global, args, results, flows, (passed, failed, errors))?,
    }
    Ok(if ok { Exit::Success } else { Exit::Failure })
}

fn text_report(
    global: &Global,
    args: &Args,
    results: &[CaseResult],
    flows: &[FlowCoverage],
    (passed, failed, errors): (usize, usize, usize),
) -> anyhow::Result<()> {
    let color = global.color();
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    for r in results {
        let mark = match r.verdict {
            Verdict::Passed => paint("32", "ok   "),
            Verdict::Failed => paint("31", "FAIL "),
            Verdict::Error => paint("31", "ERROR"),
        };
        // What a case came to, when it is not plain success (a case may expect a failure).
        let outcome = match (&r.error, r.status.as_str()) {
            (_, "SUCCEEDED") => String::new(),
            (Some(error), status) => format!(" → {status} {error}"),
            (None, status) => format!(" → {status}"),
        };
        out::println(format_args!(
            "{mark} {} › {}{outcome} ({})",
            r.flow,
            r.case,
            duration(r.seconds)
        ))?;
    }
    for r in results.iter().filter(|r| r.verdict != Verdict::Passed) {
        out::println(format_args!("\n── {} › {} ({})", r.flow, r.case, r.file))?;
        for problem in &r.problems {
            out::println(format_args!("  {problem}"))?;
        }
        if let Some(state) = &r.failed_state {
            out::println(format_args!(
                "  the execution {} in state `{state}`: {}{}",
                r.status,
                r.error.as_deref().unwrap_or(""),
                r.cause
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ))?;
        }
        if !r.diff.is_empty() {
            out::println("  output (- expected, + actual):")?;
            for line in r.diff.lines() {
                let painted = match line.chars().next() {
                    Some('-') => paint("31", line),
                    Some('+') => paint("32", line),
                    _ => line.to_string(),
                };
                out::println(format_args!("    {painted}"))?;
            }
        }
        if !r.trace.is_empty() {
            out::println("  trace:")?;
            for line in r.trace.lines() {
                out::println(format_args!("    {line}"))?;
            }
        }
    }
    out::println("")?;
    for f in flows {
        let line = if f.untested {
            format!(
                "coverage {}: no cases ({} missing; `flowctl test --init {}` writes a skeleton)",
                f.flow, f.file, f.flow
            )
        } else {
            format!(
                "coverage {}: {}/{} branches taken",
                f.flow, f.covered, f.total
            )
        };
        out::println(line)?;
        if args.coverage || (!f.untested && f.covered < f.total && f.missed.len() <= 5) {
            for (at, label) in &f.missed {
                out::println(format_args!("  not taken: {at}: {label}"))?;
            }
        }
    }
    let verdict = if failed + errors == 0 {
        paint("32", "ok")
    } else {
        paint("31", "FAILED")
    };
    out::println(format_args!(
        "test result: {verdict}. {passed} passed; {failed} failed; {errors} could not run"
    ))?;
    Ok(())
}

fn duration(seconds: f64) -> String {
    if seconds < 0.001 {
        format!("{:.0} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

/// `--asl FILE --mock-config FILE`: every test case of the state machine, its Tasks answered
/// by the mocked responses the case names.
fn asl_cases(global: &Global, args: &Args) -> anyhow::Result<Exit> {
    let (Some(asl_path), Some(config_path)) = (&args.asl, &args.mock_config) else {
        bail!("--asl needs --mock-config FILE");
    };
    let input = read_input(&args.input)?;
    let text = std::fs::read_to_string(asl_path)
        .with_context(|| format!("cannot read {}", asl_path.display()))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON; a state machine document is a JSON object",
            asl_path.display()
        )
    })?;
    let options = engine::LoadOptions {
        any_task_resource: true,
    };
    let machine = match engine::load_with(&doc, &options) {
        Ok(machine) => machine,
        Err(errors) => {
            for e in &errors {
                note!("error: {}: {e}", asl_path.display());
            }
            bail!(
                "{} is not a valid state machine ({} problem(s)); nothing was run",
                asl_path.display(),
                errors.len()
            );
        }
    };
    let config_text = std::fs::read_to_string(config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let config_report = |diagnostics| FileDiagnostics {
        path: config_path.clone(),
        source: config_text.clone(),
        diagnostics,
    };
    let config = match mock_config::parse(&config_text) {
        Ok(config) => config,
        Err(diagnostics) => return fail(global, &[config_report(diagnostics)]),
    };
    let machines: Vec<&str> = config.state_machines.keys().map(String::as_str).collect();
    let name = match (&args.state_machine, machines.as_slice()) {
        (Some(name), _) => name.clone(),
        (None, [only]) => only.to_string(),
        (None, []) => bail!(
            "{} has no state machine under `StateMachines`",
            config_path.display()
        ),
        (None, many) => bail!(
            "{} has several state machines ({}); choose one with --state-machine NAME",
            config_path.display(),
            many.join(", ")
        ),
    };
    let problems = config.check(&name, &state_names(&doc));
    if !problems.is_empty() {
        return fail(global, &[config_report(problems)]);
    }
    let machine = machine.with_name(name.clone());
    let runtime = run::virtual_runtime().context("cannot start the async runtime")?;
    let file = config_path.display().to_string();
    let mut snapshots = Snapshots::new();
    let mut results = Vec::new();
    let mut executions = Vec::new();
    let cases = config
        .state_machines
        .get(&name)
        .map(|m| m.test_cases.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    for case_name in cases
        .iter()
        .filter(|c| args.filter.as_deref().is_none_or(|t| c.contains(t)))
    {
        let Some(mocks) = config.state_mocks(&name, case_name) else {
            continue;
        };
        // A MockConfigFile says nothing of what a case should come to: it passes when it
        // runs as written (every Task it reaches mocked); its outcome is reported.
        let mut case = Case::new(case_name.clone(), input.clone());
        case.expect.any_outcome = true;
        let mut context = RunContext {
            file: &file,
            flow: &name,
            snapshots: &mut snapshots,
            update: false,
            virtual_time: true,
        };
        let (result, execution) =
            runtime.block_on(run::run_case(&machine, &case, &mocks, &mut context));
        results.push(result);
        executions.push(execution);
    }
    let measured = coverage::measure(&doc, &executions.iter().collect::<Vec<_>>());
    let flows = vec![FlowCoverage {
        flow: name,
        file: asl_path.display().to_string(),
        covered: measured.covered(),
        total: measured.total(),
        missed: measured
            .missed()
            .into_iter()
            .map(|b| (asl_path.display().to_string(), b.label.clone()))
            .collect(),
        untested: false,
    }];
    report(global, args, &results, &flows, &[(file, measured)])
}

/// Every state name of a document, in branches and map bodies too (what a MockConfigFile
/// test case may name).
fn state_names(doc: &Value) -> Vec<String> {
    fn walk(machine: &Value, depth: usize, out: &mut Vec<String>) {
        let Some(states) = machine.get("States").and_then(Value::as_object) else {
            return;
        };
        for (name, state) in states {
            out.push(name.clone());
            if depth >= flowctl_protocol::MAX_JSON_DEPTH {
                continue;
            }
            for key in ["Branches"] {
                for branch in state
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    walk(branch, depth + 1, out);
                }
            }
            for key in ["Iterator", "ItemProcessor"] {
                if let Some(body) = state.get(key) {
                    walk(body, depth + 1, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(doc, 0, &mut out);
    out
}

/// `--init FLOW`: a test file with one case per path through the flow, to fill in.
fn init(global: &Global, name: &str) -> anyhow::Result<Exit> {
    let project = or_exit!(clean_project(global));
    let plan = project.plan();
    let flow = find_flow(&project, name)?;
    let path = test_path(&flow.path);
    if path.exists() {
        bail!(
            "{} exists already; add cases to it, or move it away to write a new skeleton",
            path.display()
        );
    }
    let (doc, _) = match compile(&project, &plan, flow) {
        Ok(compiled) => compiled,
        Err(report) => return fail(global, &[report]),
    };
    let mut called = Vec::new();
    if let Some(ir) = &flow.ir {
        ir.body.visit_stmts(&mut |stmt| {
            if let flowctl_lang::flow::ir::StmtKind::Call { function, .. } = &stmt.kind {
                if !called.contains(function) {
                    called.push(function.clone());
                }
            }
        });
    }
    let routes = routes::routes(&doc);
    let text = skeleton::write(&flow.name, &routes, &called);
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    match global.output {
        Output::Json => out::json(&json!({"file": path, "cases": routes.routes.len()}))?,
        Output::Text => {
            note_raw!("");
            note!(
                "wrote {} with {} case(s), one per path: fill in the inputs, the mocks and what to expect, then run `flowctl test {}`",
                path.display(),
                routes.routes.len(),
                flow.name
            );
        }
    }
    Ok(Exit::Success)
}

fn merge(into: &mut serde_json::Map<String, Value>, config: Value) {
    let Value::Object(config) = config else {
        return;
    };
    for (key, value) in config {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
