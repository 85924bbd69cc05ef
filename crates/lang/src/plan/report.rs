//! What a plan changes, flow by flow: every path's state transitions, Lambda invocations and
//! cost per million executions with one Lambda per function and no fusion ("before") and with
//! the plan and its fused chains ("after"). The data behind `flowctl plan`.

use super::{one_unit_per_function, Plan, Unit};
use crate::asl;
use crate::diagnostic::Diagnostic;
use crate::flow::ir;
use crate::manifest::{FlowKind, Manifest};
use crate::routes::{self, Outcome, Prices};
use serde::Serialize;

/// A flow to report on.
pub struct FlowInput<'a> {
    pub name: &'a str,
    pub kind: FlowKind,
    pub ir: &'a ir::Flow,
    /// The source path, for the compiled documents' comments.
    pub source: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub project: String,
    pub units: Vec<Unit>,
    pub fused_chains: Vec<FusedChain>,
    pub flows: Vec<FlowReport>,
    pub prices: Prices,
}

/// One fused Task: its flow and the functions it runs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FusedChain {
    pub flow: String,
    pub functions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowReport {
    pub flow: String,
    pub kind: FlowKind,
    pub paths: Vec<PathReport>,
    /// More paths exist than were listed (see `routes::MAX_ROUTES`).
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathReport {
    /// The decisions taken along the path, as the planned document names its states.
    pub label: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub caught: bool,
    pub per_map_item: bool,
    pub before: Cost,
    pub after: Cost,
}

/// One execution along a path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    pub transitions: u64,
    pub invocations: u64,
    /// USD per million executions: transitions (standard workflows only: express ones are
    /// billed per request and duration) and Lambda requests; no duration charges.
    pub usd_per_million: f64,
}

impl PathReport {
    /// `after` against `before`, in percent (negative: fewer).
    pub fn change(before: u64, after: u64) -> f64 {
        if before == 0 {
            0.0
        } else {
            100.0 * (after as f64 - before as f64) / before as f64
        }
    }
}

/// Compiles every flow twice (one Lambda per function, unfused; the plan, fused) and
/// counts each path of both; the first flow that does not compile is the error.
pub fn report(
    manifest: &Manifest,
    flows: &[FlowInput<'_>],
    plan: &Plan,
    prices: Prices,
) -> Result<Report, (String, Vec<Diagnostic>)> {
    let baseline = one_unit_per_function(manifest);
    let mut fused_chains = Vec::new();
    let mut reports = Vec::new();
    for flow in flows {
        let compile = |plan: &Plan, fuse: bool| {
            asl::compile(flow.ir, &plan.compile_options(manifest, flow.source, fuse))
                .map_err(|d| (flow.name.to_string(), d))
        };
        let before = compile(&baseline, false)?;
        let after = compile(plan, true)?;
        fused_chains.extend(
            asl::fused_chains(&after)
                .into_iter()
                .map(|functions| FusedChain {
                    flow: flow.name.to_string(),
                    functions,
                }),
        );
        let cost = |p: &routes::Route| {
            let billed = match flow.kind {
                FlowKind::Standard => p.transitions,
                FlowKind::Express => 0,
            };
            Cost {
                transitions: p.transitions,
                invocations: p.invocations,
                usd_per_million: prices.per_million(billed, p.invocations),
            }
        };
        let (before, after) = (routes::routes(&before), routes::routes(&after));
        // Fusion replaces Tasks by Tasks: the decisions, and so the paths and their order,
        // are the same in both documents.
        let paths = after
            .routes
            .iter()
            .zip(&before.routes)
            .map(|(a, b)| PathReport {
                label: a.label.clone(),
                outcome: a.outcome.clone(),
                caught: a.caught,
                per_map_item: a.per_map_item,
                before: cost(b),
                after: cost(a),
            })
            .collect();
        reports.push(FlowReport {
            flow: flow.name.to_string(),
            kind: flow.kind,
            paths,
            truncated: after.truncated || before.truncated,
        });
    }
    Ok(Report {
        project: manifest.project.clone(),
        units: plan.units.clone(),
        fused_chains,
        flows: reports,
        prices,
    })
}
