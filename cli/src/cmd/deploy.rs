//! `flowctl deploy`: build (as `flowctl build` does), then plan and apply the project on AWS or
//! LocalStack through the SDK (`flowctl::aws`). `--dry-run` prints the plan and changes
//! nothing; `--prune` deletes what the manifest no longer has. The target options and the
//! connection set-up here are shared by `destroy`, `status` and `invoke --target`.

use super::{build, Exit, Global, Output};
use anyhow::Context;
use flowctl::aws::apply::{self, Done};
use flowctl::aws::config::Target;
use flowctl::aws::model::{self, Account};
use flowctl::aws::plan::{self, Action, Plan, Step};
use flowctl::aws::{observe, Clients};
use flowctl::build::record::BuildRecord;
use flowctl::project::Project;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where to deploy: the standard AWS configuration chain, overridden by these.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Talk to LocalStack: http://localhost:4566 (or $LOCALSTACK_ENDPOINT / --endpoint-url), its test credentials and us-east-1 unless configured
    #[arg(long)]
    pub localstack: bool,
    /// Send every AWS request to this URL (LocalStack, moto, a proxy)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS region (default: the manifest's deploy.region, then the AWS configuration)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// A named profile of the shared AWS configuration (~/.aws/config)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the plan (creates, updates, deletes, unchanged) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Delete resources tagged for the project that the manifest no longer has
    #[arg(long)]
    pub prune: bool,
    /// Deploy the last build as it is (its build.json), without running the build first
    #[arg(long)]
    pub no_build: bool,
    /// How many resources to create or update at once (1: one after the other)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

/// A connection to the target: the runtime, the clients and the account.
pub struct Connection {
    pub runtime: tokio::runtime::Runtime,
    pub clients: Clients,
    pub account: Account,
}

/// Checks the endpoint answers (exit 2 when not), loads the configuration and asks STS who we are.
pub fn connect(args: &TargetArgs, project: &Project) -> anyhow::Result<Connection> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let target = Target {
        endpoint: args.endpoint_url.clone(),
        region: args
            .region
            .clone()
            .or_else(|| project.manifest.deploy.region.clone()),
        profile: args.profile.clone(),
        localstack: args.localstack,
    };
    let (clients, account) = runtime.block_on(async {
        target.check_endpoint().await?;
        let config = target.load().await?;
        let clients = Clients::new(&config);
        let account = clients.account(&config).await?;
        Ok::<_, flowctl::aws::config::ConfigError>((clients, account))
    })?;
    Ok(Connection {
        runtime,
        clients,
        account,
    })
}

/// The project, loaded and free of errors.
pub fn project(global: &Global) -> anyhow::Result<Result<Project, Exit>> {
    let loaded = global.load()?;
    if loaded.error_count() > 0 {
        global.print_diagnostics(&loaded.reports);
        return Ok(Err(Exit::Failure));
    }
    Ok(Ok(loaded
        .project
        .context("the manifest could not be read")?))
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let project = match project(global)? {
        Ok(project) => project,
        Err(exit) => return Ok(exit),
    };
    // Whether the target answers, before minutes of building.
    let connection = connect(&args.target, &project)?;
    // The build, exactly as `flowctl build` does it (its progress goes to stderr).
    let quiet = Global {
        manifest: global.manifest.clone(),
        verbose: global.verbose,
        color: global.color,
        output: Output::Text,
    };
    if !args.no_build
        && build::run(
            &quiet,
            build::Args {
                asl_only: false,
                arch: None,
            },
        )? != Exit::Success
    {
        return Ok(Exit::Failure);
    }
    let out_dir = flowctl::build::out_dir(
        &flowctl::build::target_dir(&project.root),
        &project.manifest.project,
    );
    let record = BuildRecord::read(&out_dir).with_context(|| {
        format!(
            "no readable build record in {}; run `flowctl build`",
            out_dir.display()
        )
    })?;
    let desired = model::desired(&record, &out_dir, &project.manifest, &connection.account)?;
    let clients = &connection.clients;
    let observed = match connection
        .runtime
        .block_on(observe::observe(clients, &desired.project))
    {
        Ok(observed) => observed,
        Err(err) => return said_no(global, &err.to_string()),
    };
    let plan = plan::plan(&desired, &observed, args.prune);
    let target = target_label(&connection.account, &args.target);

    if args.dry_run {
        match global.output {
            Output::Json => print_json(
                &json!({ "ok": true, "dry_run": true, "target": target, "steps": plan.steps, "summary": summary(&plan) }),
            )?,
            Output::Text => {
                eprintln!("plan for {} on {target}:", desired.project);
                print_plan(&plan);
                eprintln!("{}", summary_line(&plan));
            }
        }
        return Ok(Exit::Success);
    }

    let text = global.output == Output::Text;
    let total = plan.mutations().count();
    if text {
        if total == 0 {
            eprintln!(
                "{} is up to date on {target} ({} resource(s) unchanged)",
                desired.project,
                plan.count(Action::Unchanged)
            );
        } else {
            eprintln!(
                "deploying {} to {target}: {}",
                desired.project,
                summary_line(&plan)
            );
        }
        for step in plan.steps.iter().filter(|s| s.action == Action::Orphaned) {
            eprintln!(
                "   note: {} {} is no longer in the manifest; `--prune` deletes it",
                step.kind.as_str(),
                step.name
            );
        }
    }
    let finished = AtomicUsize::new(0);
    let progress = |done: Done<'_>| {
        let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
        if !text {
            return;
        }
        match done.result {
            Ok(()) => eprintln!(
                "  [{n}/{total}] {} {} {} ({:.1} s)",
                past(done.step),
                done.step.kind.as_str(),
                done.step.name,
                done.elapsed.as_secs_f64()
            ),
            Err(err) => eprintln!(
                "  [{n}/{total}] FAILED {} {}: {err}",
                done.step.kind.as_str(),
                done.step.name
            ),
        }
    };
    let outcome = connection.runtime.block_on(apply::apply(
        clients,
        &desired,
        &plan,
        args.concurrency,
        &progress,
    ));
    report(global, &plan, &outcome, json!({ "target": target }))
}

/// Prints the result of applying a plan; exit 1 when a step failed.
pub fn report(
    global: &Global,
    plan: &Plan,
    outcome: &apply::Outcome,
    extra: Value,
) -> anyhow::Result<Exit> {
    match global.output {
        Output::Json => {
            let failed: Vec<Value> = outcome
                .failed
                .iter()
                .map(|(s, e)| json!({ "kind": s.kind, "name": s.name, "action": s.action, "operation": e.operation, "code": e.code, "error": e.message }))
                .collect();
            let mut answer = json!({
                "ok": outcome.ok(),
                "steps": plan.steps,
                "summary": summary(plan),
                "failed": failed,
                "skipped": outcome.skipped,
            });
            if let (Value::Object(answer), Value::Object(extra)) = (&mut answer, extra) {
                answer.extend(extra);
            }
            print_json(&answer)?;
        }
        Output::Text => {
            for (step, err) in &outcome.failed {
                eprintln!(
                    "error: {} {} was not {}: {err}",
                    step.kind.as_str(),
                    step.name,
                    past(step)
                );
            }
            if !outcome.skipped.is_empty() {
                eprintln!("{} step(s) not attempted after the failure; run the command again once it is fixed (it picks up where this run stopped)", outcome.skipped.len());
            } else if outcome.ok() && !plan.is_noop() {
                eprintln!("done: {}", summary_line(plan));
            }
        }
    }
    Ok(if outcome.ok() {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// `AWS account 123456789012 in eu-west-1` or `http://… (account …, eu-west-1)`.
pub fn target_label(account: &Account, args: &TargetArgs) -> String {
    let endpoint = args.endpoint_url.clone().or_else(|| {
        args.localstack.then(|| {
            std::env::var("LOCALSTACK_ENDPOINT")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| flowctl::aws::config::LOCALSTACK_ENDPOINT.into())
        })
    });
    match endpoint {
        Some(url) => format!("{url} (account {}, {})", account.id, account.region),
        None => format!("AWS account {} in {}", account.id, account.region),
    }
}

fn past(step: &Step) -> &'static str {
    match step.action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Unchanged => "unchanged",
        Action::Orphaned => "kept",
    }
}

pub fn print_plan(plan: &Plan) {
    for step in &plan.steps {
        let sign = match step.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::Unchanged => "=",
            Action::Orphaned => "!",
        };
        let changes = if step.changes.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = step
                .changes
                .iter()
                .map(|c| {
                    serde_json::to_value(c)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect();
            format!(" ({})", names.join(", "))
        };
        let note = if step.action == Action::Orphaned {
            "  — not in the manifest; --prune deletes it"
        } else {
            ""
        };
        eprintln!(
            "  {sign} {:<9} {:<13} {}{changes}{note}",
            step.action.as_str(),
            step.kind.as_str(),
            step.name
        );
    }
}

fn summary(plan: &Plan) -> Value {
    let mut counts = serde_json::Map::new();
    for action in [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::Unchanged,
        Action::Orphaned,
    ] {
        counts.insert(action.as_str().to_string(), json!(plan.count(action)));
    }
    Value::Object(counts)
}

pub fn summary_line(plan: &Plan) -> String {
    let parts: Vec<String> = [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::Unchanged,
        Action::Orphaned,
    ]
    .into_iter()
    .filter_map(|a| match plan.count(a) {
        0 => None,
        n => Some(
            format!("{n} to {}", a.as_str())
                .replace("to unchanged", "unchanged")
                .replace("to orphaned", "orphaned"),
        ),
    })
    .collect();
    if parts.is_empty() {
        "nothing to do".into()
    } else {
        parts.join(", ")
    }
}

/// The work ran and AWS said no: the reason, then exit 1.
pub fn said_no(global: &Global, message: &str) -> anyhow::Result<Exit> {
    match global.output {
        Output::Json => print_json(&json!({ "ok": false, "error": message }))?,
        Output::Text => eprintln!("error: {message}"),
    }
    Ok(Exit::Failure)
}

/// Prints a JSON answer on stdout; a reader that went away (`| head`) is not an error.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(value)?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}
