//! Helpers shared by the end-to-end tests: where the repository and its test tools are,
//! the flow corpus (`tests/corpus`), the hand-written ASL documents (`tests/asl`), compiling
//! flows, asl-validator, a moto server and aws-local-stepfunctions, a running `flowctl dev`.
//!
//! The tools are installed into the repository by `scripts/install-test-tools.sh`:
//! `<repo>/.venv/bin/python` (with moto) and `<repo>/tests/.tools/node_modules/.bin/asl-validator`,
//! or given by `FLOWCTL_TEST_PYTHON` / `FLOWCTL_ASL_VALIDATOR`. A missing tool fails the
//! test that needs it — never a silent skip.

pub mod alsf;
pub mod asl_cases;
pub mod corpus;
pub mod dev;
pub mod jsonata_reference;
pub mod moto;
pub mod proxy;
pub mod sdk;

use flowctl_lang::asl::{self, CompileOptions};
use flowctl_lang::flow::{self, KnownFunctions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The repository root (the cargo workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// Cargo's target directory for the tests' builds: `$CARGO_TARGET_DIR`, else the workspace's
/// `target/` (the examples' functions are built there once and shared).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join("target"),
    }
}

/// A copy of examples/booking named `project`, under the repository's `target/flowctl-tests/`
/// (so the cargo workspace that builds its functions is found above it), ready to be edited.
pub fn booking_copy(project: &str) -> PathBuf {
    example_copy("booking", project)
}

/// A copy of `examples/<example>` (its manifest, renamed `project`, and its flows) under the
/// repository's `target/flowctl-tests/<project>/`; its functions are the workspace's packages.
pub fn example_copy(example: &str, project: &str) -> PathBuf {
    let dir = repo_root()
        .join("target")
        .join("flowctl-tests")
        .join(project);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    let example = repo_root().join("examples").join(example);
    let manifest = std::fs::read_to_string(example.join("flowctl.yaml")).unwrap();
    let renamed: String = manifest
        .lines()
        .map(|line| match line.strip_prefix("project: ") {
            Some(_) => format!("project: {project}\n"),
            None => format!("{line}\n"),
        })
        .collect();
    std::fs::write(dir.join("flowctl.yaml"), renamed).unwrap();
    for flow in std::fs::read_dir(example.join("flows")).unwrap() {
        let flow = flow.unwrap().path();
        std::fs::copy(&flow, dir.join("flows").join(flow.file_name().unwrap())).unwrap();
    }
    dir
}

/// A copy of the whole of `examples/<example>` (its function sources too; not `.flowctl/`),
/// named `project`, under the repository's `target/flowctl-tests/<project>/`, sharing the
/// runtime interface clients' environments of [`runtimes_project`].
pub fn example_tree_copy(example: &str, project: &str) -> PathBuf {
    let dir = example_copy(example, project);
    let example = repo_root().join("examples").join(example);
    copy_tree(&example, &dir, &|name| {
        name != ".flowctl" && name != "flowctl.yaml" && name != "flows"
    });
    std::fs::create_dir_all(runtimes_project().join(".flowctl")).unwrap();
    std::os::unix::fs::symlink(runtimes_project().join(".flowctl"), dir.join(".flowctl")).unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&str) -> bool) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if !keep(&name.to_string_lossy()) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target, &|_| true);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The project whose `.flowctl/runtimes/` holds the Python and Node runtime interface clients
/// for every test (installed by flowctl on first use, kept between runs: a Node install
/// builds a native client, minutes on two cores).
pub fn runtimes_project() -> PathBuf {
    let dir = target_dir().join("tmp").join("polyglot-project");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const INSTALL: &str = "bash scripts/install-test-tools.sh";

/// A test tool: `$env_var` if set, else `default` under the repository. Panics, naming the
/// install command, when it is not there (under `CI=true` and everywhere else alike).
pub(crate) fn tool(env_var: &str, default: &str, what: &str) -> PathBuf {
    let path = match std::env::var_os(env_var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join(default),
    };
    if !path.exists() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        if ci {
            panic!(
                "{what} is missing at {} (CI=true: the tests need it). Install it with `{INSTALL}` before `cargo test`, or set {env_var}.",
                path.display()
            );
        }
        panic!(
            "{what} is missing at {}. Run `{INSTALL}` once (it installs into the repository), or set {env_var}; these tests never skip.",
            path.display()
        );
    }
    path
}

/// The Python of the test virtualenv (with moto and boto3).
pub fn python() -> PathBuf {
    tool(
        "FLOWCTL_TEST_PYTHON",
        ".venv/bin/python",
        "the test virtualenv's Python (with moto)",
    )
}

/// Node.js (`$FLOWCTL_NODE`, else `node` on the `PATH`), for aws-local-stepfunctions.
pub fn node() -> PathBuf {
    if let Some(p) = std::env::var_os("FLOWCTL_NODE").filter(|p| !p.is_empty()) {
        return tool("FLOWCTL_NODE", &p.to_string_lossy(), "Node.js");
    }
    let found = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("node"))
                .find(|p| p.is_file())
        })
        .unwrap_or_default();
    found.unwrap_or_else(|| tool("FLOWCTL_NODE", "(node, not found on the PATH)", "Node.js"))
}

/// The asl-validator command.
pub fn asl_validator() -> PathBuf {
    tool(
        "FLOWCTL_ASL_VALIDATOR",
        "tests/.tools/node_modules/.bin/asl-validator",
        "asl-validator",
    )
}

/// Parses, checks and compiles a flow; panics with the diagnostics when any stage says no.
pub fn compile_flow(src: &str, known: &KnownFunctions, opts: &CompileOptions, what: &str) -> Value {
    let (file, diags) = flow::parse(src);
    assert!(diags.is_empty(), "{what}: parse errors: {diags:#?}");
    let (ir, diags) = flow::check(&file.expect("parsed"), known);
    assert!(diags.is_empty(), "{what}: check errors: {diags:#?}");
    asl::compile(&ir.expect("checked"), opts)
        .unwrap_or_else(|d| panic!("{what}: compile errors: {d:#?}"))
}

/// One flow of an example project: its name, manifest function keys and source.
pub struct ExampleFlow {
    pub project: String,
    pub namespace: String,
    pub region: Option<String>,
    pub name: String,
    pub source_path: String,
    pub functions: Vec<String>,
    pub src: String,
}

/// Every flow of every project under `examples/`, read through the manifest loader.
pub fn example_flows() -> Vec<ExampleFlow> {
    let mut out = Vec::new();
    let examples = repo_root().join("examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&examples)
        .expect("examples/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.join("flowctl.yaml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let text = std::fs::read_to_string(dir.join("flowctl.yaml")).expect("readable manifest");
        let (manifest, diags) = flowctl_lang::manifest::parse(&text);
        let manifest =
            manifest.unwrap_or_else(|| panic!("{}: manifest errors: {diags:#?}", dir.display()));
        let functions: Vec<String> = manifest.functions.keys().cloned().collect();
        for (name, entry) in &manifest.flows {
            let src = std::fs::read_to_string(dir.join(&entry.source)).expect("readable flow");
            out.push(ExampleFlow {
                project: manifest.project.clone(),
                namespace: manifest.namespace().to_string(),
                region: manifest.deploy.region.clone(),
                name: name.clone(),
                source_path: entry.source.to_string_lossy().replace('\\', "/"),
                functions: functions.clone(),
                src,
            });
        }
    }
    out
}

impl ExampleFlow {
    pub fn compile(&self) -> Value {
        let mut known = KnownFunctions::new(&self.namespace, self.functions.iter().cloned());
        known.flow_name = Some(self.name.clone());
        let opts = CompileOptions::one_unit_per_function(
            self.functions.iter().cloned(),
            &self.source_path,
        );
        compile_flow(
            &self.src,
            &known,
            &opts,
            &format!("{}/{}", self.project, self.name),
        )
    }
}

/// Runs asl-validator on `docs` (name, document) in one process; returns the names it
/// rejected with its report, or panics when the validator cannot run at all.
pub fn validate(docs: &[(String, Value)]) -> Result<(), String> {
    let validator = asl_validator();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut cmd = Command::new(&validator);
    for (i, (name, doc)) in docs.iter().enumerate() {
        let file = dir.path().join(format!("{i:03}-{}.json", sanitize(name)));
        std::fs::write(&file, asl::to_pretty_json(doc)).expect("writable temp file");
        cmd.arg("--json-path").arg(&file);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", validator.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(text),
        _ => panic!("asl-validator failed to run ({}):\n{text}", out.status),
    }
}

pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The `flowctl` binary of this checkout, built (or found fresh) by cargo in the calling test
/// binary's profile: it belongs to another package, so cargo does not hand tests its path.
pub fn flowctl_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        // <target>/<profile>/deps/<test>-<hash>
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .and_then(|p| p.to_str())
            .unwrap_or("debug")
            .to_string();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(repo_root()).args([
            "build",
            "-p",
            "flowctl",
            "--bin",
            "flowctl",
            "--message-format=json",
        ]);
        if profile == "release" {
            cmd.arg("--release");
        }
        let out = cmd.stderr(Stdio::inherit()).output().expect("cargo runs");
        assert!(out.status.success(), "cargo could not build flowctl");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "flowctl")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported the flowctl executable")
    })
}
