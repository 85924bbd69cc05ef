//! `flowctl compile FLOW`: one flow's state machine (Amazon States Language) on stdout, in the
//! canonical bytes `flowctl build` writes, with `${unit:NAME}` placeholders for Lambda ARNs.

use super::common::{compile_options, fail, find_flow, flow_report};
use super::out;
use super::{Exit, Global};
use anyhow::bail;
use flowctl_lang::asl;
use flowctl_lang::render::FileDiagnostics;

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
    let flow = find_flow(project, &args.flow)?;
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
    match asl::compile(
        ir,
        &compile_options(project, &project.plan(), flow, !args.no_fuse),
    ) {
        Ok(doc) => {
            out::print(asl::to_pretty_json(&doc))?;
            Ok(Exit::Success)
        }
        Err(diagnostics) => fail(global, &[flow_report(flow, diagnostics)]),
    }
}
