//! A project's cases: each flow's test file read and its flow compiled as it deploys, every
//! case run with its functions mocked (or real), snapshots recorded under `--update`, and the
//! mocked runs exported as a MockConfigFile under `--export-mock-config`.

use super::report::{report, FlowCoverage};
use super::{compile, selected, snapshot_path, test_path, write_json, Args};
use crate::cmd::common::local::local_units;
use crate::cmd::common::{clean_project, fail, find_flow, or_exit};
use crate::cmd::out::note;
use crate::cmd::{Exit, Global};
use anyhow::{bail, Context};
use flowctl::local::ByFunction;
use flowctl::project::{LoadedFlow, Project};
use flowctl_engine::{self as engine, Invoker, StateMachine};
use flowctl_lang::asl;
use flowctl_lang::plan::Plan;
use flowctl_lang::render::FileDiagnostics;
use flowctl_testing::cases::{self, TestFile};
use flowctl_testing::coverage::{self, Coverage};
use flowctl_testing::mock::FunctionMocks;
use flowctl_testing::mock_config;
use flowctl_testing::run::{self, RunContext};
use flowctl_testing::snapshot::Snapshots;
use flowctl_testing::{CaseResult, Verdict};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// One flow's cases and what running them needs.
pub(super) struct Suite<'p> {
    pub(super) flow: &'p LoadedFlow,
    /// The test file as shown to the user.
    pub(super) path: PathBuf,
    file: TestFile,
    snapshots: Snapshots,
    snapshot_path: PathBuf,
    doc: Value,
    machine: StateMachine,
    pub(super) sources: asl::SourceMap,
}

pub(super) fn project_cases(global: &Global, args: &Args) -> anyhow::Result<Exit> {
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
        match load_suite(&project, &plan, flow, &functions)? {
            Loaded::Suite(suite) => suites.push(*suite),
            Loaded::Problems(report) => reports.push(report),
            Loaded::NoFile(path) if !args.flows.is_empty() => bail!(
                "flow `{}` has no cases: {} does not exist (`flowctl test --init {}` writes one)",
                flow.name,
                path.display(),
                flow.name
            ),
            Loaded::NoFile(_) => untested.push(flow),
        }
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
        let mut mocked_runs = Vec::new();
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
            if !case.real {
                mocked_runs.push((case.name.clone(), executions.len()));
            }
            executions.push(execution);
        }
        coverages.push(coverage::measure(
            &suite.doc,
            &executions.iter().collect::<Vec<_>>(),
        ));
        if args.export_mock_config.is_some() {
            exported.push((suite.machine.name().to_string(), mocked_runs, executions));
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
        // Only mocked cases: an integration case's answers came from real functions.
        let machines: Vec<(String, Vec<(String, &engine::Execution)>)> = exported
            .iter()
            .map(|(machine, runs, executions)| {
                let cases = runs
                    .iter()
                    .map(|(case, i)| (case.clone(), &executions[*i]))
                    .collect();
                (machine.clone(), cases)
            })
            .collect();
        write_json(path, &mock_config::export_machines(&machines))?;
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

/// A flow's test file as it loads: the suite, its problems, or no file.
enum Loaded<'p> {
    Suite(Box<Suite<'p>>),
    Problems(FileDiagnostics),
    NoFile(PathBuf),
}

/// Reads `flow`'s test file and snapshots and compiles the flow as it deploys.
fn load_suite<'p>(
    project: &Project,
    plan: &Plan,
    flow: &'p LoadedFlow,
    functions: &[String],
) -> anyhow::Result<Loaded<'p>> {
    let path = test_path(&flow.path);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::NoFile(path)),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display())))
        }
    };
    let file = match cases::parse(&text, &flow.name, functions) {
        Ok(file) => file,
        Err(diagnostics) => {
            return Ok(Loaded::Problems(FileDiagnostics {
                path,
                source: text,
                diagnostics,
            }))
        }
    };
    let snapshot_path = snapshot_path(&path);
    let snapshots = match std::fs::read_to_string(&snapshot_path) {
        Ok(text) => match Snapshots::parse(&text) {
            Ok(snapshots) => snapshots,
            Err(diagnostics) => {
                return Ok(Loaded::Problems(FileDiagnostics {
                    path: snapshot_path,
                    source: text,
                    diagnostics,
                }))
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Snapshots::default(),
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("cannot read {}", snapshot_path.display()))
            )
        }
    };
    let (doc, sources) = match compile(project, plan, flow) {
        Ok(compiled) => compiled,
        Err(report) => return Ok(Loaded::Problems(report)),
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
    Ok(Loaded::Suite(Box::new(Suite {
        flow,
        path,
        file,
        snapshots,
        snapshot_path,
        doc,
        machine,
        sources,
    })))
}
