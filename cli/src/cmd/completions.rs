//! `flowctl completions SHELL`: shell completion scripts.

use super::out;
use super::{Cli, Exit};
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    // Into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "flowctl", &mut script);
    out::print(String::from_utf8_lossy(&script))?;
    Ok(Exit::Success)
}
