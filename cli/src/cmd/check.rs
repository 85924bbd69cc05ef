//! `flowctl check`: the manifest and every flow, all problems at once.

use super::out::{self, note};
use super::{Exit, Global, Output};
use flowctl_lang::render;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(global: &Global, _args: Args) -> anyhow::Result<Exit> {
    let loaded = global.load()?;
    let errors = loaded.error_count();
    match global.output {
        Output::Json => {
            let report = json!({
                "ok": errors == 0,
                "errors": errors,
                "diagnostics": render::records(&loaded.reports),
            });
            out::json(&report)?;
        }
        Output::Text => {
            global.print_diagnostics(&loaded.reports);
            let flows = loaded.project.as_ref().map_or(0, |p| p.flows.len());
            let functions = loaded
                .project
                .as_ref()
                .map_or(0, |p| p.manifest.functions.len());
            if errors == 0 {
                out::println(format_args!(
                    "ok: {flows} flow(s), {functions} function(s), no problems"
                ))?;
            } else {
                note!("{errors} error(s) found");
            }
        }
    }
    Ok(if errors == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}
