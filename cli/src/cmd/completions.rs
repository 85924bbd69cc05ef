//! `flowctl completions SHELL`: shell completion scripts.

use super::{Cli, Exit};
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "flowctl",
        &mut std::io::stdout(),
    );
    Ok(Exit::Success)
}
