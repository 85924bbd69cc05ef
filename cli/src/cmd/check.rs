//! `flowctl check`: the manifest and every flow, all problems at once.

use super::out::{self, note};
use super::{Exit, Global, Output};
use flowctl_lang::render;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(global: &Global, _args: Args) -> anyhow::Result<Exit> {
    let loaded = global.load()?;
    let failing = global.problem_count(&loaded);
    let (errors, warnings) = (loaded.error_count(), loaded.warning_count());
    let typed = loaded.project.as_ref().is_some_and(|p| p.typed);
    match global.output {
        Output::Json => {
            let report = json!({
                "ok": failing == 0,
                "errors": errors,
                "warnings": warnings,
                "typed": typed,
                "diagnostics": render::records(&loaded.reports),
            });
            out::json(&report)?;
        }
        Output::Text => {
            global.print_diagnostics(&loaded.reports);
            if loaded.project.is_some() && !typed {
                note!("note: no registry from a build covers every function package: calls, fields and comparisons were checked without the functions' types (run `flowctl build` to check them)");
            }
            let flows = loaded.project.as_ref().map_or(0, |p| p.flows.len());
            let functions = loaded
                .project
                .as_ref()
                .map_or(0, |p| p.manifest.functions.len());
            if failing == 0 {
                let problems = match warnings {
                    0 => "no problems".to_string(),
                    n => format!("{n} warning(s)"),
                };
                out::println(format_args!(
                    "ok: {flows} flow(s), {functions} function(s), {problems}"
                ))?;
            } else if global.deny_warnings && warnings > 0 {
                note!("{errors} error(s) and {warnings} warning(s) found (--deny-warnings)");
            } else {
                note!("{errors} error(s) found");
            }
        }
    }
    Ok(if failing == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}
