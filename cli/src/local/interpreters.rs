//! Functions in other languages run locally: a `python3.12` or `nodejs22.x` function is started
//! through AWS's own runtime interface clients (`awslambdaric` from PyPI, `aws-lambda-ric` from
//! npm), installed once into the project (`.flowctl/runtimes/`), so its handler meets flowctl's
//! Runtime API as it meets Lambda's: the same loading of `module.function`, the same error
//! bodies (`errorType` the exception's class name), the same init errors.
//!
//! [`Environment::ensure`] installs what a runtime needs (or finds it installed); an
//! [`Environment`]'s [`launch`](Environment::launch) says how to start one handler, and
//! [`Launch::unit`] makes the [`UnitConfig`] that [`super::LocalProcesses`] runs. Nothing here
//! knows the manifest: it takes a runtime name, a handler and folders.
//!
//! | runtime | environment | started as |
//! | --- | --- | --- |
//! | `python3.12` | `.flowctl/runtimes/python/`: a virtualenv of `python3.12` (else `python3`) with `awslambdaric` | `<venv>/bin/python -m awslambdaric HANDLER` |
//! | `nodejs22.x` | `.flowctl/runtimes/node/node_modules/aws-lambda-ric` (its native client built by its install scripts: cmake, make, a C++ compiler) | `node <ric>/index.mjs HANDLER` (the client reads `_HANDLER`) |
//!
//! Each environment records what it was installed with (the client's version, the
//! interpreter's path and version) and is installed again when that changes: `aws-lambda-ric`'s
//! native client is built for one Node version. An installation is made in a temporary folder
//! and renamed into place, so two runs installing at once never see a half-made one.

use super::process::UnitConfig;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where a project's runtime environments live, under its root (ignored by git).
pub const RUNTIMES_DIR: &str = ".flowctl/runtimes";
/// The Python runtime interface client and the version installed (a prebuilt wheel on PyPI).
pub const PYTHON_RIC: &str = "awslambdaric";
pub const PYTHON_RIC_VERSION: &str = "4.2.2";
/// The Node runtime interface client and the version installed (built from source on install).
pub const NODE_RIC: &str = "aws-lambda-ric";
pub const NODE_RIC_VERSION: &str = "4.0.2";
/// The runtimes this module runs, as the manifest and Lambda name them.
pub const RUNTIMES: [&str; 2] = ["python3.12", "nodejs22.x"];

/// The file in an environment that records what it was installed with.
const STAMP: &str = ".flowctl-runtime";
/// Lines of an installer's output kept in its error.
const OUTPUT_TAIL_LINES: usize = 40;

/// A language whose functions run through a runtime interface client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    Node,
}

impl Language {
    /// The language of a Lambda runtime name (any Python or Node.js runtime the manifest
    /// accepts: the interpreter here runs them all, and a note says which version it is);
    /// `None` for `provided.al2023` and names the manifest refuses.
    pub fn of_runtime(runtime: &str) -> Option<Language> {
        use flowctl_lang::manifest::runtime::{Language as Family, Runtime};
        match Runtime::from_name(runtime)?.language() {
            Family::Python => Some(Language::Python),
            Family::Node => Some(Language::Node),
            Family::Provided => None,
        }
    }

    /// The Lambda runtime this language runs as.
    pub fn runtime(self) -> &'static str {
        match self {
            Language::Python => "python3.12",
            Language::Node => "nodejs22.x",
        }
    }

    fn folder(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Node => "node",
        }
    }
}

/// Why a runtime environment could not be made; each says what to run or install.
#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("runtime `{runtime}` does not run locally: use one of {} (or a built binary)", RUNTIMES.join(", "))]
    UnknownRuntime { runtime: String },
    #[error("the {runtime} function's source folder {} does not exist: give the folder that holds its handler's file", path.display())]
    MissingSource { runtime: String, path: PathBuf },
    #[error("{tool} is not on PATH, and {runtime} functions need it locally ({why}): {fix}")]
    MissingTool {
        tool: String,
        runtime: String,
        why: String,
        fix: String,
    },
    #[error("{tool} is on PATH but does not run ({why}), and {runtime} functions need it locally: {fix}")]
    BrokenTool {
        tool: String,
        runtime: String,
        why: String,
        fix: String,
    },
    #[error(transparent)]
    InstallFailed(Box<InstallFailure>),
    #[error("could not {action} {}: {source} (check the folder's permissions and free space)", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An install step that failed: the command, what to do, and what it said.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` failed ({status}) while installing the {runtime} environment in {}: {hint}\n{output}", dir.display())]
pub struct InstallFailure {
    pub runtime: String,
    pub command: String,
    pub dir: PathBuf,
    pub status: String,
    /// What to do about it.
    pub hint: String,
    /// The last lines the command wrote.
    pub output: String,
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InterpreterError {
    let path = path.to_path_buf();
    move |source| InterpreterError::Io {
        action,
        path,
        source,
    }
}

/// Where programs are looked for: `PATH`, unless a caller (a test) gives another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub path: OsString,
}

impl Default for Host {
    fn default() -> Host {
        Host {
            path: std::env::var_os("PATH").unwrap_or_default(),
        }
    }
}

impl Host {
    /// The first executable named `name` on the search path.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        std::env::split_paths(&self.path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// A runtime's installed environment: the interpreter and its runtime interface client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub language: Language,
    /// The environment's folder (`<project>/.flowctl/runtimes/<language>`).
    pub dir: PathBuf,
    /// The program a unit starts: the virtualenv's `python`, or `node`.
    pub program: PathBuf,
    /// Arguments before the handler.
    pub args: Vec<String>,
    /// The interpreter's version (`3.12.4`, `v22.11.0`).
    pub version: String,
}

/// How to start one handler: what [`Launch::unit`] turns into a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// `LAMBDA_TASK_ROOT` and the working directory: the folder holding the handler's file.
    pub task_root: PathBuf,
    /// `_HANDLER`.
    pub handler: String,
    /// The variables Lambda's managed runtime sets for the language.
    pub env: BTreeMap<String, String>,
}

impl Launch {
    /// The unit that runs this handler, with Lambda's defaults (128 MB, 3 seconds) for the
    /// caller to change.
    pub fn unit(self, name: impl Into<String>) -> UnitConfig {
        let mut unit = UnitConfig::command(name, self.program, self.args, self.task_root)
            .handler(self.handler);
        unit.runtime_env = self.env;
        unit
    }
}

/// The environment for `runtime` and how to start `handler` from `source`: what a caller with
/// one function needs ([`Environment::ensure`] once, then [`Environment::launch`] per function,
/// for several).
pub fn prepare(
    runtime: &str,
    handler: &str,
    source: &Path,
    project_root: &Path,
    notes: &mut dyn FnMut(&str),
) -> Result<Launch, InterpreterError> {
    let language =
        Language::of_runtime(runtime).ok_or_else(|| InterpreterError::UnknownRuntime {
            runtime: runtime.to_string(),
        })?;
    Environment::ensure(language, project_root, &Host::default(), notes)?.launch(handler, source)
}

impl Environment {
    /// The project's environment for `language`, installed now if it is missing or was made
    /// with another client version or interpreter. `notes` hears what is being done (an
    /// install takes seconds for Python, a minute or two for Node).
    pub fn ensure(
        language: Language,
        project_root: &Path,
        host: &Host,
        notes: &mut dyn FnMut(&str),
    ) -> Result<Environment, InterpreterError> {
        let runtimes = std::path::absolute(project_root.join(RUNTIMES_DIR))
            .map_err(io_error("resolve", project_root))?;
        let dir = runtimes.join(language.folder());
        match language {
            Language::Python => ensure_python(&runtimes, &dir, host, notes),
            Language::Node => ensure_node(&runtimes, &dir, host, notes),
        }
    }

    /// How to start `handler` (`module.function`, as Lambda's handler setting) whose file is
    /// in `source`. The handler is not checked here: the runtime client reports a malformed or
    /// missing one as Lambda does, as an init error (`Runtime.HandlerNotFound`,
    /// `Runtime.ImportModuleError`, …).
    pub fn launch(&self, handler: &str, source: &Path) -> Result<Launch, InterpreterError> {
        let runtime = self.language.runtime();
        let task_root =
            std::fs::canonicalize(source).map_err(|_| InterpreterError::MissingSource {
                runtime: runtime.to_string(),
                path: source.to_path_buf(),
            })?;
        if !task_root.is_dir() {
            return Err(InterpreterError::MissingSource {
                runtime: runtime.to_string(),
                path: source.to_path_buf(),
            });
        }
        let root = task_root.display().to_string();
        let mut env = BTreeMap::new();
        env.insert(
            "AWS_EXECUTION_ENV".to_string(),
            format!("AWS_Lambda_{runtime}"),
        );
        match self.language {
            // Lambda puts the task root first on `sys.path`.
            Language::Python => env.insert("PYTHONPATH".to_string(), root),
            // Lambda's NODE_PATH ends with the task root.
            Language::Node => env.insert("NODE_PATH".to_string(), root),
        };
        let mut args = self.args.clone();
        args.push(handler.to_string());
        Ok(Launch {
            program: self.program.clone(),
            args,
            task_root,
            handler: handler.to_string(),
            env,
        })
    }
}

// ---- Python --------------------------------------------------------------------------------

fn ensure_python(
    runtimes: &Path,
    dir: &Path,
    host: &Host,
    notes: &mut dyn FnMut(&str),
) -> Result<Environment, InterpreterError> {
    let runtime = Language::Python.runtime();
    // Lambda's version first; any Python 3 runs awslambdaric, and a note says which one ran.
    // A name found may not run (a pyenv shim for a version not installed): the next is tried.
    let found: Vec<PathBuf> = ["python3.12", "python3"]
        .iter()
        .filter_map(|name| host.find(name))
        .collect();
    let (interpreter, version) = found
        .iter()
        .find_map(|python| {
            let version = query(
                python,
                ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                host,
            )?;
            Some((python.clone(), version))
        })
        .ok_or_else(|| match found.first() {
            None => InterpreterError::MissingTool {
                tool: "python3.12 (or python3)".into(),
                runtime: runtime.into(),
                why: "its handlers run under Python with awslambdaric".into(),
                fix: "install Python 3.12 with its venv module (Debian/Ubuntu: `apt-get install python3 python3-venv`; macOS: `brew install python@3.12`)".into(),
            },
            Some(python) => InterpreterError::BrokenTool {
                tool: python.display().to_string(),
                runtime: runtime.into(),
                why: "it did not answer `-c 'import sys'`".into(),
                fix: "check that this Python runs, or put a working python3.12 first on PATH".into(),
            },
        })?;
    let stamp = format!(
        "{PYTHON_RIC}=={PYTHON_RIC_VERSION}\npython={} {version}\n",
        interpreter.display()
    );
    let environment = Environment {
        language: Language::Python,
        dir: dir.to_path_buf(),
        program: dir.join("bin").join("python"),
        args: vec!["-m".into(), PYTHON_RIC.into()],
        version: version.clone(),
    };
    if installed(dir, &stamp) && environment.program.exists() {
        return Ok(environment);
    }
    if !version.starts_with("3.12.") {
        notes(&format!(
            "note: no working python3.12 on PATH; {runtime} functions run locally under {} (Python {version})",
            interpreter.display()
        ));
    }
    notes(&format!(
        "installing {PYTHON_RIC} {PYTHON_RIC_VERSION} for {runtime} functions into {} (once)",
        dir.display()
    ));
    install(runtimes, dir, &stamp, |work| {
        let venv = run(
            Command::new(&interpreter).arg("-m").arg("venv").arg(work),
            host,
        )?;
        if !venv.status.success() {
            let output = tail(&venv);
            let hint = if output.contains("ensurepip") || output.contains("venv") {
                "this Python has no venv module: install it (Debian/Ubuntu: `apt-get install python3-venv`), then run flowctl again"
            } else {
                "run the command yourself to see why, then run flowctl again"
            };
            return Err(failed(
                runtime,
                &venv,
                command_text(&interpreter, ["-m", "venv", &work.display().to_string()]),
                work,
                hint,
                output,
            ));
        }
        let python = work.join("bin").join("python");
        let requirement = format!("{PYTHON_RIC}=={PYTHON_RIC_VERSION}");
        let args = [
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            requirement.as_str(),
        ];
        let pip = run(Command::new(&python).args(args), host)?;
        if !pip.status.success() {
            return Err(failed(
                runtime,
                &pip,
                command_text(&interpreter, ["-m", "pip", "install", &requirement]),
                work,
                "pip could not install it (is PyPI reachable, or a wheel for this Python available?): run the command in that virtualenv to see why, then run flowctl again",
                tail(&pip),
            ));
        }
        Ok(())
    })?;
    Ok(environment)
}

// ---- Node ----------------------------------------------------------------------------------

fn ensure_node(
    runtimes: &Path,
    dir: &Path,
    host: &Host,
    notes: &mut dyn FnMut(&str),
) -> Result<Environment, InterpreterError> {
    let runtime = Language::Node.runtime();
    let missing = |tool: &str, why: &str, fix: &str| InterpreterError::MissingTool {
        tool: tool.into(),
        runtime: runtime.into(),
        why: why.into(),
        fix: fix.into(),
    };
    let node = host.find("node").ok_or_else(|| {
        missing(
            "node",
            "its handlers run under Node.js with aws-lambda-ric",
            "install Node.js 22 with npm (Debian/Ubuntu: `apt-get install nodejs npm`; macOS: `brew install node@22`)",
        )
    })?;
    let version =
        query(&node, ["--version"], host).ok_or_else(|| InterpreterError::BrokenTool {
            tool: node.display().to_string(),
            runtime: runtime.into(),
            why: "it did not answer `--version`".into(),
            fix: "check that this Node.js runs, or put a working one first on PATH".into(),
        })?;
    let stamp = format!(
        "{NODE_RIC}@{NODE_RIC_VERSION}\nnode={} {version}\n",
        node.display()
    );
    let client = dir.join("node_modules").join(NODE_RIC);
    let environment = Environment {
        language: Language::Node,
        dir: dir.to_path_buf(),
        program: node.clone(),
        args: vec![client.join("index.mjs").display().to_string()],
        version: version.clone(),
    };
    if installed(dir, &stamp) && client.join("rapid-client.node").exists() {
        return Ok(environment);
    }
    let npm = host.find("npm").ok_or_else(|| {
        missing(
            "npm",
            "aws-lambda-ric is installed with it",
            "install npm beside Node.js (Debian/Ubuntu: `apt-get install npm`)",
        )
    })?;
    // aws-lambda-ric builds curl and aws-lambda-cpp, then its native addon, on install: say
    // what is missing before a minute of building fails on it.
    let build_tools = "aws-lambda-ric builds its native client on install";
    host.find("make").ok_or_else(|| {
        missing("make", build_tools, "install a C++ toolchain (Debian/Ubuntu: `apt-get install build-essential`; macOS: `xcode-select --install`)")
    })?;
    if host.find("c++").or_else(|| host.find("g++")).is_none() {
        return Err(missing(
            "c++ (or g++)",
            build_tools,
            "install a C++ toolchain (Debian/Ubuntu: `apt-get install build-essential`)",
        ));
    }
    let python = host.find("python3").ok_or_else(|| {
        missing(
            "python3",
            "node-gyp, which builds aws-lambda-ric's native client, runs on Python",
            "install Python 3 (Debian/Ubuntu: `apt-get install python3 python3-venv`)",
        )
    })?;
    if !version.starts_with("v22.") {
        notes(&format!(
            "note: {runtime} functions run locally under {} (Node.js {version}, not 22)",
            node.display()
        ));
    }
    notes(&format!(
        "installing {NODE_RIC} {NODE_RIC_VERSION} for {runtime} functions into {} (once; it builds a native client, a minute or two)",
        dir.display()
    ));
    install(runtimes, dir, &stamp, |work| {
        let mut path = host.path.clone();
        let has_cmake = host.find("cmake").or_else(|| host.find("cmake3")).is_some();
        if !has_cmake {
            // cmake is on PyPI as a prebuilt wheel: brought for this build only, the
            // environment does not need it afterwards.
            notes("note: cmake is not on PATH; installing it from PyPI for this build only (`pip install cmake` in a virtualenv)");
            let tools = work.join(".build-tools");
            let venv = run(
                Command::new(&python).arg("-m").arg("venv").arg(&tools),
                host,
            )?;
            if !venv.status.success() {
                return Err(failed(runtime, &venv, command_text(&python, ["-m", "venv", &tools.display().to_string()]), work,
                    "cmake could not be brought from PyPI: install cmake (Debian/Ubuntu: `apt-get install cmake`; macOS: `brew install cmake`), then run flowctl again",
                    tail(&venv)));
            }
            let pip = run(
                Command::new(tools.join("bin").join("python")).args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--quiet",
                    "cmake",
                ]),
                host,
            )?;
            if !pip.status.success() {
                return Err(failed(runtime, &pip, "pip install cmake".into(), work,
                    "cmake could not be brought from PyPI: install cmake (Debian/Ubuntu: `apt-get install cmake`; macOS: `brew install cmake`), then run flowctl again",
                    tail(&pip)));
            }
            let mut dirs = vec![tools.join("bin")];
            dirs.extend(std::env::split_paths(&host.path));
            path = std::env::join_paths(dirs).map_err(|_| InterpreterError::Io {
                action: "put on PATH",
                path: tools.clone(),
                source: std::io::Error::other("a PATH entry holds the separator"),
            })?;
        }
        // A package that only holds the client, and lets its install scripts run (npm 11 asks
        // for packages with install scripts to be allowed).
        let package = serde_json::json!({
            "name": "flowctl-node-runtime",
            "private": true,
            "description": "aws-lambda-ric for running nodejs22.x functions locally (written by flowctl)",
            "dependencies": { NODE_RIC: NODE_RIC_VERSION },
            "allowScripts": { format!("{NODE_RIC}@{NODE_RIC_VERSION}"): true },
        });
        let manifest = work.join("package.json");
        std::fs::write(&manifest, format!("{package:#}\n"))
            .map_err(io_error("write", &manifest))?;
        let mut command = Command::new(&npm);
        command
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(work)
            .env("PATH", &path);
        // node-gyp fetches Node's headers unless told where they are: a Node installed with its
        // headers (`<prefix>/include/node`) builds offline, for exactly this Node.
        if let Some(prefix) = node_headers(&node) {
            command.env("npm_config_nodedir", prefix);
        }
        let output = run(&mut command, host)?;
        if !output.status.success() {
            return Err(failed(runtime, &output, format!("npm install {NODE_RIC}@{NODE_RIC_VERSION}"), work,
                "its native build needs cmake, make, a C++ compiler and Python 3 (on macOS it does not build at all): fix what the output says, then run flowctl again",
                tail(&output)));
        }
        if !work
            .join("node_modules")
            .join(NODE_RIC)
            .join("rapid-client.node")
            .exists()
        {
            return Err(failed(runtime, &output, format!("npm install {NODE_RIC}@{NODE_RIC_VERSION}"), work,
                "npm finished without building the client's native part (were its install scripts skipped? `npm install-scripts approve aws-lambda-ric` allows them)",
                tail(&output)));
        }
        // The build tools were for the build: the environment keeps only the client.
        let _ = std::fs::remove_dir_all(work.join(".build-tools"));
        Ok(())
    })?;
    Ok(environment)
}

/// `<prefix>` when the Node at `<prefix>/bin/node` has its headers in `<prefix>/include/node`.
fn node_headers(node: &Path) -> Option<PathBuf> {
    let node = std::fs::canonicalize(node).ok()?;
    let prefix = node.parent()?.parent()?;
    prefix
        .join("include/node/node_api.h")
        .exists()
        .then(|| prefix.to_path_buf())
}

// ---- installing ----------------------------------------------------------------------------

/// Whether `dir` holds an environment installed with exactly `stamp`.
fn installed(dir: &Path, stamp: &str) -> bool {
    std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == stamp)
}

/// Makes the environment in a fresh folder beside `dir` with `make`, records `stamp` in it and
/// renames it to `dir`. A run that loses a race to another one installing the same thing uses
/// the other's; an environment of another stamp is replaced.
fn install(
    runtimes: &Path,
    dir: &Path,
    stamp: &str,
    make: impl FnOnce(&Path) -> Result<(), InterpreterError>,
) -> Result<(), InterpreterError> {
    std::fs::create_dir_all(runtimes).map_err(io_error("create", runtimes))?;
    let name = dir
        .file_name()
        .unwrap_or(OsStr::new("env"))
        .to_string_lossy();
    let work = runtimes.join(format!(
        ".{name}.installing-{}-{:x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir(&work).map_err(io_error("create", &work))?;
    let result = make(&work).and_then(|()| {
        let file = work.join(STAMP);
        std::fs::write(&file, stamp).map_err(io_error("write", &file))
    });
    if let Err(error) = result {
        let _ = std::fs::remove_dir_all(&work);
        return Err(error);
    }
    if dir.exists() && !installed(dir, stamp) {
        // An environment of another version: moved aside first, so the rename below is the
        // only moment `dir` changes.
        let old = runtimes.join(format!(
            ".{name}.old-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        if std::fs::rename(dir, &old).is_ok() {
            let _ = std::fs::remove_dir_all(&old);
        }
    }
    match std::fs::rename(&work, dir) {
        Ok(()) => Ok(()),
        // Another run put its environment there first.
        Err(_) if installed(dir, stamp) => {
            let _ = std::fs::remove_dir_all(&work);
            Ok(())
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&work);
            Err(io_error("move the new environment to", dir)(error))
        }
    }
}

/// Runs an installer step to its end with its output captured (shown only when it fails).
fn run(command: &mut Command, host: &Host) -> Result<Output, InterpreterError> {
    let program = PathBuf::from(command.get_program());
    if command.get_envs().all(|(name, _)| name != "PATH") {
        command.env("PATH", &host.path);
    }
    command
        .stdin(Stdio::null())
        .output()
        .map_err(io_error("run", &program))
}

/// The first line a program prints for `args`, when it runs and succeeds.
fn query<const N: usize>(program: &Path, args: [&str; N], host: &Host) -> Option<String> {
    let output = run(Command::new(program).args(args), host).ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_string())
}

fn command_text<'a>(program: &Path, args: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = program.display().to_string();
    for arg in args {
        text.push(' ');
        text.push_str(arg);
    }
    text
}

fn failed(
    runtime: &str,
    output: &Output,
    command: String,
    dir: &Path,
    hint: &str,
    tail: String,
) -> InterpreterError {
    InterpreterError::InstallFailed(Box::new(InstallFailure {
        runtime: runtime.to_string(),
        command,
        dir: dir.to_path_buf(),
        status: output.status.to_string(),
        hint: hint.to_string(),
        output: tail,
    }))
}

/// The last lines of a command's stdout and stderr.
fn tail(output: &Output) -> String {
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .map(str::to_string)
        .collect();
    let skip = lines.len().saturating_sub(OUTPUT_TAIL_LINES);
    lines.drain(..skip);
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_and_languages() {
        assert_eq!(Language::of_runtime("python3.12"), Some(Language::Python));
        assert_eq!(Language::of_runtime("nodejs22.x"), Some(Language::Node));
        assert_eq!(Language::of_runtime("python3.13"), Some(Language::Python));
        assert_eq!(Language::of_runtime("nodejs24.x"), Some(Language::Node));
        assert_eq!(Language::of_runtime("provided.al2023"), None);
        for runtime in RUNTIMES {
            assert_eq!(
                Language::of_runtime(runtime).map(Language::runtime),
                Some(runtime)
            );
        }
    }

    #[test]
    fn an_unknown_runtime_names_the_ones_that_run() {
        let error = prepare(
            "ruby3.3",
            "app.handler",
            Path::new("."),
            Path::new("."),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(error, InterpreterError::UnknownRuntime { .. }));
        assert!(
            error.to_string().contains("python3.12, nodejs22.x"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_interpreter_says_what_to_install() {
        let project = tempfile::tempdir().unwrap();
        let empty = Host {
            path: project.path().as_os_str().to_owned(),
        };
        let error =
            Environment::ensure(Language::Python, project.path(), &empty, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&error, InterpreterError::MissingTool { tool, .. } if tool.starts_with("python3.12")),
            "{error}"
        );
        assert!(
            error.to_string().contains("apt-get install python3"),
            "{error}"
        );
        let error =
            Environment::ensure(Language::Node, project.path(), &empty, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&error, InterpreterError::MissingTool { tool, .. } if tool == "node"),
            "{error}"
        );
        assert!(error.to_string().contains("Node.js 22"), "{error}");
        // Nothing was left behind by the refusals.
        assert!(!project.path().join(RUNTIMES_DIR).exists());
    }

    #[test]
    fn a_launch_runs_the_handler_from_its_source() {
        let source = tempfile::tempdir().unwrap();
        let environment = Environment {
            language: Language::Python,
            dir: PathBuf::from("/p/.flowctl/runtimes/python"),
            program: PathBuf::from("/p/.flowctl/runtimes/python/bin/python"),
            args: vec!["-m".into(), PYTHON_RIC.into()],
            version: "3.12.4".into(),
        };
        let launch = environment.launch("app.handler", source.path()).unwrap();
        let root = std::fs::canonicalize(source.path()).unwrap();
        assert_eq!(launch.args, ["-m", "awslambdaric", "app.handler"]);
        assert_eq!(launch.task_root, root);
        assert_eq!(launch.env["PYTHONPATH"], root.display().to_string());
        assert_eq!(launch.env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
        let unit = launch.unit("pay");
        assert_eq!(unit.handler, "app.handler");
        assert_eq!(unit.task_root.as_deref(), Some(root.as_path()));
        assert_eq!(unit.binary, environment.program);

        let missing = environment.launch("app.handler", &source.path().join("nope"));
        assert!(
            matches!(missing, Err(InterpreterError::MissingSource { .. })),
            "{missing:?}"
        );
    }

    #[test]
    fn an_install_replaces_another_version_and_cleans_up_after_a_failure() {
        let project = tempfile::tempdir().unwrap();
        let runtimes = project.path().join(RUNTIMES_DIR);
        let dir = runtimes.join("python");
        install(&runtimes, &dir, "v1", |work| {
            std::fs::write(work.join("marker"), "1").unwrap();
            Ok(())
        })
        .unwrap();
        assert!(installed(&dir, "v1"));
        let error = install(&runtimes, &dir, "v2", |_| {
            Err(InterpreterError::Io {
                action: "test",
                path: PathBuf::new(),
                source: std::io::Error::other("no"),
            })
        });
        assert!(error.is_err());
        // The failed attempt left the old environment and no work folder.
        assert!(installed(&dir, "v1"));
        assert_eq!(std::fs::read_dir(&runtimes).unwrap().count(), 1);
        install(&runtimes, &dir, "v2", |_| Ok(())).unwrap();
        assert!(installed(&dir, "v2"));
        assert!(!dir.join("marker").exists());
        assert_eq!(std::fs::read_dir(&runtimes).unwrap().count(), 1);
    }

    #[test]
    fn installer_output_keeps_its_last_lines() {
        let output = Command::new("sh")
            .args([
                "-c",
                "for i in $(seq 1 50); do echo out$i; done; echo err >&2",
            ])
            .output()
            .unwrap();
        let text = tail(&output);
        assert_eq!(text.lines().count(), OUTPUT_TAIL_LINES);
        assert!(text.ends_with("out50\nerr"), "{text}");
    }
}
