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
    let (doc, label, units) = match (&args.asl, &args.flow) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let doc: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON; a state machine document is a JSON object", path.display()))?;
            (doc, path.display().to_string(), Vec::new())
        }
        (None, Some(flow)) => match compile_flow(global, flow)? {
            Ok(compiled) => compiled,
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

    let mut invoker = LocalProcesses::new();
    for (name, binary) in &binaries {
        let unit = units.iter().find(|u: &&UnitInfo| &u.function == name || &u.unit == name);
        let mut config = UnitConfig::new(unit.map_or(name.as_str(), |u| u.unit.as_str()), binary);
        if let Some(u) = unit {
            config = config
                .functions([u.function.as_str()])
                .memory_mb(u.memory)
                .timeout(Duration::from_secs(u.timeout.into()));
            for (k, v) in &u.env {
                config = config.env(k, v);
            }
        }
        invoker = invoker.unit(config);
    }
    let missing: Vec<&str> = units
        .iter()
        .filter(|u| !binaries.iter().any(|(n, _)| n == &u.function || n == &u.unit))
        .map(|u| u.function.as_str())
        .collect();
    if !missing.is_empty() {
        bail!(
            "no local binary for {}: pass `--function-binary NAME=path/to/bootstrap` for each (a Lambda binary built with lambda_runtime)",
            missing.join(", ")
        );
    }

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

/// What the command needs to know about one function of the project.
struct UnitInfo {
    function: String,
    unit: String,
    memory: u32,
    timeout: u32,
    env: Vec<(String, String)>,
}

/// Compiles a project flow (as `flowctl compile` does); its unit placeholders become the unit
/// names the local invoker serves.
/// `Ok(Err(exit))`: the flow did not compile and its diagnostics are printed.
fn compile_flow(global: &Global, flow: &str) -> anyhow::Result<Result<Compiled, Exit>> {
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
    let opts = compile::options(project, entry);
    let doc = match asl::compile(ir, &opts) {
        Ok(doc) => doc,
        Err(diagnostics) => return compile::fail(global, &[compile::report(entry, diagnostics)]).map(Err),
    };
    let called = asl::units_of(&doc);
    let doc = asl::resolve_units(&doc, |unit| Some(unit.to_string())).map_err(anyhow::Error::msg)?;
    let units = opts
        .units
        .iter()
        .filter(|(_, unit)| called.iter().any(|c| c == *unit))
        .map(|(function, unit)| {
            let f = &project.manifest.functions[function];
            UnitInfo {
                function: function.clone(),
                unit: unit.clone(),
                memory: f.memory,
                timeout: f.timeout,
                env: f.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            }
        })
        .collect();
    Ok(Ok((doc, entry.path.display().to_string(), units)))
}

type Compiled = (Value, String, Vec<UnitInfo>);

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
