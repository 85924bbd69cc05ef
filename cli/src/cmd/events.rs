//! `flowctl events`: send an event, list and show what the log holds, release a parked key,
//! replay an event; with `--target localstack|aws`, list a deployment's subscriptions and
//! release a deployed subscription's parked key. Writes go through a running `flowctl dev` (its control endpoints, found
//! in `.flowctl/dev.json`) so that it runs them at once; with no `dev` running they go
//! straight into the log, and the next `dev` runs them.

use super::common::local::read_input;
use super::common::target::{Target, TargetArgs};
use super::common::{clean_project, said_no, subscriptions};
use super::dev::{dev_file, log_path};
use super::out::{self, note};
use super::{Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::project::Project;
use flowctl_aws::events::ReleaseOutcome;
use flowctl_events::query::{self, Filter};
use flowctl_events::{Accepted, Incoming, Intake, Intook, Log, Routes};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    /// The event log (default: .flowctl/events.sqlite beside flowctl.yaml)
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Send an event into a source (through a running `flowctl dev`, or straight into the log)
    Send {
        /// The source, by its name in the manifest
        source: String,
        /// The payload: JSON text, `@file`, or `@-` for standard input
        #[arg(long, short, value_name = "JSON")]
        data: String,
        /// A header (for webhook `header:` locators), `Name: value`; repeatable
        #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
        headers: Vec<String>,
    },
    /// List deliveries (one row per event and subscription) and rejected messages
    Ls {
        #[arg(long)]
        subscription: Option<String>,
        #[arg(long)]
        key: Option<String>,
        /// queued, done, ko, parked or rejected
        #[arg(long, value_parser = ["queued", "done", "ko", "parked", "rejected"])]
        status: Option<String>,
        #[arg(long)]
        source: Option<String>,
        /// The newest N rows (0: all)
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// `localstack` or `aws`: each deployed subscription's queue depth, messages in flight,
        /// dead-letter depth and parked keys instead of the local log
        #[arg(long, value_enum, default_value_t = Target::Local)]
        target: Target,
        #[command(flatten)]
        aws: TargetArgs,
    },
    /// Show an event (by seq, `source/id` or id): its payload, each delivery's outcome, output and trace
    Show { event: String },
    /// Let a parked key go on: its parked event runs again (or with --skip, stays KO)
    Release {
        subscription: String,
        key: String,
        #[arg(long)]
        skip: bool,
        /// `localstack` or `aws`: release the key of the deployed subscription (its parked
        /// events go back to its queue, in order)
        #[arg(long, value_enum, default_value_t = Target::Local)]
        target: Target,
        #[command(flatten)]
        aws: TargetArgs,
    },
    /// Deliver an event again to the subscriptions that take it, behind its key's queued events
    Replay { event: String },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let project = match clean_project(global)? {
        Ok(project) => project,
        Err(exit) => return Ok(exit),
    };
    let log = log_path(&project, args.log.as_deref());
    match args.command {
        Command::Send {
            source,
            data,
            headers,
        } => send(global, &project, &log, &source, &data, &headers),
        Command::Ls {
            subscription,
            key,
            status,
            source,
            limit,
            target,
            aws,
        } => {
            if aws.place(target) != Target::Local {
                if key.is_some() || status.is_some() || source.is_some() {
                    bail!("--key, --status and --source read the local log; with --target, `events ls` shows each deployed subscription (narrow it with --subscription)");
                }
                return deployed_ls(global, &project, &aws, target, subscription.as_deref());
            }
            let filter = Filter {
                subscription,
                key,
                status,
                source,
                limit: (limit > 0).then_some(limit),
            };
            let rows = query::list(&log, &filter)?;
            if global.output == Output::Json {
                out::json(&serde_json::to_value(&rows)?)?;
                return Ok(Exit::Success);
            }
            if rows.is_empty() {
                note!("no events match (log: {})", log.display());
            }
            for r in rows {
                let seq = r.seq.map_or("-".into(), |s| format!("#{s}"));
                let what = r.error.map(|e| format!("  {e}")).unwrap_or_default();
                out::println(format_args!(
                    "{seq:>7}  {:<8}  {:<16}  {:<20}  key={:<12}  {}{}  {}{what}",
                    r.status,
                    r.subscription.as_deref().unwrap_or("-"),
                    format!("{}/{}", r.source, r.id.as_deref().unwrap_or("-")),
                    r.key
                        .as_deref()
                        .map_or("-", |k| if k.is_empty() { "\"\"" } else { k }),
                    r.event_type.as_deref().unwrap_or("-"),
                    if r.attempts > 1 {
                        format!(" ×{}", r.attempts)
                    } else {
                        String::new()
                    },
                    r.accepted_at,
                ))?;
            }
            Ok(Exit::Success)
        }
        Command::Show { event } => {
            let shown = match query::show(&log, &event) {
                Ok(shown) => shown,
                Err(flowctl_events::LogError::NoSuchEvent(e)) => {
                    bail!(
                        "no event `{e}` in {} (`flowctl events ls` lists them)",
                        log.display()
                    )
                }
                Err(e) => return Err(e.into()),
            };
            if global.output == Output::Json {
                out::json(&serde_json::to_value(&shown)?)?;
                return Ok(Exit::Success);
            }
            out::json(&shown.event)?;
            for d in &shown.deliveries {
                out::println(format_args!(
                    "\n{} (key {:?}): {}{}",
                    d.subscription,
                    d.key,
                    d.status,
                    d.finished_at
                        .as_deref()
                        .map(|t| format!(" at {t}"))
                        .unwrap_or_default()
                ))?;
                if let Some(error) = &d.error {
                    out::println(format_args!("  error: {error}"))?;
                }
                if let Some(cause) = &d.cause {
                    out::println(format_args!("  cause: {cause}"))?;
                }
                if let Some(output) = &d.output {
                    out::println(format_args!("  output: {output}"))?;
                }
                if let Some(Value::Array(trace)) = &d.trace {
                    out::println("  trace:")?;
                    for e in trace {
                        out::println(format_args!(
                            "  {:>9.1} ms  {}{}",
                            e["elapsed_ms"].as_f64().unwrap_or(0.0),
                            e["type"].as_str().unwrap_or(""),
                            e["state"]
                                .as_str()
                                .map(|s| format!("  {s}"))
                                .unwrap_or_default()
                        ))?;
                    }
                }
            }
            Ok(Exit::Success)
        }
        Command::Release {
            subscription,
            key,
            skip,
            target,
            aws,
        } => {
            if !project.manifest.subscriptions.contains_key(&subscription) {
                bail!(
                    "no subscription `{subscription}` in {}",
                    project.manifest_path.display()
                );
            }
            if aws.place(target) != Target::Local {
                return deployed_release(global, &project, &aws, target, &subscription, &key, skip);
            }
            let body = json!({"subscription": subscription, "key": key, "skip": skip});
            let released = match via_dev(&log, "release", &body)? {
                Some((_, answer)) => answer["released"].as_bool().unwrap_or(false),
                None => direct(&project, &log, |log| async move {
                    log.release(&subscription, &key, skip).await
                })??,
            };
            report(
                global,
                json!({"released": released}),
                if released {
                    "released".to_string()
                } else {
                    "that key is not parked (`flowctl events ls --status parked` lists the parked ones)".to_string()
                },
            )?;
            Ok(if released {
                Exit::Success
            } else {
                Exit::Failure
            })
        }
        Command::Replay { event } => {
            let count = match via_dev(&log, "replay", &json!({"event": event}))? {
                Some((404, answer)) => {
                    bail!("{}", answer["error"].as_str().unwrap_or("no such event"))
                }
                Some((_, answer)) => answer["deliveries"].as_u64().unwrap_or(0) as usize,
                None => direct(
                    &project,
                    &log,
                    |log| async move { log.replay(&event).await },
                )??,
            };
            report(
                global,
                json!({"deliveries": count}),
                format!("replayed to {count} subscription(s)"),
            )?;
            Ok(Exit::Success)
        }
    }
}

/// `events ls --target`: the deployed subscriptions' numbers.
fn deployed_ls(
    global: &Global,
    project: &Project,
    aws: &TargetArgs,
    target: Target,
    only: Option<&str>,
) -> anyhow::Result<Exit> {
    let place = aws.place(target);
    let connection = aws.deployed(place).connect(project)?;
    let mut rows = match subscriptions::fetch(&connection, &project.manifest) {
        Ok(rows) => rows,
        Err(err) => return said_no(global, &err.to_string()),
    };
    if let Some(only) = only {
        rows.retain(|r| r.subscription == only);
    }
    if global.output == Output::Json {
        out::json(&serde_json::to_value(&rows)?)?;
        return Ok(Exit::Success);
    }
    note!(
        "{} on {}:",
        project.manifest.project,
        aws.label(&connection.account)
    );
    if rows.is_empty() {
        note!("  no subscriptions");
    }
    subscriptions::print(&rows)?;
    if rows.iter().any(|r| !r.deployed) {
        note!("deploy them with `{}`", place.deploy_command());
    }
    Ok(Exit::Success)
}

/// `events release --target`: the parked events of a deployed subscription's key go back to
/// its queue in order, and the key is unparked.
fn deployed_release(
    global: &Global,
    project: &Project,
    aws: &TargetArgs,
    target: Target,
    subscription: &str,
    key: &str,
    skip: bool,
) -> anyhow::Result<Exit> {
    let connection = aws.deployed(aws.place(target)).connect(project)?;
    let outcome = connection.runtime.block_on(flowctl_aws::events::release(
        &connection.clients,
        &connection.account,
        &project.manifest.project,
        subscription,
        key,
        skip,
    ));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => return said_no(global, &err.to_string()),
    };
    let (released, text) = match &outcome {
        ReleaseOutcome::NotParked => (
            false,
            "that key is not parked (`flowctl events ls --target …` lists the parked keys)"
                .to_string(),
        ),
        ReleaseOutcome::Released { resent, skipped } => (
            true,
            format!(
                "released: {} event(s) sent back to the queue in order{}",
                resent.len(),
                skipped
                    .as_deref()
                    .map(|id| format!(", `{id}` skipped (it stays KO)"))
                    .unwrap_or_default()
            ),
        ),
    };
    let mut value = serde_json::to_value(&outcome)?;
    value["released"] = json!(released);
    report(global, value, text)?;
    Ok(if released {
        Exit::Success
    } else {
        Exit::Failure
    })
}

fn report(global: &Global, value: Value, text: String) -> anyhow::Result<()> {
    match global.output {
        Output::Json => out::json(&value),
        Output::Text => out::println(text),
    }
}

fn send(
    global: &Global,
    project: &Project,
    log: &Path,
    source: &str,
    data: &str,
    headers: &[String],
) -> anyhow::Result<Exit> {
    if !project.manifest.sources.contains_key(source) {
        let names: Vec<_> = project
            .manifest
            .sources
            .keys()
            .map(String::as_str)
            .collect();
        bail!(
            "no source `{source}` in {}; sources: {}",
            project.manifest_path.display(),
            names.join(", ")
        );
    }
    let payload = read_input(data)?;
    let mut pairs = Vec::new();
    for h in headers {
        let (k, v) = h
            .split_once(':')
            .with_context(|| format!("--header takes `Name: value`, got `{h}`"))?;
        pairs.push((k.trim().to_string(), v.trim().to_string()));
    }
    let answer = match via_dev_with(log, &format!("events/{source}"), &payload, &pairs)? {
        Some((_, answer)) => answer,
        None => {
            let incoming = Incoming {
                payload,
                headers: pairs,
                ..Incoming::default()
            };
            let source = source.to_string();
            let intook = direct(project, log, |log| async move {
                let intake = Intake::new(log, project.manifest.sources.clone());
                intake.submit(&source, incoming).await
            })??;
            match intook {
                Intook::Accepted(Accepted::New { seq, deliveries }) => {
                    json!({"accepted": true, "seq": seq, "deliveries": deliveries})
                }
                Intook::Accepted(Accepted::Duplicate { seq }) => {
                    json!({"duplicate": true, "seq": seq})
                }
                Intook::Rejected { reason } => json!({"rejected": true, "error": reason}),
            }
        }
    };
    let (text, exit) = if answer["accepted"] == true {
        (
            format!(
                "accepted #{} ({} deliveries)",
                answer["seq"], answer["deliveries"]
            ),
            Exit::Success,
        )
    } else if answer["duplicate"] == true {
        (
            format!("duplicate of #{}: not run again", answer["seq"]),
            Exit::Success,
        )
    } else {
        (
            format!(
                "not accepted: {}",
                answer["error"].as_str().unwrap_or("unknown error")
            ),
            Exit::Failure,
        )
    };
    report(global, answer, text)?;
    Ok(exit)
}

/// Runs `work` on the log opened without a dispatcher (no `dev` is running).
fn direct<T, F, Fut>(project: &Project, log: &Path, work: F) -> anyhow::Result<T>
where
    F: FnOnce(Log) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let routes = Routes::new(&project.manifest);
    let opened = Log::open(log, routes, None)
        .with_context(|| format!("cannot open the event log {}", log.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(work(opened)))
}

fn via_dev(log: &Path, endpoint: &str, body: &Value) -> anyhow::Result<Option<(u16, Value)>> {
    via_dev_with(log, endpoint, body, &[])
}

/// POSTs to a running `dev`'s control endpoint; `None` when no `dev` answers.
fn via_dev_with(
    log: &Path,
    endpoint: &str,
    body: &Value,
    headers: &[(String, String)],
) -> anyhow::Result<Option<(u16, Value)>> {
    let Ok(text) = std::fs::read_to_string(dev_file(log)) else {
        return Ok(None);
    };
    let Ok(dev) = serde_json::from_str::<Value>(&text) else {
        return Ok(None);
    };
    let (Some(url), Some(token)) = (dev["url"].as_str(), dev["token"].as_str()) else {
        return Ok(None);
    };
    let Some(address) = url.strip_prefix("http://") else {
        return Ok(None);
    };
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        // A `dev` that died without cleaning up: write to the log directly.
        return Ok(None);
    };
    let body = body.to_string();
    let mut request = format!(
        "POST /_flowctl/{endpoint} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream
        .write_all(request.as_bytes())
        .context("cannot reach the running `flowctl dev`")?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .context("no answer from the running `flowctl dev`")?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .context("a malformed answer from the running `flowctl dev`")?;
    let answer = response
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    if status == 401 {
        bail!(
            "the running `flowctl dev` refused the token in {}",
            dev_file(log).display()
        );
    }
    Ok(Some((status, answer)))
}
