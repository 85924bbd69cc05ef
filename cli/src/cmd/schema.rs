//! `flowctl schema`: the JSON Schema of flowctl.yaml, for editors.

use super::{Exit, Global};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_global: &Global, _args: Args) -> anyhow::Result<Exit> {
    println!(
        "{}",
        serde_json::to_string_pretty(&flowctl::manifest::json_schema())?
    );
    Ok(Exit::Success)
}
