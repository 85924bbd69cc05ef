//! `flowctl destroy`: deletes everything tagged `flowctl:project=<project>` — state machines,
//! then functions, then flowctl's roles (log groups are kept: logs outlive a deployment).

use super::common::or_exit;
use super::common::target::TargetArgs;
use super::common::{changes, clean_project};
use super::out::{self, note};
use super::progress::Progress;
use super::{Exit, Global, Output};
use flowctl_aws::model::Desired;
use flowctl_aws::{apply, diff};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print what would be deleted and delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let project = or_exit!(clean_project(global));
    let connection = args.target.connect(&project)?;
    let name = project.manifest.project.clone();
    let observed = or_exit!(connection.observe(global, &name));
    let changes = diff::destroy(&observed);
    let target = args.target.label(&connection.account);
    if args.dry_run {
        match global.output {
            Output::Json => out::json(
                &json!({ "ok": true, "dry_run": true, "target": target, "steps": changes.steps }),
            )?,
            Output::Text => {
                note!("destroying {name} on {target} would delete:");
                changes::print(&changes);
            }
        }
        return Ok(Exit::Success);
    }
    if global.output == Output::Text {
        match changes.steps.len() {
            0 => note!("nothing tagged for {name} on {target}"),
            n => note!("destroying {name} on {target}: {n} resource(s)"),
        }
    }
    let desired = Desired::empty(&name, &connection.account);
    let progress = Progress::bar(global, changes.steps.len());
    let report = changes::reporter(&progress);
    let outcome = connection.runtime.block_on(apply::apply(
        &connection.clients,
        &desired,
        &changes,
        8,
        &report,
    ));
    progress.finish();
    changes::report(global, &changes, &outcome, json!({ "target": target }))
}
