//! `flowctl invoke`: run a flow (or any state machine document) on the embedded engine and
//! print its output; on failure, the error, the cause and the failing state. With `--remote`,
//! a hybrid run: the named functions are called on their deployed Lambdas, the rest locally.

use super::common::hybrid;
use super::common::local::{self, parse_binaries, read_execution_input, read_input};
use super::common::or_exit;
use super::common::target::{Target, TargetArgs};
use super::common::{check_input, clean_project, find_flow, said_no};
use super::out::{self, note, note_raw};
use super::progress::Progress;
use super::{Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::local::{LocalProcesses, UnitConfig};
use flowctl_engine::{self as engine, trace, ExecutionOptions, Status};
use flowctl_protocol::sfn::errors;
use flowctl_protocol::MAX_JSON_DEPTH;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flow to run: its name in the manifest
    #[arg(required_unless_present_any = ["asl", "function"], conflicts_with_all = ["asl", "function"])]
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
    /// Where to run: the embedded engine (`local`), or the deployed state machine on `localstack` or `aws`
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,
    /// Invoke one deployed function (manifest key, unit or Lambda name) with the input; needs --target localstack|aws
    #[arg(long, value_name = "NAME", conflicts_with = "asl")]
    pub function: Option<String>,
    /// Call this function (manifest key or unit; `*` for every unit) on its deployed Lambda,
    /// the rest locally: the flow runs on the local engine. Where it is deployed: --localstack,
    /// --endpoint-url, --region, --profile (else AWS's configuration chain); repeatable
    #[arg(long, value_name = "NAME", conflicts_with_all = ["asl", "function"])]
    pub remote: Vec<String>,
    /// With `--remote '*'`: keep this function (or unit) local; repeatable
    #[arg(long, value_name = "NAME", requires = "remote")]
    pub local: Vec<String>,
    // With --target: where the deployed project is (--localstack is shorthand for --target localstack).
    #[command(flatten)]
    pub aws: TargetArgs,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let hybrid = !args.remote.is_empty();
    if !hybrid && (args.target != Target::Local || args.function.is_some() || args.aws.localstack) {
        return remote(global, args);
    }
    let input = read_execution_input(&args.input)?;
    let binaries = parse_binaries(&args.function_binaries)?;
    let Prepared {
        doc,
        label,
        invoker,
        runtime,
        placed,
    } = match (&args.asl, &args.flow) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let doc: Value = match serde_json::from_str(&text) {
                Ok(doc) => doc,
                // serde_json stops past MAX_JSON_DEPTH; say so rather than "not JSON".
                Err(e) if e.to_string().starts_with("recursion limit exceeded") => bail!(
                    "{} nests more than {MAX_JSON_DEPTH} levels deep (at line {}, column {}), deeper than the JSON reader goes; no state machine needs that: flatten the value",
                    path.display(),
                    e.line(),
                    e.column()
                ),
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "{} is not JSON; a state machine document is a JSON object",
                        path.display()
                    )))
                }
            };
            let invoker = binaries
                .iter()
                .fold(LocalProcesses::new(), |inv, (name, binary)| {
                    inv.unit(UnitConfig::new(name.as_str(), binary))
                });
            Prepared {
                doc,
                label: path.display().to_string(),
                invoker: Box::new(invoker),
                runtime: local_runtime()?,
                placed: None,
            }
        }
        (None, Some(flow)) => or_exit!(project_flow(global, flow, &binaries, &input, &args)),
        (None, None) => bail!("name a flow to run, or pass --asl FILE"),
    };
    let machine = match engine::load(&doc) {
        Ok(machine) => machine,
        Err(errors) => {
            for e in &errors {
                note!("error: {label}: {e}");
            }
            bail!(
                "{label} is not a valid state machine ({} problem(s)); nothing was run",
                errors.len()
            );
        }
    };

    let options = ExecutionOptions {
        name: args
            .name
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        ..ExecutionOptions::default()
    };
    let execution = runtime.block_on(engine::execute(&machine, input, &*invoker, &options));
    drop(invoker);

    let placed = placed.as_deref().unwrap_or(&|_| None);
    if args.trace {
        note_raw!(
            "{}",
            trace::timeline_placed(&execution.history, global.color(), placed)
        );
    }
    let succeeded = execution.status == Status::Succeeded;
    match global.output {
        Output::Json => {
            let error = execution.error.as_ref();
            let report = json!({
                "name": options.name,
                "status": format!("{:?}", execution.status).to_uppercase(),
                "output": execution.output.as_deref(),
                "error": error.map(|e| &e.error),
                "cause": error.map(|e| &e.cause),
                "failed_state": execution.failed_state,
                "transitions": execution.transitions,
                "history": if args.trace { trace::events_json_placed(&execution.history, placed) } else { Value::Null },
            });
            out::json(&report)?;
        }
        Output::Text => {
            if let Some(output) = &execution.output {
                out::json(output)?;
            }
            if !succeeded {
                let error = execution
                    .error
                    .clone()
                    .unwrap_or_else(|| engine::TaskError::new(errors::RUNTIME, ""));
                let state = execution.failed_state.as_deref().unwrap_or("(unknown)");
                note!(
                    "execution {:?}: {} in state `{state}`",
                    execution.status,
                    error.error
                );
                if !error.cause.is_empty() {
                    note!("cause: {}", error.cause);
                }
            }
        }
    }
    Ok(if succeeded {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// A document ready to run: what calls its functions, the runtime to run it on, and, in a
/// hybrid run, where each called function runs (for the trace).
struct Prepared {
    doc: Value,
    label: String,
    invoker: Box<dyn engine::Invoker>,
    runtime: tokio::runtime::Runtime,
    placed: Option<hybrid::Placed>,
}

fn local_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A project flow ready to run: compiled with unit names in place of the placeholders, and
/// local processes serving the units it calls — or, for the units `--remote` names, their
/// deployed Lambdas. `Ok(Err(exit))`: diagnostics, a failed build or a missing deployed
/// function were printed.
fn project_flow(
    global: &Global,
    flow: &str,
    binaries: &[(String, PathBuf)],
    input: &Value,
    args: &Args,
) -> anyhow::Result<Result<Prepared, Exit>> {
    let loaded = global.load()?;
    let Some(project) = loaded.project.as_ref() else {
        global.require_clean(&loaded)?;
        bail!("the manifest could not be read");
    };
    let entry = find_flow(project, flow)?;
    if entry.ir.is_none() {
        global.require_clean(&loaded)?;
    }
    let plan = project.plan();
    let (doc, called) = match local::compile_local(global, project, &plan, entry)? {
        Ok(compiled) => compiled,
        Err(exit) => return Ok(Err(exit)),
    };
    let deployed = hybrid::deployed_units(project, &plan, &args.remote, &args.local)?;
    let remote = if deployed.is_empty() {
        None
    } else {
        match hybrid::connect(global, project, &args.aws, args.target, &deployed)? {
            Ok(remote) => Some(remote),
            Err(exit) => return Ok(Err(exit)),
        }
    };
    let local_called: Vec<String> = called
        .iter()
        .filter(|unit| !deployed.contains(*unit))
        .cloned()
        .collect();
    let invoker = match local::local_units(global, project, &plan, Some(&local_called), binaries)? {
        Ok(invoker) => invoker,
        Err(exit) => return Ok(Err(exit)),
    };
    // The build has just described the functions: check the flow again with their types,
    // and the input against the flow's input type, before anything runs.
    let loaded = global.load()?;
    let Some(typed) = loaded.project.as_ref() else {
        global.require_clean(&loaded)?;
        bail!("the manifest could not be read");
    };
    let typed_entry = find_flow(typed, flow)?;
    if typed_entry.ir.is_none() || global.problem_count(&loaded) > 0 {
        global.require_clean(&loaded)?;
    } else if loaded.warning_count() > 0 {
        global.print_diagnostics(&loaded.reports);
    }
    if let Err(exit) = check_input(global, typed, typed_entry, input)? {
        return Ok(Err(exit));
    }
    let label = entry.path.display().to_string();
    Ok(Ok(match remote {
        None => Prepared {
            doc,
            label,
            invoker: Box::new(invoker),
            runtime: local_runtime()?,
            placed: None,
        },
        Some(remote) => {
            let (invoker, runtime, placed) = remote.with_local(invoker);
            Prepared {
                doc,
                label,
                invoker: Box::new(invoker),
                runtime,
                placed: Some(placed),
            }
        }
    }))
}

/// `--target localstack|aws`: the deployed state machine (standard: start and poll with a
/// spinner; express: synchronously), or with `--function` one deployed function.
fn remote(global: &Global, args: Args) -> anyhow::Result<Exit> {
    use flowctl_aws::invoke as aws_invoke;
    use flowctl_lang::manifest::{names, FlowKind};
    let target = args.aws.place(args.target);
    if target == Target::Local {
        bail!("--function invokes a deployed function: add --target localstack or --target aws (locally, run a flow that calls it)");
    }
    let input = read_input(&args.input)?;
    let project = or_exit!(clean_project(global));
    let target_args = args.aws.deployed(target);
    let connection = target_args.connect(&project)?;
    let deploy_hint = target.deploy_command();
    let project_name = &project.manifest.project;

    if let Some(function) = &args.function {
        let plan = project.plan();
        let mut input = input;
        let lambda = if let Some(unit) = plan.unit_of(function) {
            // A unit serving several functions is told which one to run, as a flow's Task
            // tells it.
            if unit.functions.len() > 1 {
                input = json!({
                    flowctl_lang::asl::ENVELOPE_FUNCTION: function,
                    flowctl_lang::asl::ENVELOPE_PAYLOAD: input,
                });
            }
            names::unit_lambda_name(project_name, &unit.name)
        } else if function.starts_with(&format!("{project_name}-")) || function.starts_with("arn:")
        {
            function.clone()
        } else {
            names::unit_lambda_name(project_name, function)
        };
        let answer = match connection.runtime.block_on(aws_invoke::invoke_function(
            &connection.clients,
            &lambda,
            &input,
        )) {
            Ok(answer) => answer,
            Err(err) if err.code.as_deref() == Some("ResourceNotFoundException") => {
                return said_no(global, &format!("{err} (is it deployed? `{deploy_hint}`)"))
            }
            Err(err) => return said_no(global, &err.to_string()),
        };
        match global.output {
            Output::Json => out::json(
                &json!({ "function": lambda, "payload": answer.payload, "error": answer.error }),
            )?,
            Output::Text => {
                out::json(&answer.payload)?;
                if let Some(error) = &answer.error {
                    note!("function {lambda} failed ({error})");
                }
            }
        }
        return Ok(if answer.error.is_none() {
            Exit::Success
        } else {
            Exit::Failure
        });
    }

    let flow = args
        .flow
        .as_deref()
        .context("name a flow to run, or pass --function NAME")?;
    let entry = find_flow(&project, flow)?;
    if let Err(exit) = check_input(global, &project, entry, &input)? {
        return Ok(exit);
    }
    let machine = names::state_machine_name(project_name, &entry.name);
    let arn = connection.account.state_machine_arn(&machine);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let progress = Progress::spinner(
        global,
        format!("waiting for execution {name} of {machine} to finish"),
    );
    let result = connection.runtime.block_on(async {
        match entry.entry.kind {
            FlowKind::Standard => {
                aws_invoke::run_standard(&connection.clients, &arn, &name, &input).await
            }
            FlowKind::Express => {
                let custom = target_args.is_custom_endpoint();
                aws_invoke::run_express(&connection.clients, &arn, &name, &input, custom).await
            }
        }
    });
    progress.finish();
    let execution = match result {
        Ok(execution) => execution,
        Err(err) if err.code.as_deref() == Some("StateMachineDoesNotExist") => {
            return said_no(global, &format!("{err} (deploy it first: `{deploy_hint}`)"))
        }
        Err(err) => return said_no(global, &err.to_string()),
    };
    let succeeded = execution.succeeded();
    match global.output {
        Output::Json => {
            let report = json!({
                "name": execution.name,
                "execution_arn": execution.arn,
                "status": execution.status,
                "output": execution.output,
                "error": execution.error,
                "cause": execution.cause,
                "failed_state": execution.failed_state,
            });
            out::json(&report)?;
        }
        Output::Text => {
            if let Some(output) = &execution.output {
                out::json(output)?;
            }
            if !succeeded {
                let error = execution.error.as_deref().unwrap_or("(no error name)");
                let state = execution.failed_state.as_deref().unwrap_or("(unknown)");
                note!(
                    "execution {} {}: {error} in state `{state}`",
                    execution.name,
                    execution.status
                );
                if let Some(cause) = execution.cause.as_deref().filter(|c| !c.is_empty()) {
                    note!("cause: {cause}");
                }
            }
        }
    }
    Ok(if succeeded {
        Exit::Success
    } else {
        Exit::Failure
    })
}
