//! `flowctl plan`: where each function runs (the colocation plan), the fused chains, and for
//! every path of every flow the state transitions, Lambda invocations and cost per million
//! executions with one Lambda per function and no fusion, then with the plan.

use super::common::{fail, flow_report};
use super::out;
use super::{Exit, Global, Output};
use anyhow::bail;
use flowctl_lang::plan::report::{self, Cost, FlowInput, PathReport, Report};
use flowctl_lang::plan::Unit;
use flowctl_lang::routes::{Outcome, Prices, LAMBDA_REQUEST_USD, STANDARD_TRANSITION_USD};
use std::fmt::Write as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Say for each unit why its functions are together, or why a function is alone
    #[arg(long)]
    pub explain: bool,
    /// Step Functions price per state transition, in USD (standard workflows)
    #[arg(long, value_name = "USD", default_value_t = STANDARD_TRANSITION_USD)]
    pub transition_price: f64,
    /// Lambda price per request, in USD
    #[arg(long, value_name = "USD", default_value_t = LAMBDA_REQUEST_USD)]
    pub request_price: f64,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = global.load()?;
    global.require_clean(&loaded)?;
    let Some(project) = loaded.project.as_ref() else {
        bail!("the manifest could not be read");
    };
    for price in [args.transition_price, args.request_price] {
        if !price.is_finite() || price < 0.0 {
            bail!("a price must be a non-negative number of USD, not {price}");
        }
    }
    let plan = project.plan();
    let sources: Vec<String> = project
        .flows
        .iter()
        .map(|f| f.entry.source.to_string_lossy().replace('\\', "/"))
        .collect();
    let flows: Vec<FlowInput<'_>> = project
        .flows
        .iter()
        .zip(&sources)
        .filter_map(|(f, source)| {
            Some(FlowInput {
                name: &f.name,
                kind: f.entry.kind,
                ir: f.ir.as_ref()?,
                source,
            })
        })
        .collect();
    let prices = Prices {
        per_transition_usd: args.transition_price,
        per_request_usd: args.request_price,
    };
    let report = match report::report(&project.manifest, &flows, &plan, prices) {
        Ok(report) => report,
        Err((flow, diagnostics)) => {
            let Some(flow) = project.flow(&flow) else {
                bail!("flow `{flow}` does not compile");
            };
            return fail(global, &[flow_report(flow, diagnostics)]);
        }
    };
    match global.output {
        Output::Json => out::json(&serde_json::to_value(&report)?)?,
        Output::Text => out::print(text(&report, args.explain))?,
    }
    Ok(Exit::Success)
}

/// The report for people: units, fused chains, then each flow's paths, before → after.
fn text(report: &Report, explain: bool) -> String {
    let mut out = String::new();
    let functions: usize = report.units.iter().map(|u| u.functions.len()).sum();
    let _ = writeln!(
        out,
        "{}: {functions} functions in {} Lambda units\n",
        report.project,
        report.units.len()
    );
    let width = report.units.iter().map(|u| u.name.len()).max().unwrap_or(0);
    for unit in &report.units {
        let _ = writeln!(out, "  {}", unit_line(unit, width));
        if explain {
            for reason in &unit.reasons {
                let _ = writeln!(out, "  {:width$}   · {reason}", "");
            }
        }
    }
    if !report.fused_chains.is_empty() {
        let _ = writeln!(out, "\nfused chains (one Task, one invocation each):");
        for chain in &report.fused_chains {
            let _ = writeln!(out, "  {}: {}", chain.flow, chain.functions.join(" → "));
        }
    }
    let _ = writeln!(
        out,
        "\nper execution: one Lambda per function, unfused → this plan; USD per million executions at ${} per 1,000 state transitions and ${} per million Lambda requests (no duration charges)",
        usd(report.prices.per_transition_usd * 1e3),
        usd(report.prices.per_request_usd * 1e6)
    );
    for flow in &report.flows {
        let kind = match flow.kind {
            flowctl_lang::manifest::FlowKind::Standard => "standard",
            flowctl_lang::manifest::FlowKind::Express => "express: transitions are not billed",
        };
        let _ = writeln!(out, "\n  {} ({kind})", flow.flow);
        for path in &flow.paths {
            let _ = writeln!(out, "    {}", path_title(path));
            let _ = writeln!(out, "      {}", counts(&path.before, &path.after));
        }
        if flow.truncated {
            let _ = writeln!(
                out,
                "    … more paths than {} (not listed)",
                flowctl_lang::routes::MAX_ROUTES
            );
        }
    }
    out
}

/// A price without float noise: at most 6 decimals, trailing zeros dropped (two kept).
fn usd(x: f64) -> String {
    let text = format!("{x:.6}");
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((whole, frac)) if frac.len() < 2 => format!("{whole}.{frac:0<2}"),
        _ => trimmed.to_string(),
    }
}

fn unit_line(unit: &Unit, width: usize) -> String {
    // A cargo unit's runtime goes without saying; a managed runtime's is named.
    let runtime = unit
        .code
        .managed()
        .map(|m| format!("{}, ", m.runtime.as_str()))
        .unwrap_or_default();
    format!(
        "{:width$}   {runtime}{} MB, {} s   {}",
        unit.name,
        unit.memory,
        unit.timeout,
        unit.functions.join(", ")
    )
}

fn path_title(path: &PathReport) -> String {
    let end = match &path.outcome {
        Outcome::Succeeds => "succeeds".to_string(),
        Outcome::Fails { error } => format!("fails with {error}"),
        Outcome::Unfinished { reason } => format!("cannot be followed: {reason}"),
    };
    let mut notes = Vec::new();
    if path.per_map_item {
        notes.push("map bodies counted for one item");
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    };
    format!("{} ⇒ {end}{notes}", path.label)
}

fn counts(before: &Cost, after: &Cost) -> String {
    let change = |b: u64, a: u64| {
        let pct = PathReport::change(b, a);
        if b == a {
            String::new()
        } else {
            format!(" ({pct:+.0}%)")
        }
    };
    format!(
        "transitions {} → {}{}, invocations {} → {}{}, ${:.2} → ${:.2}",
        before.transitions,
        after.transitions,
        change(before.transitions, after.transitions),
        before.invocations,
        after.invocations,
        change(before.invocations, after.invocations),
        before.usd_per_million,
        after.usd_per_million
    )
}
