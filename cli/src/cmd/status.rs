//! `flowctl status`: what is deployed for the project (found by its tag), with each
//! function's `CodeSha256` and each state machine's definition hash, and the drift against
//! the local build (`build.json`, when there is one): what a deploy would change; and each
//! subscription's queue depth, messages in flight, dead-letter depth and parked keys.

use super::common::or_exit;
use super::common::target::TargetArgs;
use super::common::{clean_project, said_no, subscriptions};
use super::out::{self, note};
use super::{Exit, Global, Output};
use anyhow::bail;
use flowctl::build::record::BuildRecord;
use flowctl_aws::diff::{self, Action, Changes, Kind};
use flowctl_aws::model::{self, Observed};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Exit 1 when anything is not in sync with the local build (drift, not deployed,
    /// orphaned), 0 when all is; for CI ("is it deployed as built?")
    #[arg(long)]
    pub exit_code: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let project = or_exit!(clean_project(global));
    let connection = args.target.connect(&project)?;
    let name = project.manifest.project.clone();
    let observed = or_exit!(connection.observe(global, &name));
    let out_dir = flowctl::build::out_dir(&flowctl::build::target_dir(&project.root), &name);
    let local = match BuildRecord::read(&out_dir) {
        Some(record) => Some(model::desired(
            &record,
            &out_dir,
            &project.manifest,
            &connection.account,
        )?),
        None => None,
    };
    if args.exit_code && local.is_none() {
        bail!(
            "--exit-code compares with the local build, and there is none in {}: run `flowctl build` first",
            out_dir.display()
        );
    }
    let changes = local.as_ref().map(|d| diff::compare(d, &observed, false));
    let in_sync = changes
        .as_ref()
        .map(|c| c.is_noop() && c.count(Action::Orphaned) == 0);
    let resources = rows(&observed, local.as_ref(), changes.as_ref());
    let target = args.target.label(&connection.account);
    let subscriptions = match subscriptions::fetch(&connection, &project.manifest) {
        Ok(rows) => rows,
        Err(err) => return said_no(global, &err.to_string()),
    };
    match global.output {
        Output::Json => out::json(&json!({
            "project": name,
            "target": target,
            "build": local.is_some(),
            "in_sync": in_sync,
            "resources": resources,
            "subscriptions": subscriptions,
        }))?,
        Output::Text => {
            note!("{name} on {target}:");
            if resources.is_empty() {
                note!("  nothing deployed");
            }
            for r in &resources {
                let hash = r["hash"]
                    .as_str()
                    .map(|h| format!("  {h}"))
                    .unwrap_or_default();
                let changes = r["changes"].as_array().filter(|c| !c.is_empty()).map(|c| {
                    let names: Vec<&str> = c.iter().filter_map(Value::as_str).collect();
                    format!(" ({})", names.join(", "))
                });
                out::println(format_args!(
                    "  {:<13} {:<40} {:<12}{}{hash}",
                    r["kind"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default(),
                    r["status"].as_str().unwrap_or_default(),
                    changes.unwrap_or_default(),
                ))?;
            }
            if !subscriptions.is_empty() {
                note!("subscriptions:");
                subscriptions::print(&subscriptions)?;
            }
            if local.is_none() {
                note!("no local build to compare with (run `flowctl build`)");
            }
        }
    }
    Ok(match (args.exit_code, in_sync) {
        (true, Some(false)) => Exit::Failure,
        _ => Exit::Success,
    })
}

/// One row per resource deployed or wanted: `status` is `in_sync`, `drift` (with the
/// fields a deploy would change), `not_deployed`, `orphaned` (deployed, not in the build),
/// or `deployed` when there is no local build to compare with.
fn rows(
    observed: &Observed,
    local: Option<&model::Desired>,
    changes: Option<&Changes>,
) -> Vec<Value> {
    let hash_of = |kind: Kind, name: &str| -> Option<String> {
        match kind {
            Kind::Function => observed.functions.get(name).map(|f| f.code_sha256.clone()),
            Kind::StateMachine => observed
                .machines
                .get(name)
                .and_then(|m| m.definition.as_ref())
                .map(|d| {
                    flowctl::build::zip::sha256_hex(flowctl_lang::asl::to_pretty_json(d).as_bytes())
                }),
            _ => None,
        }
    };
    let local_hash = |kind: Kind, name: &str| -> Option<String> {
        let local = local?;
        match kind {
            Kind::Function => local
                .functions
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.code_sha256.clone()),
            Kind::StateMachine => local.machines.iter().find(|m| m.name == name).map(|m| {
                flowctl::build::zip::sha256_hex(
                    flowctl_lang::asl::to_pretty_json(&m.definition).as_bytes(),
                )
            }),
            _ => None,
        }
    };
    let arn_of = |kind: Kind, name: &str| -> Option<String> {
        match kind {
            Kind::Role => observed.roles.get(name).map(|r| r.arn.clone()),
            Kind::Function => observed.functions.get(name).map(|f| f.arn.clone()),
            Kind::StateMachine => observed.machines.get(name).map(|m| m.arn.clone()),
            Kind::Queue => observed
                .queues
                .get(name)
                .and_then(|q| q.attributes.get("QueueArn").cloned()),
            Kind::Table => observed.tables.get(name).map(|t| t.arn.clone()),
            Kind::FunctionUrl => observed.urls.get(name).map(|u| u.url.clone()),
            Kind::LogGroup | Kind::EventSourceMapping | Kind::ScheduleGroup | Kind::Schedule => {
                None
            }
        }
    };
    let row = |kind: Kind, name: &str, status: &str, changes: Value| {
        json!({
            "kind": kind,
            "name": name,
            "arn": arn_of(kind, name),
            "status": status,
            "changes": changes,
            "hash": hash_of(kind, name),
            "local_hash": local_hash(kind, name),
        })
    };
    match changes {
        Some(changes) => changes
            .steps
            .iter()
            .map(|s| {
                let status = match s.action {
                    Action::Unchanged => "in_sync",
                    Action::Create => "not_deployed",
                    Action::Orphaned | Action::Delete => "orphaned",
                    Action::Update | Action::Replace => "drift",
                };
                row(s.kind, &s.name, status, json!(s.changes))
            })
            .collect(),
        None => {
            let mut out = Vec::new();
            out.extend(
                observed
                    .roles
                    .keys()
                    .map(|n| row(Kind::Role, n, "deployed", json!([]))),
            );
            out.extend(
                observed
                    .functions
                    .keys()
                    .map(|n| row(Kind::Function, n, "deployed", json!([]))),
            );
            out.extend(
                observed
                    .machines
                    .keys()
                    .map(|n| row(Kind::StateMachine, n, "deployed", json!([]))),
            );
            out
        }
    }
}
