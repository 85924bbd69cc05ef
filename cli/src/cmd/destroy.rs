//! `flowctl destroy`: deletes everything tagged `flowctl:project=<project>` — state machines,
//! then functions, then flowctl's roles (log groups are kept: logs outlive a deployment).

use super::deploy::{self, TargetArgs};
use super::{Exit, Global, Output};
use flowctl::aws::apply::{self, Done};
use flowctl::aws::model::Desired;
use flowctl::aws::{observe, plan};
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
    let project = match deploy::project(global)? {
        Ok(project) => project,
        Err(exit) => return Ok(exit),
    };
    let connection = deploy::connect(&args.target, &project)?;
    let name = project.manifest.project.clone();
    let observed = match connection
        .runtime
        .block_on(observe::observe(&connection.clients, &name))
    {
        Ok(observed) => observed,
        Err(err) => return deploy::said_no(global, &err.to_string()),
    };
    let plan = plan::destroy(&observed);
    let target = deploy::target_label(&connection.account, &args.target);
    let text = global.output == Output::Text;
    if args.dry_run {
        match global.output {
            Output::Json => deploy::print_json(
                &json!({ "ok": true, "dry_run": true, "target": target, "steps": plan.steps }),
            )?,
            Output::Text => {
                eprintln!("destroying {name} on {target} would delete:");
                deploy::print_plan(&plan);
            }
        }
        return Ok(Exit::Success);
    }
    if text {
        match plan.steps.len() {
            0 => eprintln!("nothing tagged for {name} on {target}"),
            n => eprintln!("destroying {name} on {target}: {n} resource(s)"),
        }
    }
    let desired = Desired {
        project: name,
        account: connection.account.clone(),
        roles: Vec::new(),
        log_groups: Vec::new(),
        functions: Vec::new(),
        machines: Vec::new(),
    };
    let total = plan.steps.len();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let progress = |done: Done<'_>| {
        let n = finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if text {
            match done.result {
                Ok(()) => eprintln!(
                    "  [{n}/{total}] deleted {} {}",
                    done.step.kind.as_str(),
                    done.step.name
                ),
                Err(err) => eprintln!(
                    "  [{n}/{total}] FAILED {} {}: {err}",
                    done.step.kind.as_str(),
                    done.step.name
                ),
            }
        }
    };
    let outcome = connection.runtime.block_on(apply::apply(
        &connection.clients,
        &desired,
        &plan,
        8,
        &progress,
    ));
    deploy::report(global, &plan, &outcome, json!({ "target": target }))
}
