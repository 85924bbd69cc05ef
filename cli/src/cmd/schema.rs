//! `flowctl schema`: the JSON Schema of flowctl.yaml, for editors; with `--tests`, that of test
//! files; with `--flow NAME`, the JSON Schemas of a flow's input (as it declares it) and output
//! (the union of its returns).

use super::common::{clean_project, find_flow, or_exit};
use super::out;
use super::{Exit, Global};
use flowctl_lang::types::schema;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the input and output schemas of this flow instead (typed after a `flowctl build`)
    #[arg(long, value_name = "NAME", conflicts_with = "tests")]
    pub flow: Option<String>,
    /// Print the JSON Schema of test files (`flows/<name>.test.yaml`) instead
    #[arg(long)]
    pub tests: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    if args.tests {
        out::json(&flowctl_testing::cases::json_schema())?;
        return Ok(Exit::Success);
    }
    let Some(flow) = &args.flow else {
        out::json(&flowctl_lang::manifest::json_schema())?;
        return Ok(Exit::Success);
    };
    let project = or_exit!(clean_project(global));
    let entry = find_flow(&project, flow)?;
    let Some(ir) = &entry.ir else {
        anyhow::bail!("flow `{flow}` has errors; `flowctl check` lists them");
    };
    let types = &project.registry.types;
    out::json(&json!({
        "flow": entry.name,
        "typed": project.typed,
        "input": schema::write(&ir.input, types),
        "output": schema::write(&ir.output, types),
    }))?;
    Ok(Exit::Success)
}
