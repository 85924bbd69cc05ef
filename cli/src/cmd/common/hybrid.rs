//! What a hybrid run (`invoke FLOW --remote NAME…`) needs beyond a local one: which units are
//! called on their deployed Lambdas, and the connection that calls them, checked before
//! anything runs.

use super::said_no;
use super::target::{Target, TargetArgs};
use crate::cmd::out::note;
use crate::cmd::{Exit, Global};
use anyhow::bail;
use flowctl::local::{Hybrid, LocalProcesses, Placement};
use flowctl::project::Project;
use flowctl_aws::invoke::function_arn;
use flowctl_lang::manifest::names::unit_lambda_name;
use flowctl_lang::plan::Plan;
use flowctl_protocol::did_you_mean;
use std::collections::{BTreeMap, BTreeSet};

/// The name that, given to `--remote` (or `--local`), means every unit.
pub const ALL: &str = "*";

/// Where each called function runs, for the trace: `local` or `lambda <name>`.
pub type Placed = Box<dyn Fn(&str) -> Option<String>>;

/// The units `--remote` names (a unit, or a function: its unit; `*`: all), less those
/// `--local` names. A function sharing its unit with others takes them along, which is said:
/// a Lambda runs its whole unit.
pub fn deployed_units(
    project: &Project,
    plan: &Plan,
    remote: &[String],
    local: &[String],
) -> anyhow::Result<BTreeSet<String>> {
    let resolve = |name: &str, option: &str| -> anyhow::Result<Vec<String>> {
        if name == ALL {
            return Ok(plan.units.iter().map(|u| u.name.clone()).collect());
        }
        if let Some(unit) = plan.units.iter().find(|u| u.name == name) {
            return Ok(vec![unit.name.clone()]);
        }
        if let Some(unit) = plan.unit_of(name) {
            let others: Vec<&str> = unit
                .functions
                .iter()
                .map(String::as_str)
                .filter(|f| *f != name)
                .collect();
            if !others.is_empty() {
                note!(
                    "note: {option} {name}: {name} shares the Lambda `{}` with {}, which go along",
                    unit.name,
                    others.join(", ")
                );
            }
            return Ok(vec![unit.name.clone()]);
        }
        let candidates = plan
            .units
            .iter()
            .flat_map(|u| std::iter::once(&u.name).chain(&u.functions))
            .map(String::as_str);
        match did_you_mean(name, candidates) {
            Some(near) => bail!(
                "{option} {name}: no function or unit `{name}` in {}; did you mean `{near}`?",
                project.manifest_path.display()
            ),
            None => bail!(
                "{option} {name}: no function or unit `{name}` in {} (`flowctl plan` lists the units and their functions; `{ALL}` is every unit)",
                project.manifest_path.display()
            ),
        }
    };
    let mut units = BTreeSet::new();
    for name in remote {
        units.extend(resolve(name, "--remote")?);
    }
    for name in local {
        for unit in resolve(name, "--local")? {
            units.remove(&unit);
        }
    }
    Ok(units)
}

/// The deployed units, found where the target options say (AWS's configuration chain by
/// default), before anything is built or run.
pub struct Remote {
    pub runtime: tokio::runtime::Runtime,
    clients: flowctl_aws::Clients,
    /// Unit → its Lambda's name.
    lambdas: BTreeMap<String, String>,
}

/// Connects and checks every unit in `deployed` is deployed. `Ok(Err(exit))`: one is not,
/// or the target refused (said).
pub fn connect(
    global: &Global,
    project: &Project,
    aws: &TargetArgs,
    target: Target,
    deployed: &BTreeSet<String>,
) -> anyhow::Result<Result<Remote, Exit>> {
    let target = match aws.place(target) {
        Target::Local => Target::Aws,
        other => other,
    };
    let target_args = aws.deployed(target);
    let connection = target_args.connect(project)?;
    let place = target_args.label(&connection.account);
    let mut lambdas = BTreeMap::new();
    for unit in deployed {
        let lambda = unit_lambda_name(&project.manifest.project, unit);
        let found = connection
            .runtime
            .block_on(function_arn(&connection.clients, &lambda));
        match found {
            Ok(Some(_)) => {}
            Ok(None) => {
                return said_no(
                    global,
                    &format!(
                        "--remote: unit `{unit}` is not deployed at {place} (no function {lambda}): deploy it first (`{}`) or run it locally",
                        target.deploy_command()
                    ),
                )
                .map(Err)
            }
            Err(err) => return said_no(global, &err.to_string()).map(Err),
        }
        lambdas.insert(unit.clone(), lambda);
    }
    note!(
        "calling {} on {place}; the rest runs here",
        lambdas
            .values()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Ok(Remote {
        runtime: connection.runtime,
        clients: connection.clients,
        lambdas,
    }))
}

impl Remote {
    /// The hybrid invoker (these units remote, the rest on `local`), its runtime, and where
    /// each unit runs for the trace.
    pub fn with_local(self, local: LocalProcesses) -> (Hybrid, tokio::runtime::Runtime, Placed) {
        let placements: BTreeMap<String, Placement> = self
            .lambdas
            .iter()
            .map(|(unit, lambda)| (unit.clone(), Placement::Deployed(lambda.clone())))
            .collect();
        let placed: Placed =
            Box::new(move |unit| Some(placements.get(unit).unwrap_or(&Placement::Local).label()));
        (
            Hybrid::new(local, self.clients, self.lambdas),
            self.runtime,
            placed,
        )
    }
}
