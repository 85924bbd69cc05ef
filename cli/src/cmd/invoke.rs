//! `flowctl invoke`: run a flow (or any state machine document) on the embedded engine and
//! print its output; on failure, the error, the cause and the failing state.

use super::{compile, Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::asl;
use flowctl::engine::{self, ExecutionOptions, Status};
use flowctl::local::{LocalProcesses, UnitConfig};
use flowctl::trace;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flow to run: its name in the manifest
    #[arg(required_unless_present = "asl", conflicts_with = "asl")]
    pub flow: Option<String>,
    /// Run this state machine document (ASL JSON) instead of a flow of the project
    #[arg(long, value_name = "FILE")]
    pub asl: Option<PathBuf>,
    /// The execution input: JSON text, `@file`, or `@-` for standard input
    #[arg(long, short, default_value = "{}", value_name = "JSON")]
    pub input: String,
    /// Run function NAME (a manifest function, a unit, or the name/ARN the document calls) with
    /// the Lambda binary at PATH, served through flowctl's Lambda Runtime API emulator; repeatable
    #[arg(long = "function-binary", value_name = "NAME=PATH")]
    pub function_binaries: Vec<String>,
    /// Show the execution history as a timeline (on stderr)
    #[arg(long)]
    pub trace: bool,
    /// The execution's name (default: a new UUID)
    #[arg(long)]
    pub name: Option<String>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let input = read_input(&args.input)?;
    let binaries = parse_binaries(&args.function_binaries)?;
    let (doc, label, invoker) = match (&args.asl, &args.flow) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let doc: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON; a state machine document is a JSON object", path.display()))?;
            let invoker = binaries
                .iter()
                .fold(LocalProcesses::new(), |inv, (name, binary)| inv.unit(UnitConfig::new(name.as_str(), binary)));
            (doc, path.display().to_string(), invoker)
        }
        (None, Some(flow)) => match project_flow(global, flow, &binaries)? {
            Ok(prepared) => prepared,
            Err(exit) => return Ok(exit),
        },
        (None, None) => bail!("name a flow to run, or pass --asl FILE"),
    };
    let machine = match engine::load(&doc) {
        Ok(machine) => machine,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {label}: {e}");
            }
            bail!("{label} is not a valid state machine ({} problem(s)); nothing was run", errors.len());
        }
    };

    let options = ExecutionOptions {
        name: args.name.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        ..ExecutionOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let execution = runtime.block_on(engine::execute(&machine, input, &invoker, &options));
    drop(invoker);

    if args.trace {
        eprint!("{}", trace::timeline(&execution.history, global.color()));
    }
    let succeeded = execution.status == Status::Succeeded;
    match global.output {
        Output::Json => {
            let error = execution.error.as_ref();
            let report = json!({
                "name": options.name,
                "status": format!("{:?}", execution.status).to_uppercase(),
                "output": execution.output,
                "error": error.map(|e| &e.error),
                "cause": error.map(|e| &e.cause),
                "failed_state": execution.failed_state,
                "transitions": execution.transitions,
                "history": if args.trace { trace::events_json(&execution.history) } else { Value::Null },
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Output::Text => {
            if let Some(output) = &execution.output {
                println!("{}", serde_json::to_string_pretty(output)?);
            }
            if !succeeded {
                let error = execution.error.clone().unwrap_or_else(|| engine::TaskError::new("States.Runtime", ""));
                let state = execution.failed_state.as_deref().unwrap_or("(unknown)");
                eprintln!("execution {:?}: {} in state `{state}`", execution.status, error.error);
                if !error.cause.is_empty() {
                    eprintln!("cause: {}", error.cause);
                }
            }
        }
    }
    Ok(if succeeded { Exit::Success } else { Exit::Failure })
}

/// A project flow ready to run: compiled as `flowctl compile` does (placeholders resolved to
/// unit names), and an invoker serving each unit it calls from the unit's built `bootstrap`.
/// Units are built first, as `flowctl build` does, for this machine's architecture; a unit
/// named in `--function-binary` uses that binary instead. `Ok(Err(exit))`: diagnostics or a
/// failed build were printed.
fn project_flow(
    global: &Global,
    flow: &str,
    binaries: &[(String, PathBuf)],
) -> anyhow::Result<Result<(Value, String, LocalProcesses), Exit>> {
    let loaded = global.load()?;
    let Some(project) = loaded.project.as_ref() else {
        global.require_clean(&loaded)?;
        bail!("the manifest could not be read");
    };
    let entry = compile::find(project, flow)?;
    let Some(ir) = &entry.ir else {
        global.require_clean(&loaded)?;
        bail!("flow `{flow}` could not be checked");
    };
    let doc = match asl::compile(ir, &compile::options(project, entry)) {
        Ok(doc) => doc,
        Err(diagnostics) => return compile::fail(global, &[compile::report(entry, diagnostics)]).map(Err),
    };
    let called = asl::units_of(&doc);
    let doc = asl::resolve_units(&doc, |unit| Some(unit.to_string())).map_err(anyhow::Error::msg)?;
    let label = entry.path.display().to_string();

    let plan: Vec<_> = flowctl::build::plan::one_unit_per_function(&project.manifest)
        .into_iter()
        .filter(|unit| called.contains(&unit.name))
        .collect();
    let given = |unit: &flowctl::build::plan::UnitPlan| {
        binaries
            .iter()
            .find(|(name, _)| name == &unit.name || unit.functions.contains(name))
            .map(|(_, path)| path.clone())
    };
    let mut invoker = LocalProcesses::new();
    let mut records = Vec::new();
    if plan.iter().any(|unit| given(unit).is_none()) {
        match build_for_this_machine(global, project)? {
            Ok(built) => records = built,
            Err(exit) => return Ok(Err(exit)),
        }
    }
    for unit in &plan {
        let record = records.iter().find(|(r, _)| r.name == unit.name);
        let binary = match (given(unit), record) {
            (Some(path), _) => path,
            (None, Some((_, bootstrap))) => bootstrap.clone(),
            (None, None) => bail!("unit `{}` was not built", unit.name),
        };
        let mut config = UnitConfig::new(unit.name.as_str(), binary)
            .functions(unit.functions.iter().map(String::as_str))
            .memory_mb(unit.memory)
            .timeout(Duration::from_secs(unit.timeout.into()));
        for (k, v) in &unit.env {
            config = config.env(k, v);
        }
        invoker = invoker.unit(config);
    }
    Ok(Ok((doc, label, invoker)))
}

/// `flowctl build`'s units for the architecture of this machine (a local run cannot execute
/// the other one), in a directory of their own when that differs from the manifest's.
fn build_for_this_machine(
    global: &Global,
    project: &flowctl::project::Project,
) -> anyhow::Result<Result<Vec<(flowctl::build::record::UnitRecord, PathBuf)>, Exit>> {
    use flowctl::build::{self, Options};
    use flowctl::manifest::Architecture;
    let architecture = match std::env::consts::ARCH {
        "aarch64" => Architecture::Arm64,
        _ => Architecture::X86_64,
    };
    let target = build::target_dir(&project.root);
    let mut out_dir = build::out_dir(&target, &project.manifest.project);
    if architecture != project.manifest.deploy.architecture {
        out_dir = out_dir.join(format!("local-{}", architecture.as_str()));
    }
    let options = Options {
        architecture,
        out_dir: out_dir.clone(),
        color: if global.color() { "always" } else { "never" },
    };
    let verbose = global.verbose > 0;
    let built = build::build_units(project, &options, &mut |unit| {
        if verbose || unit.changed {
            eprintln!("{:>9} {} ({})", if unit.changed { "built" } else { "fresh" }, unit.record.name, unit.record.package);
        }
    });
    match built {
        Ok(records) => Ok(Ok(records
            .into_iter()
            .map(|r| {
                let bootstrap = build::record::BuildRecord::resolve(&out_dir, &r.bootstrap);
                (r, bootstrap)
            })
            .collect())),
        Err(err) if err.is_environment() => Err(err.into()),
        Err(err) => {
            eprintln!("error: {err}");
            Ok(Err(Exit::Failure))
        }
    }
}

/// `--input`: JSON text, `@file` or `@-`.
fn read_input(arg: &str) -> anyhow::Result<Value> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("cannot read the input from stdin")?;
            (text, "standard input".to_string())
        }
        Some(path) => (
            std::fs::read_to_string(Path::new(path)).with_context(|| format!("cannot read the input file {path}"))?,
            path.to_string(),
        ),
        None => (arg.to_string(), "--input".to_string()),
    };
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "the input from {origin} is not JSON: {e} (strings need quotes: --input '\"text\"'; objects: --input '{{\"id\": 1}}')"
        )
    })
}

fn parse_binaries(args: &[String]) -> anyhow::Result<Vec<(String, PathBuf)>> {
    args.iter()
        .map(|arg| {
            let (name, path) = arg
                .split_once('=')
                .with_context(|| format!("--function-binary takes NAME=PATH, got `{arg}`"))?;
            let path = PathBuf::from(path);
            if !path.is_file() {
                bail!("--function-binary {name}: no file at {}", path.display());
            }
            Ok((name.to_string(), path))
        })
        .collect()
}
