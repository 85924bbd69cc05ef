//! `flowctl test`: a project's flow cases (`flows/<name>.test.yaml`, functions mocked by name)
//! or AWS's MockConfigFile test cases of any state machine (`--asl`), run on the embedded engine
//! on a virtual clock; the branches no case took; JSON and JUnit XML reports; `--init`,
//! `--update` and `--export-mock-config`. Exit 0 when every case passed, 1 when one failed.
//!
//! `project` runs a project's cases, `asl` a MockConfigFile's, `report` prints both; the
//! deciding parts (parsing, mocks, verdicts, coverage, JUnit) are `flowctl-testing`'s.

mod asl;
mod project;
mod report;

use super::common::{clean_project, compile_options, fail, find_flow, flow_report, or_exit};
use super::out::{self, note, note_raw};
use super::{Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::project::{LoadedFlow, Project};
use flowctl_lang::plan::Plan;
use flowctl_lang::render::FileDiagnostics;
use flowctl_lang::{asl as compiler, routes};
use flowctl_testing::cases::Case;
use flowctl_testing::skeleton;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

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
        return asl::asl_cases(global, &args);
    }
    project::project_cases(global, &args)
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
) -> Result<(Value, compiler::SourceMap), FileDiagnostics> {
    let Some(ir) = &flow.ir else {
        return Err(flow_report(flow, Vec::new()));
    };
    let (doc, sources) =
        compiler::compile_with_sources(ir, &compile_options(project, plan, flow, true))
            .map_err(|diagnostics| flow_report(flow, diagnostics))?;
    let doc = compiler::resolve_units(&doc, |unit| Some(unit.to_string())).unwrap_or(doc);
    Ok((doc, sources))
}

/// `--init FLOW`: a test file with one case per path through the flow, to fill in.
pub(super) fn init(global: &Global, name: &str) -> anyhow::Result<Exit> {
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

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
