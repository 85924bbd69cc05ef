//! `flowctl dev`: every source and subscription of the project in one process, on the
//! embedded engine with functions as local Lambda processes, over the durable event log;
//! rebuilt and restarted when the project's files change; Ctrl-C drains and stops.

use super::common::clean_project;
use super::common::local::{self, parse_binaries};
use super::out::note;
use super::{Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::local::LocalTargets;
use flowctl::project::Project;
use flowctl_events::dispatch::{Observe, Report, What};
use flowctl_events::source::{self, Notes};
use flowctl_events::{Intake, Routes, Runtime};
use flowctl_lang::manifest::events::SourceKind;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// The port `flowctl dev` serves webhooks and its control endpoints on (as `cargo lambda watch`).
pub const DEFAULT_PORT: u16 = 9000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port of the HTTP server for webhooks and the control endpoints (`flowctl events` use it)
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Address to listen on (loopback by default; webhooks from elsewhere need 0.0.0.0)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The event log (default: .flowctl/events.sqlite beside flowctl.yaml)
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Run function NAME (a manifest function or a unit) with the Lambda binary at PATH; repeatable
    #[arg(long = "function-binary", value_name = "NAME=PATH")]
    pub function_binaries: Vec<String>,
    /// Do not rebuild and restart when the project's files change
    #[arg(long)]
    pub no_watch: bool,
}

/// Where `dev` says how to reach it: `{pid, url, token}` beside the log.
pub fn dev_file(log: &Path) -> PathBuf {
    log.with_file_name("dev.json")
}

/// The log of a project: `--log`, else `.flowctl/events.sqlite` beside the manifest.
pub fn log_path(project: &Project, given: Option<&Path>) -> PathBuf {
    given.map_or_else(
        || project.root.join(".flowctl").join("events.sqlite"),
        Path::to_path_buf,
    )
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let binaries = parse_binaries(&args.function_binaries)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let listener =
        std::net::TcpListener::bind((args.host.as_str(), args.port)).with_context(|| {
            format!(
            "cannot listen on {}:{} (is another `flowctl dev` running? pick another with --port)",
            args.host, args.port
        )
        })?;
    listener.set_nonblocking(true)?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    let (stop_tx, stop_rx) = watch::channel(false);
    runtime.spawn(async move {
        stop_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut generation = 0;
    loop {
        generation += 1;
        // The manifest's directory is watched from before it is read, so no edit is missed.
        let manifest_dir = Watch::new(vec![flowctl::project::locate(global.manifest.as_deref())?
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)]);
        let project = match clean_project(global)? {
            Ok(project) => project,
            Err(exit) if args.no_watch || generation == 1 => return Ok(exit),
            Err(_) => {
                note!("dev: fix the errors above; waiting for a change");
                match runtime.block_on(manifest_dir.changed(stop_rx.clone())) {
                    Change::Stop => return Ok(Exit::Success),
                    Change::Files => continue,
                }
            }
        };
        // Snapshot before building: an edit during the build restarts once it is done.
        let watch = Watch::new(watched_dirs(&project));
        if project.manifest.subscriptions.is_empty() {
            bail!(
                "{} has no subscriptions: add `sources` and `subscriptions` (docs/events.md) for `flowctl dev` to run",
                project.manifest_path.display()
            );
        }
        let log = log_path(&project, args.log.as_deref());
        let ran = run_once(
            global,
            &project,
            &binaries,
            &log,
            &listener,
            &token,
            &runtime,
            (!args.no_watch).then_some(&watch),
            stop_rx.clone(),
        )?;
        let _ = std::fs::remove_file(dev_file(&log));
        match ran {
            Ran::Stopped => return Ok(Exit::Success),
            Ran::Failed(exit) if args.no_watch => return Ok(exit),
            Ran::Failed(_) => {
                note!("dev: waiting for a change");
                match runtime.block_on(watch.changed(stop_rx.clone())) {
                    Change::Stop => return Ok(Exit::Success),
                    Change::Files => note!("dev: files changed; rebuilding"),
                }
            }
            Ran::Changed => note!("dev: files changed; draining, rebuilding and restarting"),
        }
    }
}

enum Ran {
    Stopped,
    Changed,
    Failed(Exit),
}

#[allow(clippy::too_many_arguments)]
fn run_once(
    global: &Global,
    project: &Project,
    binaries: &[(String, PathBuf)],
    log: &Path,
    listener: &std::net::TcpListener,
    token: &str,
    runtime: &tokio::runtime::Runtime,
    files: Option<&Watch>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Ran> {
    let plan = project.plan();
    let mut flows = HashMap::new();
    for entry in &project.flows {
        let (doc, _) = match local::compile_local(global, project, &plan, entry)? {
            Ok(compiled) => compiled,
            Err(exit) => return Ok(Ran::Failed(exit)),
        };
        let machine = flowctl_engine::load(&doc)
            .map_err(|e| anyhow::anyhow!("flow `{}` does not load: {}", entry.name, e[0]))?;
        flows.insert(
            entry.name.clone(),
            machine.with_name(format!("{}-{}", project.manifest.project, entry.name)),
        );
    }
    let processes = match local::local_units(global, project, &plan, None, binaries)? {
        Ok(processes) => processes,
        Err(exit) => return Ok(Ran::Failed(exit)),
    };
    let targets = Arc::new(LocalTargets::new(flows, Arc::new(processes)));
    let observer: Arc<dyn Observe> = Arc::new(Lines {
        json: global.output == Output::Json,
    });
    let _guard = runtime.enter();
    let manifest = &project.manifest;
    let events = Runtime::start(log, Routes::new(manifest), targets.clone(), observer)
        .with_context(|| format!("cannot open the event log {}", log.display()))?;
    let intake = Intake::new(events.log().clone(), manifest.sources.clone());
    let (shutdown_tx, shutdown) = watch::channel(false);
    let notes: Notes = Arc::new(|line| note!("{line}"));
    let mut tasks = tokio::task::JoinSet::new();
    let tcp = tokio::net::TcpListener::from_std(listener.try_clone()?)?;
    tasks.spawn(source::webhook::serve(
        tcp,
        intake.clone(),
        token.to_string(),
        notes.clone(),
        shutdown.clone(),
    ));
    for (name, config) in &manifest.sources {
        let (name, intake, notes, shutdown) = (
            name.clone(),
            intake.clone(),
            notes.clone(),
            shutdown.clone(),
        );
        match &config.kind {
            SourceKind::Webhook(_) => {}
            SourceKind::Poll(poll) => {
                let (poll, invoker) = (poll.clone(), targets.clone());
                tasks.spawn(async move {
                    source::poll::run(name, poll, intake, invoker, notes, shutdown).await;
                    Ok(())
                });
            }
            SourceKind::Schedule(schedule) => {
                tasks.spawn(source::schedule::run(
                    name,
                    schedule.clone(),
                    intake,
                    notes,
                    shutdown,
                ));
            }
            SourceKind::Amqp(amqp) => {
                tasks.spawn(source::amqp::run(
                    name,
                    amqp.clone(),
                    intake,
                    notes,
                    shutdown,
                ));
            }
            SourceKind::Postgres(pg) => {
                tasks.spawn(source::postgres::run(
                    name,
                    pg.clone(),
                    intake,
                    notes,
                    shutdown,
                ));
            }
            SourceKind::Nats(nats) => {
                tasks.spawn(source::nats::run(
                    name,
                    nats.clone(),
                    intake,
                    notes,
                    shutdown,
                ));
            }
        }
    }
    // Finished events leave the log (and the deduplication window) after DEDUP_WINDOW_MS.
    let pruning = events.log().clone();
    let mut stop_pruning = shutdown.clone();
    tasks.spawn(async move {
        loop {
            let cutoff = flowctl_events::time::now_ms() - flowctl_events::log::DEDUP_WINDOW_MS;
            let _ = pruning.prune(cutoff).await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = stop_pruning.changed() => return Ok(()),
            }
        }
    });
    let address = listener.local_addr()?;
    let url = format!("http://{address}");
    write_private(
        &dev_file(log),
        &serde_json::to_string_pretty(
            &json!({"pid": std::process::id(), "url": url, "token": token}),
        )?,
    )
    .with_context(|| format!("cannot write {}", dev_file(log).display()))?;
    note!(
        "dev: {} source(s), {} subscription(s); webhooks on {url}; log {}; Ctrl-C stops",
        manifest.sources.len(),
        manifest.subscriptions.len(),
        log.display()
    );
    for (name, config) in &manifest.sources {
        if let SourceKind::Webhook(hook) = &config.kind {
            note!(
                "dev:   POST {url}{}  → source {name}",
                source::webhook::path_of(name, hook.path.as_deref())
            );
        }
    }
    let outcome = runtime.block_on(async {
        tokio::select! {
            change = Watch::changed_or_stop(files, stop.clone()) => match change {
                Change::Stop => Ran::Stopped,
                Change::Files => Ran::Changed,
            },
            Some(Ok(Err(e))) = tasks.join_next() => {
                note!("error: {e}");
                Ran::Failed(Exit::Failure)
            }
        }
    });
    let _ = shutdown_tx.send(true);
    runtime.block_on(async {
        while tasks.join_next().await.is_some() {}
        events.drain().await;
    });
    if let Ran::Failed(_) = outcome {
        // A source that cannot start (a missing secret, a bad URL) is a setup error.
        bail!("a source could not start (above); fix it and run `flowctl dev` again");
    }
    Ok(outcome)
}

/// Writes a file only its owner can read (it holds the control endpoints' token).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An older file keeps its mode through `open`; set it.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// Ctrl-C, or (on Unix) SIGTERM as a service manager or CI sends.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

enum Change {
    Stop,
    Files,
}

/// Files whose change restarts `dev`, and their modification times when watching began.
struct Watch {
    dirs: Vec<PathBuf>,
    before: Vec<(PathBuf, SystemTime)>,
}

impl Watch {
    fn new(dirs: Vec<PathBuf>) -> Watch {
        let before = snapshot(&dirs);
        Watch { dirs, before }
    }

    /// Waits for Ctrl-C or SIGTERM, or a change since `new`.
    async fn changed(&self, stop: watch::Receiver<bool>) -> Change {
        Watch::changed_or_stop(Some(self), stop).await
    }

    /// As `changed`; without files to watch, only the stop.
    async fn changed_or_stop(files: Option<&Watch>, mut stop: watch::Receiver<bool>) -> Change {
        loop {
            if *stop.borrow_and_update() {
                return Change::Stop;
            }
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { return Change::Stop },
                _ = tokio::time::sleep(Duration::from_millis(700)) => {}
            }
            if let Some(watch) = files {
                if snapshot(&watch.dirs) != watch.before {
                    return Change::Files;
                }
            }
        }
    }
}

/// What a change to reloads for: the project's directory, the directories of its flows
/// (which may live elsewhere), and the cargo packages of its functions (as `cargo lambda
/// watch` watches its package).
fn watched_dirs(project: &Project) -> Vec<PathBuf> {
    let root = if project.root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        project.root.clone()
    };
    let mut dirs = vec![root.clone()];
    for flow in &project.flows {
        if let Some(parent) = root.join(&flow.entry.source).parent() {
            dirs.push(parent.to_path_buf());
        }
    }
    let packages: std::collections::HashSet<&str> = project
        .manifest
        .functions
        .values()
        .filter_map(|f| f.package())
        .collect();
    let metadata = std::process::Command::new(flowctl::build::cargo::program())
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(&root)
        .stderr(std::process::Stdio::null())
        .output();
    if let Some(out) = metadata.ok().filter(|o| o.status.success()) {
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        for package in value["packages"].as_array().into_iter().flatten() {
            let named = package["name"]
                .as_str()
                .is_some_and(|n| packages.contains(n));
            if let (true, Some(manifest)) = (named, package["manifest_path"].as_str()) {
                if let Some(dir) = Path::new(manifest).parent() {
                    dirs.push(dir.to_path_buf());
                }
            }
        }
    }
    let mut canonical: Vec<PathBuf> = dirs
        .into_iter()
        .map(|d| std::fs::canonicalize(&d).unwrap_or(d))
        .collect();
    canonical.sort();
    // A directory inside another one is walked with it.
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in canonical {
        if !out.iter().any(|o| dir.starts_with(o)) {
            out.push(dir);
        }
    }
    out
}

/// The modification times of the project's sources: the manifest, flows, Rust code and
/// cargo manifests, skipping build output, the log and VCS folders.
fn snapshot(dirs: &[PathBuf]) -> Vec<(PathBuf, SystemTime)> {
    const SKIP: &[&str] = &["target", ".flowctl", ".git", "node_modules", ".venv"];
    const WATCH: &[&str] = &["rs", "toml", "flow", "yaml", "yml", "json"];
    let mut out = Vec::new();
    let mut stack = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !SKIP.iter().any(|s| name == *s) && out.len() < 20_000 {
                    stack.push(path);
                }
            } else if path
                .extension()
                .is_some_and(|e| WATCH.iter().any(|w| e == *w))
            {
                if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                    out.push((path, modified));
                }
            }
        }
    }
    out.sort();
    out
}

/// One line per step of an event on stderr (or a JSON record per step on stdout).
struct Lines {
    json: bool,
}

impl Observe for Lines {
    fn report(&self, r: Report) {
        let key = if r.key.is_empty() {
            "-".to_string()
        } else {
            r.key.clone()
        };
        let (word, detail) = match &r.what {
            What::Queued {
                behind: 0,
                parked: false,
            } => ("accepted", String::new()),
            What::Queued { parked: true, .. } => ("queued", "behind a parked key".to_string()),
            What::Queued { behind, .. } => ("queued", format!("behind {behind}")),
            What::Started { attempt: 1 } => ("started", String::new()),
            What::Started { attempt } => ("started", format!("attempt {attempt}")),
            What::Done { millis } => ("done", format!("in {millis} ms")),
            What::Retrying {
                attempt,
                error,
                delay,
            } => (
                "retrying",
                format!(
                    "attempt {attempt} failed with {error}; next in {:.1} s",
                    delay.as_secs_f64()
                ),
            ),
            What::Ko {
                error,
                cause,
                attempts,
            } => (
                "KO",
                format!("after {attempts} attempt(s): {error}: {}", shorten(cause)),
            ),
            What::Parked => (
                "parked",
                format!("(flowctl events release {} {key})", r.subscription),
            ),
            What::Released { rerun } => (
                "released",
                if *rerun {
                    "running the parked event again"
                } else {
                    "skipping the parked event"
                }
                .to_string(),
            ),
            What::LogFailed { error } => ("log-failed", error.clone()),
        };
        if self.json {
            let line = json!({"subscription": r.subscription, "key": r.key, "seq": r.seq, "step": word, "detail": detail});
            let _ = super::out::println(line);
        } else {
            note!("{word:>9} {} key={key} #{} {detail}", r.subscription, r.seq);
        }
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
