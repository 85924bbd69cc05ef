//! `flowctl graph FLOW`: a flow's control flow as Mermaid or Graphviz, to look at rather than read.
//! `flowctl graph --events`: the manifest's sources → subscriptions → flows and functions.

use super::out;
use super::{Exit, Global};
use anyhow::{bail, Context};
use flowctl_lang::events_graph;
use flowctl_lang::flow::graph;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flow's name in the manifest
    #[arg(required_unless_present = "events", conflicts_with = "events")]
    pub flow: Option<String>,
    /// Draw the manifest's event sources and subscriptions (and what they invoke) instead of a flow
    #[arg(long)]
    pub events: bool,
    /// Diagram language
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = global.load()?;
    let project = loaded
        .project
        .as_ref()
        .context("the manifest has errors; run `flowctl check`")?;
    let Some(flow) = &args.flow else {
        let manifest = &project.manifest;
        if manifest.sources.is_empty() && manifest.subscriptions.is_empty() {
            bail!(
                "{} has no `sources:` or `subscriptions:` to draw (docs/events.md)",
                project.manifest_path.display()
            );
        }
        let diagram = match args.format {
            Format::Mermaid => events_graph::mermaid(manifest),
            Format::Dot => events_graph::dot(manifest),
        };
        out::print(diagram)?;
        return Ok(Exit::Success);
    };
    let flow = super::common::find_flow(project, flow)?;
    let Some(ast) = &flow.ast else {
        global.require_clean(&loaded)?;
        bail!(
            "cannot read flow `{}` from {}",
            flow.name,
            flow.path.display()
        );
    };
    let diagram = match args.format {
        Format::Mermaid => graph::mermaid(&ast.flow),
        Format::Dot => graph::dot(&ast.flow),
    };
    out::print(diagram)?;
    Ok(Exit::Success)
}
