//! `flowctl build`: the functions (one `cargo build --release`, then per unit a `bootstrap` and
//! a deterministic zip with its `CodeSha256`), every flow's state machine, and the record
//! `build.json`, all under `<target>/flowctl/<project>/` (`common::build` runs it,
//! `flowctl::build` does the work). `--asl-only` compiles the flows alone, without cargo.
//! `<target>` is cargo's target directory when the project is inside a cargo workspace
//! (honouring `CARGO_TARGET_DIR`), else `<project>/target`. A file whose bytes would not
//! change is not rewritten, so a no-op build touches nothing.

use super::common::build::{build_project, compile_flows, write_flows};
use super::common::fail;
use super::common::or_exit;
use super::out::{self, note};
use super::{Exit, Global, Output};
use anyhow::Context;
use flowctl_lang::manifest::Architecture;
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only compile the flows to Amazon States Language (no cargo, no function packages)
    #[arg(long)]
    pub asl_only: bool,
    /// The Lambda architecture to build for (default: the manifest's `deploy.architecture`)
    #[arg(long, value_enum, value_name = "ARCH")]
    pub arch: Option<Arch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "arm64")]
    Arm64,
}

impl From<Arch> for Architecture {
    fn from(arch: Arch) -> Architecture {
        match arch {
            Arch::X86_64 => Architecture::X86_64,
            Arch::Arm64 => Architecture::Arm64,
        }
    }
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = global.load()?;
    if global.problem_count(&loaded) > 0 {
        return fail(global, &loaded.reports);
    }
    let project = loaded
        .project
        .as_ref()
        .context("the manifest could not be read")?;
    if args.asl_only {
        return asl_only(global, project);
    }
    let architecture = args
        .arch
        .map(Architecture::from)
        .unwrap_or(project.manifest.deploy.architecture);
    let built = or_exit!(build_project(global, project, architecture));
    if global.output == Output::Json {
        let mut answer = json!({ "ok": true, "build_json": built.path });
        if let (Value::Object(answer), Value::Object(fields)) =
            (&mut answer, serde_json::to_value(&built.record)?)
        {
            answer.extend(fields);
        }
        out::json(&answer)?;
    }
    Ok(Exit::Success)
}

/// `--asl-only`: the flows' documents alone, as before the functions were built.
fn asl_only(global: &Global, project: &flowctl::project::Project) -> anyhow::Result<Exit> {
    let flows = match compile_flows(project)? {
        Ok(flows) => flows,
        Err(problems) => return fail(global, &problems),
    };
    let target = flowctl::build::target_dir(&project.root);
    let written = write_flows(project, &flows, &target)?;
    match global.output {
        Output::Json => {
            let flows: Vec<_> = written
                .iter()
                .map(|(flow, path, changed)| json!({ "flow": flow.name, "path": path, "changed": changed }))
                .collect();
            out::json(&json!({ "ok": true, "flows": flows }))?;
        }
        Output::Text => {
            for (flow, path, changed) in &written {
                let what = if *changed { "wrote" } else { "unchanged" };
                note!("{what:>9} {} → {}", flow.name, path.display());
            }
        }
    }
    Ok(Exit::Success)
}
