//! Functions run as real local processes: each unit's built binary started the way Lambda
//! starts a custom runtime (`AWS_LAMBDA_RUNTIME_API` and the rest of Lambda's environment),
//! served through flowctl's own [`RuntimeApi`], kept warm between calls, and turned back into
//! the errors Step Functions would see when it fails, crashes, hangs or exits.
//!
//! | situation | `TaskError.error` | cause / message |
//! | --- | --- | --- |
//! | the function posts `/error` | its `errorType` | `{"errorMessage","errorType"}` (as [`TaskError::from_lambda`]) |
//! | a Python or Node handler raises (through AWS's runtime interface clients) | the exception's class name (Node: its `name`) | the posted body as it is, with its `stackTrace` / `trace` |
//! | a panic inside a `lambda_runtime` handler | what `lambda_runtime` posts: the panic payload's type name | `Lambda panicked: …` |
//! | the process exits during an invocation, or before asking for one | `Runtime.ExitError` | `RequestId: … Error: Runtime exited with error: exit status N` / `signal: killed` |
//! | it runs past its timeout | `Sandbox.Timedout` (the process is killed) | `RequestId: … Error: Task timed out after N.NN seconds` |
//! | it posts `/init/error` | the posted `errorType` (else the header, else `Runtime.Unknown`) | the posted error |
//! | it answers with a body that is not JSON | no error: the payload is that text as a JSON string | |
//! | … nor UTF-8 text | `States.Runtime` | |
//! | the request is over 6 MiB | `Lambda.RequestEntityTooLargeException` | |
//! | it answers with more than 6 MiB | `Function.ResponseSizeTooLarge` | `Response payload size (N bytes) exceeded …` |
//! | the binary cannot be started | `Runtime.InvalidEntrypoint` | the OS error |
//! | no unit has that name | `Lambda.ResourceNotFoundException` | `Function not found: …` |
//!
//! A process is dropped (and killed) after anything but a normal answer or a function error,
//! and the next call starts a fresh one, as Lambda resets an execution environment. A warm
//! process found dead before it took a call is replaced silently. A call whose future is
//! dropped (the engine's `TimeoutSeconds`) kills the process it was using.
//!
//! Not emulated: the memory limit (`memory_mb` is only announced to the function).

use super::runtime_api::{Busy, Invocation, Outcome, RuntimeApi, Submitted, MAX_PAYLOAD_BYTES};
use bytes::Bytes;
use flowctl_engine::{BoxFuture, Invoker, TaskError};
use flowctl_lang::asl::{ENVELOPE_FUNCTION, ENVELOPE_PAYLOAD};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

/// How many processes one unit may run at once (calls beyond that wait for a free one).
pub const DEFAULT_MAX_PROCESSES: usize = 8;
/// Lambda's limit on a function's init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request Lambda's `Invoke` accepts (6 MiB).
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// Lines of each unit's output kept for [`LocalProcesses::output_tail`].
const TAIL_LINES: usize = 200;

/// One Lambda unit: the binary that hosts one or more functions (or the interpreter that runs
/// a Python or Node handler, see [`super::interpreters`]), and its Lambda settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitConfig {
    /// The function name as Lambda knows it (`AWS_LAMBDA_FUNCTION_NAME`); calls name it.
    pub name: String,
    /// The program started: the built binary (what is zipped as `bootstrap`), or an
    /// interpreter when `args` and `task_root` say what it runs.
    pub binary: PathBuf,
    /// Arguments after the program (none for a built binary).
    pub args: Vec<String>,
    /// `LAMBDA_TASK_ROOT` and the working directory: the function's code. `None`: the binary's
    /// folder, as a custom runtime's `bootstrap` sits in `/var/task`.
    pub task_root: Option<PathBuf>,
    /// Variables the language runtime sets itself on Lambda (`PYTHONPATH`, `NODE_PATH`,
    /// `AWS_EXECUTION_ENV`): set after the manifest's `env`, before Lambda's own.
    pub runtime_env: BTreeMap<String, String>,
    /// The manifest's environment for the unit.
    pub env: BTreeMap<String, String>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// The function timeout.
    pub timeout: Duration,
    /// The function keys the unit hosts; with more than one, a call that names a function key
    /// sends the `{"function", "payload"}` envelope that compiled flows send to shared units.
    pub functions: Vec<String>,
    /// At most this many processes at once.
    pub max_processes: usize,
    /// `_HANDLER`, the Lambda handler setting (for the `provided` runtimes, free text).
    pub handler: String,
}

impl UnitConfig {
    /// A unit with Lambda's defaults: 128 MB, 3 seconds.
    pub fn new(name: impl Into<String>, binary: impl Into<PathBuf>) -> UnitConfig {
        UnitConfig {
            name: name.into(),
            binary: binary.into(),
            args: Vec::new(),
            task_root: None,
            runtime_env: BTreeMap::new(),
            env: BTreeMap::new(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            functions: Vec::new(),
            max_processes: DEFAULT_MAX_PROCESSES,
            handler: "bootstrap".into(),
        }
    }

    /// A unit started as a command: `program` with `args`, its code in `task_root` (the
    /// working directory and `LAMBDA_TASK_ROOT`). The program is run as named (a virtualenv's
    /// `bin/python` must not be resolved to the interpreter it links to, or it would leave the
    /// virtualenv).
    pub fn command<I, S>(
        name: impl Into<String>,
        program: impl Into<PathBuf>,
        args: I,
        task_root: impl Into<PathBuf>,
    ) -> UnitConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut unit = UnitConfig::new(name, program);
        unit.args = args.into_iter().map(Into::into).collect();
        unit.task_root = Some(task_root.into());
        unit
    }

    /// `_HANDLER`: for Python and Node, the `module.function` the runtime client loads.
    pub fn handler(mut self, handler: impl Into<String>) -> UnitConfig {
        self.handler = handler.into();
        self
    }

    /// A variable the language runtime sets (see [`UnitConfig::runtime_env`]).
    pub fn runtime_env(mut self, key: impl Into<String>, value: impl Into<String>) -> UnitConfig {
        self.runtime_env.insert(key.into(), value.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> UnitConfig {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn memory_mb(mut self, memory_mb: u32) -> UnitConfig {
        self.memory_mb = memory_mb;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> UnitConfig {
        self.timeout = timeout;
        self
    }

    pub fn functions<I, S>(mut self, functions: I) -> UnitConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.functions = functions.into_iter().map(Into::into).collect();
        self
    }

    pub fn max_processes(mut self, max_processes: usize) -> UnitConfig {
        self.max_processes = max_processes.max(1);
        self
    }
}

/// Settings shared by every unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOptions {
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`, and the region in function ARNs.
    pub region: String,
    /// The account in function ARNs.
    pub account_id: String,
    /// Copy each process's stdout and stderr to ours, each line prefixed with `[unit]`.
    pub forward_output: bool,
    /// How long a new process may take to ask for its first invocation.
    pub init_timeout: Duration,
    /// Variables of our own environment passed on. Everything else is left out, as on Lambda,
    /// so a function that reads a developer's variable fails here as it would there.
    pub pass_env: Vec<String>,
}

impl Default for LocalOptions {
    fn default() -> LocalOptions {
        LocalOptions {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            forward_output: true,
            init_timeout: INIT_TIMEOUT,
            pass_env: [
                "PATH",
                "HOME",
                "RUST_LOG",
                "RUST_BACKTRACE",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_PROFILE",
                "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE",
                "AWS_ENDPOINT_URL",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Runs units as local processes; an [`Invoker`] for the engine.
///
/// A call names a unit (its name, an alias, a Lambda ARN ending in either, or a compiled
/// document's `${unit:NAME}` placeholder) or a function key listed in a unit's `functions`.
/// Processes start on first use and stay warm; dropping this kills them all.
pub struct LocalProcesses {
    options: Arc<LocalOptions>,
    units: Vec<Arc<Unit>>,
    names: HashMap<String, usize>,
    functions: HashMap<String, usize>,
}

struct Unit {
    config: UnitConfig,
    /// One permit per process that may run.
    slots: Semaphore,
    idle: Mutex<Vec<Arc<Process>>>,
    all: Mutex<Vec<Weak<Process>>>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Default for LocalProcesses {
    fn default() -> LocalProcesses {
        LocalProcesses::new()
    }
}

impl LocalProcesses {
    pub fn new() -> LocalProcesses {
        LocalProcesses::with_options(LocalOptions::default())
    }

    pub fn with_options(options: LocalOptions) -> LocalProcesses {
        LocalProcesses {
            options: Arc::new(options),
            units: Vec::new(),
            names: HashMap::new(),
            functions: HashMap::new(),
        }
    }

    /// Adds a unit (a later unit with the same name replaces the earlier one for calls).
    pub fn unit(mut self, config: UnitConfig) -> LocalProcesses {
        let index = self.units.len();
        self.names.insert(config.name.clone(), index);
        for function in &config.functions {
            self.functions.insert(function.clone(), index);
        }
        self.units.push(Arc::new(Unit {
            slots: Semaphore::new(config.max_processes.max(1)),
            config,
            idle: Mutex::new(Vec::new()),
            all: Mutex::new(Vec::new()),
            tail: Arc::new(Mutex::new(VecDeque::new())),
        }));
        self
    }

    /// Another name for a unit (e.g. the deployed `<project>-<unit>` name); unknown units are
    /// ignored.
    pub fn alias(mut self, alias: impl Into<String>, unit: &str) -> LocalProcesses {
        if let Some(&index) = self.names.get(unit) {
            self.names.insert(alias.into(), index);
        }
        self
    }

    /// Process ids of the unit's live processes (idle or busy).
    pub fn pids(&self, unit: &str) -> Vec<u32> {
        let Some(&index) = self.names.get(unit) else {
            return Vec::new();
        };
        lock(&self.units[index].all)
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|p| p.exited().is_none())
            .filter_map(|p| p.pid)
            .collect()
    }

    /// The last lines the unit's processes wrote to stdout or stderr, oldest first.
    pub fn output_tail(&self, unit: &str) -> Vec<String> {
        match self.names.get(unit) {
            Some(&index) => lock(&self.units[index].tail).iter().cloned().collect(),
            None => Vec::new(),
        }
    }

    /// Kills every process and waits until each has been reaped.
    pub async fn shutdown(&self) {
        for unit in &self.units {
            // Strong references first: the idle list may hold the only ones, and a process
            // dropped there would be killed without being waited for.
            let processes: Vec<Arc<Process>> = lock(&unit.all)
                .drain(..)
                .filter_map(|p| p.upgrade())
                .collect();
            lock(&unit.idle).clear();
            for process in processes {
                process.kill().await;
            }
        }
    }

    fn resolve(&self, function: &str) -> Option<(&Arc<Unit>, Option<String>)> {
        let candidates = candidate_names(function);
        for name in &candidates {
            if let Some(&index) = self.names.get(*name) {
                return Some((&self.units[index], None));
            }
        }
        for name in &candidates {
            if let Some(&index) = self.functions.get(*name) {
                let unit = &self.units[index];
                let envelope = (unit.config.functions.len() > 1).then(|| name.to_string());
                return Some((unit, envelope));
            }
        }
        None
    }

    /// Sends `body` (the payload as JSON text) to a process of `unit`.
    async fn call(&self, unit: &Arc<Unit>, body: String) -> Result<Value, TaskError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = Bytes::from(body);
        if body.len() > MAX_REQUEST_BYTES {
            return Err(TaskError::new(
                "Lambda.RequestEntityTooLargeException",
                format!("Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation (Service: Lambda, Status Code: 413, Request ID: {request_id})"),
            ));
        }
        let _slot = unit.slots.acquire().await.map_err(|_| {
            TaskError::new(
                "Lambda.ServiceException",
                "the local process pool is closed",
            )
        })?;
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: body,
            function_arn: format!(
                "arn:aws:lambda:{}:{}:function:{}",
                self.options.region, self.options.account_id, unit.config.name
            ),
            trace_id: trace_id(),
            client_context: None,
            cognito_identity: None,
            timeout: unit.config.timeout,
        };
        loop {
            let (process, warm) = match unit.take_idle().await {
                Some(process) => (process, true),
                None => match Process::spawn(unit, &self.options).await {
                    Ok(process) => {
                        let process = Arc::new(process);
                        let mut all = lock(&unit.all);
                        all.retain(|p| p.strong_count() > 0);
                        all.push(Arc::downgrade(&process));
                        (process, false)
                    }
                    Err(error) => {
                        return Err(TaskError::from_lambda(
                            "Runtime.InvalidEntrypoint",
                            &format!(
                                "RequestId: {request_id} Error: Couldn't start {}: {error}",
                                unit.config.binary.display()
                            ),
                        ))
                    }
                },
            };
            let submitted = match process.api.submit(invocation.clone()) {
                Ok(submitted) => submitted,
                Err(Busy) => {
                    // A runtime still holding an earlier invocation: replace it.
                    process.kill().await;
                    continue;
                }
            };
            let ended = wait(
                &process,
                submitted,
                unit.config.timeout,
                self.options.init_timeout,
            )
            .await;
            return match ended {
                Ended::Outcome(outcome) => {
                    let reusable = matches!(
                        outcome,
                        Outcome::Response(_)
                            | Outcome::Error { .. }
                            | Outcome::ResponseTooLarge { .. }
                    );
                    let result = outcome_result(outcome);
                    if reusable && process.exited().is_none() {
                        lock(&unit.idle).push(process);
                    } else {
                        process.kill().await;
                    }
                    result
                }
                // A warm process that died while idle never saw this invocation: Lambda
                // would start a fresh environment for it, and so do we.
                Ended::Exited {
                    delivered: false, ..
                } if warm => continue,
                Ended::Exited { exit, .. } => Err(exit_error(&request_id, exit)),
                Ended::TimedOut(limit) => {
                    process.kill().await;
                    Err(TaskError::from_lambda(
                        "Sandbox.Timedout",
                        &format!(
                            "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                            limit.as_secs_f64()
                        ),
                    ))
                }
                Ended::Lost => {
                    process.kill().await;
                    Err(TaskError::new(
                        "Lambda.ServiceException",
                        format!(
                            "RequestId: {request_id} Error: the local runtime lost the invocation"
                        ),
                    ))
                }
            };
        }
    }
}

impl Invoker for LocalProcesses {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        Box::pin(async move {
            let Some((unit, envelope)) = self.resolve(function) else {
                return Err(TaskError::from_lambda(
                    "Lambda.ResourceNotFoundException",
                    &format!("Function not found: {function}"),
                ));
            };
            let body = match envelope {
                Some(key) => envelope_text(&key, &payload),
                None => payload.to_string(),
            };
            let unit = unit.clone();
            self.call(&unit, body).await.map(Arc::new)
        })
    }
}

/// The `{"function", "payload"}` envelope of a shared unit as JSON text, written around the
/// payload rather than built as a value (which would copy the payload).
fn envelope_text(function: &str, payload: &Value) -> String {
    let payload = payload.to_string();
    let function = Value::from(function).to_string();
    let mut text = String::with_capacity(payload.len() + function.len() + 32);
    text.push_str("{\"");
    text.push_str(ENVELOPE_FUNCTION);
    text.push_str("\":");
    text.push_str(&function);
    text.push_str(",\"");
    text.push_str(ENVELOPE_PAYLOAD);
    text.push_str("\":");
    text.push_str(&payload);
    text.push('}');
    text
}

/// The names a call may mean: as written, a `${unit:NAME}` placeholder's NAME, and an ARN's
/// function name without its version or alias qualifier.
fn candidate_names(function: &str) -> Vec<&str> {
    let mut names = vec![function];
    if let Some(unit) = function
        .strip_prefix("${unit:")
        .and_then(|s| s.strip_suffix('}'))
    {
        names.push(unit);
    }
    if let Some((_, rest)) = function.split_once(":function:") {
        names.push(rest.split(':').next().unwrap_or(rest));
    }
    names
}

impl Unit {
    /// A warm process that still runs, if any: a dead one would take the invocation on a
    /// stale `/next` connection and lose it.
    async fn take_idle(&self) -> Option<Arc<Process>> {
        loop {
            let process = lock(&self.idle).pop()?;
            if process.alive().await {
                return Some(process);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent between statements, so a panic elsewhere while
    // holding a lock is no reason to stop serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a process ended, as much as the OS tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exit {
    code: Option<i32>,
    signal: Option<i32>,
}

impl Exit {
    fn of(status: std::io::Result<std::process::ExitStatus>) -> Exit {
        match status {
            Ok(status) => Exit {
                code: status.code(),
                signal: signal_of(&status),
            },
            Err(_) => Exit {
                code: None,
                signal: None,
            },
        }
    }
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> Option<i32> {
    None
}

/// One running process and its Runtime API. Dropping it kills the process; its supervisor
/// task reaps it.
struct Process {
    pid: Option<u32>,
    /// Shared with the supervisor, which keeps it open until the process is reaped: closed
    /// first, it would make a process being stopped report a lost Runtime API.
    api: Arc<RuntimeApi>,
    exit: watch::Receiver<Option<Exit>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    probe: mpsc::UnboundedSender<oneshot::Sender<bool>>,
}

impl Process {
    async fn spawn(unit: &Unit, options: &LocalOptions) -> std::io::Result<Process> {
        let config = &unit.config;
        // Absolute paths: the working directory changes below.
        let (binary, task_root) = match &config.task_root {
            None => {
                let binary = std::fs::canonicalize(&config.binary)?;
                let task_root = binary.parent().map(Path::to_path_buf).unwrap_or_default();
                (binary, task_root)
            }
            Some(task_root) => (
                std::path::absolute(&config.binary)?,
                std::fs::canonicalize(task_root)?,
            ),
        };
        let api = Arc::new(RuntimeApi::bind().await?);

        let mut command = tokio::process::Command::new(&binary);
        command.args(&config.args);
        command.env_clear();
        for name in &options.pass_env {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(&config.env);
        command.envs(&config.runtime_env);
        // The shim serves exactly the unit's functions (bare payload for one, envelopes for
        // several); flowctl sets the same variable on the deployed Lambda.
        if !config.functions.is_empty() {
            command.env(flowctl_protocol::FUNCTIONS_ENV, config.functions.join(","));
        }
        // Lambda's own variables last: the manifest cannot override them (it rejects reserved
        // keys anyway).
        let task_root_text = task_root.display().to_string();
        let lambda_env = [
            ("AWS_LAMBDA_RUNTIME_API", api.address().to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                config.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", config.name),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_REGION", options.region.clone()),
            ("AWS_DEFAULT_REGION", options.region.clone()),
            ("_HANDLER", config.handler.clone()),
            ("LAMBDA_TASK_ROOT", task_root_text.clone()),
            ("LAMBDA_RUNTIME_DIR", task_root_text),
            ("TZ", ":UTC".into()),
            ("LANG", "en_US.UTF-8".into()),
        ];
        command.envs(lambda_env);
        command
            .current_dir(&task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let pid = child.id();
        if let Some(stdout) = child.stdout.take() {
            capture(
                stdout,
                config.name.clone(),
                unit.tail.clone(),
                options.forward_output,
            );
        }
        if let Some(stderr) = child.stderr.take() {
            capture(
                stderr,
                config.name.clone(),
                unit.tail.clone(),
                options.forward_output,
            );
        }

        let (exit_tx, exit) = watch::channel(None);
        let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
        let (probe_tx, mut probe_rx) = mpsc::unbounded_channel::<oneshot::Sender<bool>>();
        // The supervisor owns the child: it waits for the exit (reaping it, so no zombie is
        // left) or, when told to or when the `Process` is dropped, kills it first. Asked
        // whether the child still runs, it checks with the OS rather than trusting that an
        // exit would already have been noticed.
        let api_until_reaped = api.clone();
        tokio::spawn(async move {
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status,
                    _ = &mut kill_rx => {
                        let _ = child.start_kill();
                        break child.wait().await;
                    }
                    Some(reply) = probe_rx.recv() => match child.try_wait() {
                        Ok(None) => {
                            let _ = reply.send(true);
                        }
                        Ok(Some(status)) => {
                            let _ = reply.send(false);
                            break Ok(status);
                        }
                        Err(error) => {
                            let _ = reply.send(false);
                            break Err(error);
                        }
                    },
                }
            };
            drop(api_until_reaped);
            let _ = exit_tx.send(Some(Exit::of(status)));
        });
        Ok(Process {
            pid,
            api,
            exit,
            kill: Mutex::new(Some(kill_tx)),
            probe: probe_tx,
        })
    }

    /// Whether the process still runs, asked of the OS now (an exit the supervisor has not
    /// yet been woken for counts).
    async fn alive(&self) -> bool {
        if self.exited().is_some() {
            return false;
        }
        let (reply, answer) = oneshot::channel();
        if self.probe.send(reply).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    fn exited(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// Kills the process (if it still runs) and waits until it has been reaped.
    async fn kill(&self) -> Exit {
        if let Some(kill) = lock(&self.kill).take() {
            let _ = kill.send(());
        }
        self.api.clear();
        wait_exit(&mut self.exit.clone()).await
    }
}

async fn wait_exit(exit: &mut watch::Receiver<Option<Exit>>) -> Exit {
    match exit.wait_for(Option::is_some).await {
        Ok(exit) => exit.unwrap_or(Exit {
            code: None,
            signal: None,
        }),
        // The supervisor is gone (the runtime is shutting down): nothing more will be known.
        Err(_) => Exit {
            code: None,
            signal: None,
        },
    }
}

/// Copies a child's output line by line into the unit's tail (and to our stderr).
fn capture(
    stream: impl AsyncRead + Unpin + Send + 'static,
    unit: String,
    tail: Arc<Mutex<VecDeque<String>>>,
    forward: bool,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            // Bytes, not `lines()`: output that is not UTF-8 must not stop the reading (a
            // full pipe would block the child).
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']);
                    if forward {
                        // A closed stderr must not take the run down with it.
                        let _ = std::io::Write::write_fmt(
                            &mut std::io::stderr().lock(),
                            format_args!("[{unit}] {text}\n"),
                        );
                    }
                    let mut tail = lock(&tail);
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(text.to_string());
                }
            }
        }
    });
}

enum Ended {
    Outcome(Outcome),
    /// The process exited; `delivered`: after it had taken the invocation.
    Exited {
        exit: Exit,
        delivered: bool,
    },
    TimedOut(Duration),
    /// The API dropped the invocation without an answer (it was cleared).
    Lost,
}

/// Waits for the runtime to take the invocation (its init phase, bounded by `init_timeout`),
/// then for its answer (bounded by `timeout` from delivery), watching for the process exiting.
async fn wait(
    process: &Process,
    submitted: Submitted,
    timeout: Duration,
    init_timeout: Duration,
) -> Ended {
    let Submitted {
        mut delivered,
        mut outcome,
    } = submitted;
    let mut exit = process.exit.clone();
    let delivered_at = tokio::select! {
        biased;
        result = &mut outcome => return received(result),
        at = &mut delivered => match at {
            Ok(at) => at,
            // Answered without delivery (a stored init error).
            Err(_) => return received(outcome.try_recv()),
        },
        exit = wait_exit(&mut exit) => return after_exit(&mut outcome, exit, false),
        _ = tokio::time::sleep(init_timeout) => return Ended::TimedOut(init_timeout),
    };
    tokio::select! {
        biased;
        result = &mut outcome => received(result),
        exit = wait_exit(&mut exit) => after_exit(&mut outcome, exit, true),
        _ = tokio::time::sleep_until((delivered_at + timeout).into()) => Ended::TimedOut(timeout),
    }
}

fn received<E>(result: Result<Outcome, E>) -> Ended {
    match result {
        Ok(outcome) => Ended::Outcome(outcome),
        Err(_) => Ended::Lost,
    }
}

/// A runtime that posts its init error and exits at once may be seen exiting first: its
/// posted answer, when there is one, wins.
fn after_exit(outcome: &mut oneshot::Receiver<Outcome>, exit: Exit, delivered: bool) -> Ended {
    match outcome.try_recv() {
        Ok(outcome) => Ended::Outcome(outcome),
        Err(_) => Ended::Exited { exit, delivered },
    }
}

fn outcome_result(outcome: Outcome) -> Result<Value, TaskError> {
    match outcome {
        Outcome::Response(body) => response_value(&body),
        Outcome::Error { error_type, body } => Err(posted_error(&body, error_type, "Lambda.Unknown")),
        Outcome::InitError { error_type, body } => Err(posted_error(&body, error_type, "Runtime.Unknown")),
        Outcome::ResponseTooLarge { size } => Err(TaskError::from_lambda(
            "Function.ResponseSizeTooLarge",
            &format!("Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."),
        )),
    }
}

/// The payload Step Functions makes of a response body: the JSON it holds, or, when it is not
/// JSON, the text itself as a JSON string (the `lambda:invoke` integration parses the payload
/// when it can and keeps it as a string otherwise).
pub(crate) fn response_value(body: &[u8]) -> Result<Value, TaskError> {
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    match std::str::from_utf8(body) {
        Ok(text) => Ok(Value::String(text.to_string())),
        Err(_) => Err(TaskError::new(
            flowctl_protocol::sfn::errors::RUNTIME,
            "The Lambda function's response is neither JSON nor UTF-8 text",
        )),
    }
}

/// An error the runtime posted: `errorType`/`errorMessage` from the body when it has them,
/// otherwise the header's type (or `default_type`) with the body as the cause.
pub(crate) fn posted_error(
    body: &[u8],
    header_type: Option<String>,
    default_type: &str,
) -> TaskError {
    let parsed: Option<serde_json::Map<String, Value>> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let text = String::from_utf8_lossy(body).into_owned();
    match (field("errorType"), field("errorMessage")) {
        // Python's and Node's runtime clients post more than the two fields (`stackTrace` or
        // `trace`, `requestId`): Lambda returns that body as it is, and Step Functions shows
        // it as the cause.
        (Some(error_type), Some(_)) if parsed.as_ref().is_some_and(|o| o.len() > 2) => {
            TaskError::new(error_type, text)
        }
        (Some(error_type), Some(message)) => TaskError::from_lambda(&error_type, &message),
        (Some(error_type), None) => TaskError::new(error_type, text),
        (None, _) => {
            let error_type = header_type.unwrap_or_else(|| default_type.to_string());
            if body.is_empty() {
                TaskError::from_lambda(&error_type, "Unknown application error occurred")
            } else {
                TaskError::new(error_type, text)
            }
        }
    }
}

fn exit_error(request_id: &str, exit: Exit) -> TaskError {
    let message = match (exit.code, exit.signal) {
        (Some(0), _) => {
            format!("RequestId: {request_id} Error: Runtime exited without providing a reason")
        }
        (Some(code), _) => {
            format!("RequestId: {request_id} Error: Runtime exited with error: exit status {code}")
        }
        (None, Some(signal)) => format!(
            "RequestId: {request_id} Error: Runtime exited with error: signal: {}",
            signal_name(signal)
        ),
        (None, None) => {
            format!("RequestId: {request_id} Error: Runtime exited without providing a reason")
        }
    };
    TaskError::from_lambda("Runtime.ExitError", &message)
}

/// Signal descriptions as Lambda's messages spell them (Go's `signal: killed` style).
fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        other => return format!("signal {other}"),
    };
    name.to_string()
}

/// An X-Ray trace header in the form Lambda passes (`Root=1-<time>-<96 bits>;Parent=…;Sampled=0`).
fn trace_id() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let root = fastrand::u128(..) & ((1u128 << 96) - 1);
    format!(
        "Root=1-{:08x}-{root:024x};Parent={:016x};Sampled=0",
        seconds & 0xffff_ffff,
        fastrand::u64(..)
    )
}

/// `YYYY/MM/DD/[$LATEST]<32 hex digits>`, the form of Lambda's log stream names.
fn log_stream_name() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}/{month:02}/{day:02}/[$LATEST]{:032x}",
        fastrand::u128(..)
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_a_call_may_mean() {
        assert_eq!(candidate_names("echo"), vec!["echo"]);
        assert_eq!(candidate_names("${unit:pay}"), vec!["${unit:pay}", "pay"]);
        assert_eq!(
            candidate_names("arn:aws:lambda:eu-west-1:123456789012:function:booking-pay:$LATEST"),
            vec![
                "arn:aws:lambda:eu-west-1:123456789012:function:booking-pay:$LATEST",
                "booking-pay"
            ]
        );
    }

    #[test]
    fn resolves_units_aliases_and_function_keys() {
        let local = LocalProcesses::new()
            .unit(UnitConfig::new("single", "/bin/true").functions(["One"]))
            .unit(UnitConfig::new("shared", "/bin/true").functions(["A", "pay.B"]))
            .alias("proj-single", "single");
        let name = |f: &str| local.resolve(f).map(|(u, e)| (u.config.name.clone(), e));
        assert_eq!(name("single"), Some(("single".into(), None)));
        assert_eq!(name("${unit:shared}"), Some(("shared".into(), None)));
        assert_eq!(
            name("arn:aws:lambda:us-east-1:1:function:proj-single"),
            Some(("single".into(), None))
        );
        assert_eq!(name("One"), Some(("single".into(), None)));
        assert_eq!(name("pay.B"), Some(("shared".into(), Some("pay.B".into()))));
        assert_eq!(name("nope"), None);
    }

    #[test]
    fn posted_errors_become_task_errors() {
        let e = posted_error(
            br#"{"errorType":"Declined","errorMessage":"no money"}"#,
            Some("Unhandled".into()),
            "Lambda.Unknown",
        );
        assert_eq!(e, TaskError::from_lambda("Declined", "no money"));
        let e = posted_error(b"", Some("Runtime.Custom".into()), "Runtime.Unknown");
        assert_eq!(
            e,
            TaskError::from_lambda("Runtime.Custom", "Unknown application error occurred")
        );
        let e = posted_error(b"plain words", None, "Runtime.Unknown");
        assert_eq!(e, TaskError::new("Runtime.Unknown", "plain words"));
        // What awslambdaric posts for `raise PaymentDeclined("no money")`: kept whole.
        let python = r#"{"errorMessage": "no money", "errorType": "PaymentDeclined", "requestId": "r", "stackTrace": ["  File \"/src/app.py\", line 8, in boom\n"]}"#;
        let e = posted_error(python.as_bytes(), None, "Lambda.Unknown");
        assert_eq!(e, TaskError::new("PaymentDeclined", python));
        let e = posted_error(br#"{"errorType":"OnlyType"}"#, None, "Lambda.Unknown");
        assert_eq!(e, TaskError::new("OnlyType", r#"{"errorType":"OnlyType"}"#));
    }

    #[test]
    fn responses_that_are_not_json_are_strings() {
        assert_eq!(response_value(br#"{"a":1}"#), Ok(json!({"a": 1})));
        assert_eq!(response_value(b"hello"), Ok(json!("hello")));
        assert_eq!(response_value(b""), Ok(json!("")));
        assert_eq!(
            response_value(&[0xff, 0xfe]).unwrap_err().error,
            "States.Runtime"
        );
    }

    #[test]
    fn exit_messages_match_lambda() {
        let code = |code| {
            exit_error(
                "r",
                Exit {
                    code: Some(code),
                    signal: None,
                },
            )
        };
        assert_eq!(
            code(1),
            TaskError::from_lambda(
                "Runtime.ExitError",
                "RequestId: r Error: Runtime exited with error: exit status 1"
            )
        );
        assert_eq!(
            code(0).cause,
            TaskError::from_lambda(
                "Runtime.ExitError",
                "RequestId: r Error: Runtime exited without providing a reason"
            )
            .cause
        );
        let killed = exit_error(
            "r",
            Exit {
                code: None,
                signal: Some(9),
            },
        );
        assert!(
            killed
                .cause
                .contains("Runtime exited with error: signal: killed"),
            "{}",
            killed.cause
        );
        assert_eq!(signal_name(64), "signal 64");
    }

    #[test]
    fn dates_and_ids_have_lambda_shapes() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        let stream = log_stream_name();
        assert_eq!(stream.len(), "2024/01/01/[$LATEST]".len() + 32, "{stream}");
        let trace = trace_id();
        assert!(
            trace.starts_with("Root=1-") && trace.ends_with(";Sampled=0"),
            "{trace}"
        );
        assert_eq!(
            trace.split(';').next().unwrap().len(),
            "Root=1-".len() + 8 + 1 + 24
        );
    }
}
