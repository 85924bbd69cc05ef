//! `flowctl compile FLOW`: one flow's state machine (Amazon States Language) on stdout, in the
//! canonical bytes `flowctl build` writes, with `${unit:NAME}` placeholders for Lambda ARNs.

use super::{DiagnosticsFound, Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::asl::{self, CompileOptions};
use flowctl::diagnostic::did_you_mean;
use flowctl::plan;
use flowctl::project::{LoadedFlow, Project};
use flowctl::render::{self, FileDiagnostics};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flow's name in the manifest
    pub flow: String,
    /// Compile every call as a Task of its own (no fused chains), for comparing or debugging;
    /// the units are still the colocation plan's
    #[arg(long)]
    pub no_fuse: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = global.load()?;
    let Some(project) = loaded.project.as_ref() else {
        global.require_clean(&loaded)?;
        bail!("the manifest could not be read");
    };
    let flow = find(project, &args.flow)?;
    // Only the manifest's and this flow's problems stand in the way.
    let relevant: Vec<FileDiagnostics> = loaded
        .reports
        .iter()
        .filter(|r| r.path == project.manifest_path || r.path == flow.path)
        .cloned()
        .collect();
    if relevant.iter().any(|r| r.errors() > 0) {
        return fail(global, &relevant);
    }
    let Some(ir) = &flow.ir else {
        bail!(
            "cannot read flow `{}` from {}",
            flow.name,
            flow.path.display()
        );
    };
    match asl::compile(ir, &options(project, flow, !args.no_fuse)) {
        Ok(doc) => {
            print!("{}", asl::to_pretty_json(&doc));
            Ok(Exit::Success)
        }
        Err(diagnostics) => fail(global, &[report(flow, diagnostics)]),
    }
}

/// The flow named `name`, or an error naming the flows there are.
pub(super) fn find<'p>(project: &'p Project, name: &str) -> anyhow::Result<&'p LoadedFlow> {
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

/// How a flow of `project` is compiled: calls go to the units of the colocation plan, with
/// fusion unless `fuse` is false; the source path goes in the comment.
pub(super) fn options(project: &Project, flow: &LoadedFlow, fuse: bool) -> CompileOptions {
    let source = flow.entry.source.to_string_lossy().replace('\\', "/");
    plan::plan_project(project).compile_options(&project.manifest, &source, fuse)
}

/// Compile diagnostics as a report against the flow's file.
pub(super) fn report(
    flow: &LoadedFlow,
    diagnostics: Vec<flowctl::diagnostic::Diagnostic>,
) -> FileDiagnostics {
    FileDiagnostics {
        path: flow.path.clone(),
        source: flow.source.clone().unwrap_or_default(),
        diagnostics,
    }
}

/// Prints `reports` (text on stderr, or the JSON report on stdout) and says no (exit 1).
pub(super) fn fail(global: &Global, reports: &[FileDiagnostics]) -> anyhow::Result<Exit> {
    let errors: usize = reports.iter().map(FileDiagnostics::errors).sum();
    match global.output {
        Output::Json => {
            let report: Value =
                json!({ "ok": false, "errors": errors, "diagnostics": render::records(reports) });
            println!(
                "{}",
                serde_json::to_string_pretty(&report).context("a JSON report")?
            );
            Ok(Exit::Failure)
        }
        Output::Text => {
            global.print_diagnostics(reports);
            Err(DiagnosticsFound(errors).into())
        }
    }
}
