//! What several commands share, so that no command imports another: loading a clean project,
//! finding and compiling its flows, saying no (exit 1) in text or JSON, the AWS target options
//! and connection (`target`), the printing of deploy/destroy changes (`changes`), a deployed
//! project's subscription numbers (`subscriptions`), and the build that `build`, `deploy` and
//! `invoke` run (`build`).

pub mod build;
pub mod changes;
pub mod hybrid;
pub mod local;
pub mod subscriptions;
pub mod target;

/// The value of a step that may have ended the command already: `Ok(Err(exit))` (its
/// diagnostics or refusal printed) returns that exit from the command; `Err` propagates.
macro_rules! or_exit {
    ($step:expr) => {
        match $step? {
            Ok(value) => value,
            Err(exit) => return Ok(exit),
        }
    };
}
pub(crate) use or_exit;

use super::out::{self, note};
use super::{DiagnosticsFound, Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::project::{LoadedFlow, Project};
use flowctl_lang::asl::CompileOptions;
use flowctl_lang::diagnostic::{Diagnostic, Severity};
use flowctl_lang::plan::Plan;
use flowctl_lang::render::{self, FileDiagnostics};
use flowctl_protocol::did_you_mean;
use serde_json::json;

/// The project, loaded and free of errors; `Err(exit)` when its diagnostics were printed.
pub fn clean_project(global: &Global) -> anyhow::Result<Result<Project, Exit>> {
    let loaded = global.load()?;
    if global.problem_count(&loaded) > 0 {
        global.print_diagnostics(&loaded.reports);
        return Ok(Err(Exit::Failure));
    }
    Ok(Ok(loaded
        .project
        .context("the manifest could not be read")?))
}

/// The flow named `name`, or an error naming the flows there are.
pub fn find_flow<'p>(project: &'p Project, name: &str) -> anyhow::Result<&'p LoadedFlow> {
    if let Some(flow) = project.flow(name) {
        return Ok(flow);
    }
    let names = project.flows.iter().map(|f| f.name.as_str());
    match did_you_mean(name, names.clone()) {
        Some(near) => bail!(
            "no flow `{name}` in {}; did you mean `{near}`?",
            project.manifest_path.display()
        ),
        None => bail!(
            "no flow `{name}` in {}; flows: {}",
            project.manifest_path.display(),
            names.collect::<Vec<_>>().join(", ")
        ),
    }
}

/// How a flow of `project` is compiled: calls go to the units of `plan` (the project's
/// colocation plan, made once by the caller), with fusion unless `fuse` is false; the source
/// path goes in the comment.
pub fn compile_options(
    project: &Project,
    plan: &Plan,
    flow: &LoadedFlow,
    fuse: bool,
) -> CompileOptions {
    let source = flow.entry.source.to_string_lossy().replace('\\', "/");
    plan.compile_options(&project.manifest, &source, fuse)
}

/// Compile diagnostics as a report against the flow's file.
pub fn flow_report(flow: &LoadedFlow, diagnostics: Vec<Diagnostic>) -> FileDiagnostics {
    FileDiagnostics {
        path: flow.path.clone(),
        source: flow.source.clone().unwrap_or_default(),
        diagnostics,
    }
}

/// Prints `reports` (text on stderr, or the JSON report on stdout) and says no (exit 1).
pub fn fail(global: &Global, reports: &[FileDiagnostics]) -> anyhow::Result<Exit> {
    // With --deny-warnings, a warning is one of the problems that stopped the command.
    let errors: usize = reports
        .iter()
        .flat_map(|r| &r.diagnostics)
        .filter(|d| global.deny_warnings || d.severity == Severity::Error)
        .count();
    match global.output {
        Output::Json => {
            out::json(
                &json!({ "ok": false, "errors": errors, "diagnostics": render::records(reports) }),
            )?;
            Ok(Exit::Failure)
        }
        Output::Text => {
            global.print_diagnostics(reports);
            Err(DiagnosticsFound(errors).into())
        }
    }
}

/// The work ran and was refused (a failed cargo build, AWS said no): the reason, then exit 1.
pub fn said_no(global: &Global, message: &str) -> anyhow::Result<Exit> {
    match global.output {
        Output::Json => out::json(&json!({ "ok": false, "error": message }))?,
        Output::Text => note!("error: {message}"),
    }
    Ok(Exit::Failure)
}

/// The input of `flow` against the flow's declared input type, before anything runs:
/// `Ok(Err(exit 1))` with every problem printed (each at its JSON pointer) when it does not fit.
pub fn check_input(
    global: &Global,
    project: &Project,
    flow: &LoadedFlow,
    input: &serde_json::Value,
) -> anyhow::Result<Result<(), Exit>> {
    let Some(ir) = &flow.ir else {
        return Ok(Ok(()));
    };
    let problems = flowctl_lang::types::validate(input, &ir.input, &project.registry.types);
    if problems.is_empty() {
        return Ok(Ok(()));
    }
    let type_name = ir.input.show();
    match global.output {
        Output::Json => out::json(&json!({
            "status": "INVALID_INPUT",
            "flow": flow.name,
            "type": type_name,
            "problems": problems
                .iter()
                .map(|p| json!({ "pointer": p.pointer, "message": p.message }))
                .collect::<Vec<_>>(),
        }))?,
        Output::Text => {
            note!(
                "error: the input does not fit flow {}'s input type {type_name} ({} problem(s)); nothing was run:",
                flow.name,
                problems.len()
            );
            for p in &problems {
                let at = if p.pointer.is_empty() {
                    "(the input)"
                } else {
                    &p.pointer
                };
                note!("  {at}: {}", p.message);
            }
        }
    }
    Ok(Err(Exit::Failure))
}
