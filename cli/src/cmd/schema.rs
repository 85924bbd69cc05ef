//! `flowctl schema`: the JSON Schema of flowctl.yaml, for editors.

use super::out;
use super::{Exit, Global};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_global: &Global, _args: Args) -> anyhow::Result<Exit> {
    out::json(&flowctl_lang::manifest::json_schema())?;
    Ok(Exit::Success)
}
