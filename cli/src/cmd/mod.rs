//! The command line: global options, one module per subcommand (its `Args` beside its `run`),
//! and the exit-code contract. What several commands share is in `common` (a command never
//! imports another), and everything they write goes through `out`. Part of the binary, so
//! `anyhow` stays out of the library.
//!
//! Exit codes: 0 success; 1 the work ran and said no (diagnostics, a failed check);
//! 2 usage or environment errors (bad flags, missing files). A closed stdout (`| head`) ends
//! the command quietly with 0.

mod build;
mod check;
mod common;
mod compile;
mod completions;
mod deploy;
mod destroy;
mod dev;
mod events;
mod fmt;
mod graph;
mod invoke;
mod new;
mod out;
mod plan;
mod progress;
mod schema;
mod status;
mod test;

use clap::{Parser, Subcommand, ValueEnum};
use flowctl::project::{self, Loaded};
use flowctl_lang::render::{self, FileDiagnostics};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "flowctl", version, about = "Check, compile, build, deploy and run serverless flows", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// The project manifest (a file, or a directory holding flowctl.yaml); default: ./flowctl.yaml, searched upwards
    #[arg(
        short,
        long,
        global = true,
        value_name = "PATH",
        env = "FLOWCTL_MANIFEST"
    )]
    pub manifest: Option<PathBuf>,
    /// More detail (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour output (NO_COLOR is honoured by `auto`)
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Output format: text for people, json for CI (schemas in the README)
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Treat warnings (a retry that may repeat an effect, an optional field read unguarded, …) as errors
    #[arg(long, global = true)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a project from a template (basic, saga), ready to check and invoke
    New(new::Args),
    /// Check the manifest and every flow; report every problem found
    Check(check::Args),
    /// Compile one flow to a Step Functions state machine (ASL JSON on stdout)
    Compile(compile::Args),
    /// Build the functions into Lambda units (bootstrap, zip, CodeSha256) and every flow's ASL
    Build(build::Args),
    /// Run a flow (or any state machine document) on the local engine and print its output
    Invoke(invoke::Args),
    /// Run the flows' test cases on the local engine, functions mocked by name; report untaken branches
    Test(test::Args),
    /// Show which functions share a Lambda, the fused chains, and what each flow path costs
    Plan(plan::Args),
    /// Build, then deploy the project to AWS or LocalStack (plan + apply; --dry-run prints the plan)
    Deploy(deploy::Args),
    /// Show what is deployed for the project, with hashes and drift against the local build
    Status(status::Args),
    /// Delete everything deployed for the project (everything tagged flowctl:project)
    Destroy(destroy::Args),
    /// Run every source and subscription locally: events in, flows and functions invoked in order per key
    Dev(dev::Args),
    /// Send events, list and show what the event log holds, release parked keys, replay events
    Events(events::Args),
    /// Format .flow files canonically (in place, or --check)
    Fmt(fmt::Args),
    /// Draw a flow's control flow, or with --events the sources and subscriptions, as a Mermaid or Graphviz diagram
    Graph(graph::Args),
    /// Print the JSON Schema of flowctl.yaml (for editor completion and validation)
    Schema(schema::Args),
    /// Print shell completions
    Completions(completions::Args),
}

/// How a command ended, mapped to the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// The work ran and said no: diagnostics were found, a check failed.
    Failure,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New(args) => new::run(&cli.global, args),
        Command::Check(args) => check::run(&cli.global, args),
        Command::Compile(args) => compile::run(&cli.global, args),
        Command::Build(args) => build::run(&cli.global, args),
        Command::Invoke(args) => invoke::run(&cli.global, args),
        Command::Test(args) => test::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Deploy(args) => deploy::run(&cli.global, args),
        Command::Status(args) => status::run(&cli.global, args),
        Command::Destroy(args) => destroy::run(&cli.global, args),
        Command::Dev(args) => dev::run(&cli.global, args),
        Command::Events(args) => events::run(&cli.global, args),
        Command::Fmt(args) => fmt::run(&cli.global, args),
        Command::Graph(args) => graph::run(&cli.global, args),
        Command::Schema(args) => schema::run(&cli.global, args),
        Command::Completions(args) => completions::run(args),
    };
    match result {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Failure) => ExitCode::from(1),
        Err(err) if err.downcast_ref::<out::ClosedPipe>().is_some() => ExitCode::SUCCESS,
        Err(err) => {
            out::note!("error: {}", out::error_chain(&err));
            let said_no = err.downcast_ref::<DiagnosticsFound>().is_some();
            ExitCode::from(if said_no { 1 } else { 2 })
        }
    }
}

impl Global {
    /// Whether to colour what goes to stderr.
    pub fn color(&self) -> bool {
        match self.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }

    /// Finds, reads and checks the project. Missing or unreadable files are errors (exit 2);
    /// problems inside them are diagnostics in the result.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let path = project::locate(self.manifest.as_deref())?;
        Ok(project::load(&path)?)
    }

    /// The problems that fail a command: the errors, and the warnings with `--deny-warnings`.
    pub fn problem_count(&self, loaded: &Loaded) -> usize {
        loaded.error_count()
            + if self.deny_warnings {
                loaded.warning_count()
            } else {
                0
            }
    }

    /// Prints diagnostics to stderr (text) — JSON output is the caller's business.
    pub fn print_diagnostics(&self, reports: &[FileDiagnostics]) {
        if !reports.is_empty() {
            out::note_raw!("{}", render::text(reports, self.color()));
        }
    }

    /// Prints diagnostics and fails when there are errors; for commands that need a clean project.
    pub fn require_clean(&self, loaded: &Loaded) -> anyhow::Result<()> {
        self.print_diagnostics(&loaded.reports);
        match self.problem_count(loaded) {
            0 => Ok(()),
            n => Err(DiagnosticsFound(n).into()),
        }
    }
}

/// Raised by commands that cannot go on because the project has errors (exit 1, not 2).
#[derive(Debug, thiserror::Error)]
#[error("{0} error(s) found; fix them and run again (`flowctl check` lists them)")]
pub struct DiagnosticsFound(pub usize);
