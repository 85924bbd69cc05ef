//! `flowctl graph FLOW`: a flow's control flow as Mermaid or Graphviz, to look at rather than read.

use super::out;
use super::{Exit, Global};
use anyhow::{bail, Context};
use flowctl_lang::flow::graph;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flow's name in the manifest
    pub flow: String,
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
    let flow = super::common::find_flow(project, &args.flow)?;
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
