//! What `invoke` and `dev` share to run a project on this machine: its units built for this
//! architecture and served as local Lambda processes, its flows compiled with the units'
//! names in place of the deploy-time placeholders, and the `--input` and
//! `--function-binary NAME=PATH` arguments.

use super::{compile_options, fail, flow_report};
use crate::cmd::out::note;
use crate::cmd::{Exit, Global};
use anyhow::{bail, Context};
use flowctl::local::{interpreters, LocalProcesses, UnitConfig};
use flowctl::project::{LoadedFlow, Project};
use flowctl_lang::asl;
use flowctl_lang::plan::Plan;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A flow of the project compiled as `flowctl compile` does, with `${unit:…}` placeholders
/// resolved to unit names (what `LocalProcesses` serves), and the units it calls.
/// `Ok(Err(exit))`: its diagnostics were printed.
pub fn compile_local(
    global: &Global,
    project: &Project,
    plan: &Plan,
    entry: &LoadedFlow,
) -> anyhow::Result<Result<(Value, Vec<String>), Exit>> {
    let Some(ir) = &entry.ir else {
        bail!("flow `{}` could not be checked", entry.name);
    };
    let doc = match asl::compile(ir, &compile_options(project, plan, entry, true)) {
        Ok(doc) => doc,
        Err(diagnostics) => return fail(global, &[flow_report(entry, diagnostics)]).map(Err),
    };
    let called = asl::units_of(&doc).into_iter().collect();
    let doc =
        asl::resolve_units(&doc, |unit| Some(unit.to_string())).map_err(anyhow::Error::msg)?;
    Ok(Ok((doc, called)))
}

/// Local processes serving the plan's units (all of them, or only `only`): each from the
/// binary `--function-binary` names for it or one of its functions, else from its built
/// `bootstrap` (built first, as `flowctl build` does, for this machine's architecture).
pub fn local_units(
    global: &Global,
    project: &Project,
    plan: &Plan,
    only: Option<&[String]>,
    binaries: &[(String, PathBuf)],
) -> anyhow::Result<Result<LocalProcesses, Exit>> {
    let units: Vec<_> = plan
        .units
        .iter()
        .filter(|unit| only.is_none_or(|only| only.contains(&unit.name)))
        .collect();
    let given = |unit: &flowctl_lang::plan::Unit| {
        binaries
            .iter()
            .find(|(name, _)| name == &unit.name || unit.functions.contains(name))
            .map(|(_, path)| path.clone())
    };
    let mut invoker = LocalProcesses::new();
    let mut records = Vec::new();
    if units.iter().any(|unit| given(unit).is_none()) {
        match build_for_this_machine(global, project)? {
            Ok(built) => records = built,
            Err(exit) => return Ok(Err(exit)),
        }
    }
    for unit in units {
        let record = records.iter().find(|(r, _)| r.name == unit.name);
        let config = match (given(unit), unit.code.managed(), record) {
            (Some(path), _, _) => UnitConfig::new(unit.name.as_str(), path),
            (None, Some(managed), _) => match managed_unit(project, &unit.name, managed) {
                Ok(config) => config,
                Err(err) => {
                    note!("error: {err}");
                    return Ok(Err(Exit::Failure));
                }
            },
            (None, None, Some((_, bootstrap))) => UnitConfig::new(unit.name.as_str(), bootstrap),
            (None, None, None) => bail!("unit `{}` was not built", unit.name),
        };
        let mut config = config
            .functions(unit.functions.iter().map(String::as_str))
            .memory_mb(unit.memory)
            .timeout(Duration::from_secs(unit.timeout.into()));
        for (k, v) in &unit.env {
            config = config.env(k, v);
        }
        invoker = invoker.unit(config);
    }
    Ok(Ok(invoker))
}

/// A function in a managed runtime as a local process: Python and Node.js handlers through
/// AWS's runtime interface clients (installed into the project once, said as it happens), a
/// `provided.al2023` function's own `bootstrap`.
fn managed_unit(
    project: &Project,
    unit: &str,
    managed: &flowctl_lang::manifest::Managed,
) -> Result<UnitConfig, interpreters::InterpreterError> {
    let source = project.root.join(&managed.source);
    if managed.runtime.language() == flowctl_lang::manifest::runtime::Language::Provided {
        // Lambda starts the executable its `Handler` setting names, `bootstrap`.
        let bootstrap = flowctl_lang::manifest::runtime::PROVIDED_HANDLER;
        return Ok(UnitConfig::new(unit, source.join(bootstrap)));
    }
    let launch = interpreters::prepare(
        managed.runtime.as_str(),
        &managed.handler,
        &source,
        &project.root,
        &mut |line| note!("{line}"),
    )?;
    Ok(launch.unit(unit))
}

/// `flowctl build`'s units for the architecture of this machine (a local run cannot execute
/// the other one), in a directory of their own when that differs from the manifest's.
fn build_for_this_machine(
    global: &Global,
    project: &flowctl::project::Project,
) -> anyhow::Result<Result<Vec<(flowctl::build::record::UnitRecord, PathBuf)>, Exit>> {
    use flowctl::build::{self, Options};
    use flowctl_lang::manifest::Architecture;
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
            note!(
                "{:>9} {} ({})",
                if unit.changed { "built" } else { "fresh" },
                unit.record.name,
                unit.record.origin()
            );
        }
    });
    match built {
        Ok(records) => Ok(Ok(records
            .into_iter()
            // A managed runtime's unit has no bootstrap of flowctl's to run.
            .filter_map(|r| {
                let bootstrap =
                    build::record::BuildRecord::resolve(&out_dir, r.bootstrap.as_deref()?);
                Some((r, bootstrap))
            })
            .collect())),
        Err(err) if err.is_environment() => Err(err.into()),
        Err(err) => {
            note!("error: {err}");
            Ok(Err(Exit::Failure))
        }
    }
}

/// `--input` of an execution: as [`read_input`], and refused, as `StartExecution` refuses it,
/// when it is over Step Functions' payload quota.
pub fn read_execution_input(arg: &str) -> anyhow::Result<Value> {
    let input = read_input(arg)?;
    if let Some(refusal) = flowctl_engine::refused_input(&input) {
        bail!("{refusal} Nothing was run: pass a smaller input, e.g. a reference (an S3 key, an id) to the data rather than the data");
    }
    Ok(input)
}

/// `--input`: JSON text, `@file` or `@-`.
pub fn read_input(arg: &str) -> anyhow::Result<Value> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the input from stdin")?;
            (text, "standard input".to_string())
        }
        Some(path) => (
            std::fs::read_to_string(Path::new(path))
                .with_context(|| format!("cannot read the input file {path}"))?,
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

pub fn parse_binaries(args: &[String]) -> anyhow::Result<Vec<(String, PathBuf)>> {
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
