//! `--asl FILE --mock-config FILE`: AWS's MockConfigFile test cases against any state machine
//! document, its Tasks (any service) answered by name.

use super::report::{report, FlowCoverage};
use super::Args;
use crate::cmd::common::fail;
use crate::cmd::common::local::read_execution_input;
use crate::cmd::out::note;
use crate::cmd::{Exit, Global};
use anyhow::{bail, Context};
use flowctl_engine as engine;
use flowctl_lang::render::FileDiagnostics;
use flowctl_testing::cases::Case;
use flowctl_testing::coverage;
use flowctl_testing::mock_config;
use flowctl_testing::run::{self, RunContext};
use flowctl_testing::snapshot::Snapshots;
use serde_json::Value;

/// `--asl FILE --mock-config FILE`: every test case of the state machine, its Tasks answered
/// by the mocked responses the case names.
pub(super) fn asl_cases(global: &Global, args: &Args) -> anyhow::Result<Exit> {
    let (Some(asl_path), Some(config_path)) = (&args.asl, &args.mock_config) else {
        bail!("--asl needs --mock-config FILE");
    };
    let input = read_execution_input(&args.input)?;
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
    let problems = config.check(&name, &flowctl_testing::state_names(&doc));
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
    let flows = vec![FlowCoverage::of_document(
        &name,
        &asl_path.display().to_string(),
        &measured,
    )];
    report(global, args, &results, &flows, &[(file, measured)])
}
