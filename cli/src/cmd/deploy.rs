//! `flowctl deploy`: build (as `flowctl build` does), then compare the build with what the
//! target holds and apply the changes on AWS or LocalStack through the SDK (`flowctl_aws`).
//! `--dry-run` prints the changes and makes none; `--prune` deletes what the manifest no
//! longer has.

use super::common::build::build_project;
use super::common::or_exit;
use super::common::target::TargetArgs;
use super::common::{changes, clean_project};
use super::out::{self, note};
use super::progress::Progress;
use super::{Exit, Global, Output};
use anyhow::Context;
use flowctl::build::record::BuildRecord;
use flowctl_aws::diff::{self, Action};
use flowctl_aws::{apply, model};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the changes (creates, updates, deletes, unchanged) and make none
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: exit 1 when the deploy would change anything, 0 when the target is up
    /// to date (CI: "is production what we built?")
    #[arg(long, requires = "dry_run")]
    pub exit_code: bool,
    /// Delete resources tagged for the project that the manifest no longer has
    #[arg(long)]
    pub prune: bool,
    /// Deploy the last build as it is (its build.json), without running the build first
    #[arg(long)]
    pub no_build: bool,
    /// How many resources to create or update at once (1: one after the other)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let project = or_exit!(clean_project(global));
    // Whether the target answers, before minutes of building.
    let connection = args.target.connect(&project)?;
    // The build, exactly as `flowctl build` does it (its progress goes to stderr).
    if !args.no_build {
        let architecture = project.manifest.deploy.architecture;
        if let Err(exit) = build_project(global, &project, architecture)? {
            return Ok(exit);
        }
    }
    let out_dir = flowctl::build::out_dir(
        &flowctl::build::target_dir(&project.root),
        &project.manifest.project,
    );
    let record = BuildRecord::read(&out_dir).with_context(|| {
        format!(
            "no readable build record in {}; run `flowctl build`",
            out_dir.display()
        )
    })?;
    let desired = model::desired(&record, &out_dir, &project.manifest, &connection.account)?;
    let clients = &connection.clients;
    let observed = or_exit!(connection.observe(global, &desired.project));
    let changes = diff::compare(&desired, &observed, args.prune);
    let target = args.target.label(&connection.account);

    if args.dry_run {
        match global.output {
            Output::Json => out::json(
                &json!({ "ok": true, "dry_run": true, "target": target, "steps": changes.steps, "summary": changes::summary(&changes) }),
            )?,
            Output::Text => {
                note!("plan for {} on {target}:", desired.project);
                changes::print(&changes);
                note!("{}", changes::summary_line(&changes));
            }
        }
        let would_change = changes.mutations().next().is_some();
        return Ok(if args.exit_code && would_change {
            Exit::Failure
        } else {
            Exit::Success
        });
    }

    let total = changes.mutations().count();
    if global.output == Output::Text {
        if total == 0 {
            note!(
                "{} is up to date on {target} ({} resource(s) unchanged)",
                desired.project,
                changes.count(Action::Unchanged)
            );
        } else {
            note!(
                "deploying {} to {target}: {}",
                desired.project,
                changes::summary_line(&changes)
            );
        }
        for step in changes
            .steps
            .iter()
            .filter(|s| s.action == Action::Orphaned)
        {
            note!(
                "   note: {} {} is no longer in the manifest; `--prune` deletes it",
                step.kind.as_str(),
                step.name
            );
        }
    }
    let progress = Progress::bar(global, total);
    let report = changes::reporter(&progress);
    let outcome = connection.runtime.block_on(apply::apply(
        clients,
        &desired,
        &changes,
        args.concurrency,
        &report,
    ));
    progress.finish();
    // Where to send the webhooks, once they are there (a failed deploy says only its error).
    let urls = if outcome.ok() {
        connection
            .runtime
            .block_on(flowctl_aws::events::webhook_urls(
                clients,
                &desired.project,
                &project.manifest,
            ))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if global.output == Output::Text {
        for (source, url) in &urls {
            note!("   webhook {source}: POST {url}");
        }
    }
    let webhooks: serde_json::Map<String, serde_json::Value> = urls
        .into_iter()
        .map(|(source, url)| (source, json!(url)))
        .collect();
    changes::report(
        global,
        &changes,
        &outcome,
        json!({ "target": target, "webhooks": webhooks }),
    )
}
