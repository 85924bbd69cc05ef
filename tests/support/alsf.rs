//! aws-local-stepfunctions (a TypeScript ASL interpreter, installed in `tests/.tools` by
//! `scripts/install-test-tools.sh`) as a second, independent reference: one Node process per
//! batch runs `tests/support/alsf_driver.mjs` (see that file for the job and answer shapes).

use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The package directory (`$FLOWCTL_ALSF_DIR`, else under `tests/.tools`); panics, naming the
/// install command, when it is not installed.
pub fn package_dir() -> PathBuf {
    let dir = super::tool(
        "FLOWCTL_ALSF_DIR",
        "tests/.tools/node_modules/aws-local-stepfunctions",
        "aws-local-stepfunctions",
    );
    assert!(
        dir.join("build/main.node.esm.js").is_file(),
        "{} is not an installed aws-local-stepfunctions; run `bash scripts/install-test-tools.sh`",
        dir.display()
    );
    dir
}

/// The driver script.
pub fn driver() -> PathBuf {
    super::repo_root().join("tests/support/alsf_driver.mjs")
}

/// Runs `node alsf_driver.mjs COMMAND` with `job` and returns its answer; panics when Node
/// or the package is missing or the driver fails.
pub fn call(command: &str, job: &Value) -> Value {
    let node = super::node();
    let mut child = Command::new(&node)
        .arg(driver())
        .arg(command)
        .env("FLOWCTL_ALSF_DIR", package_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", node.display()));
    let mut stdin = child.stdin.take().expect("piped");
    let text = job.to_string();
    // A writer thread: a large batch must not block on a full pipe while the driver writes.
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("the driver finishes");
    writer
        .join()
        .expect("the writer thread")
        .expect("the driver reads its job");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "alsf_driver.mjs {command} failed ({}):\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "alsf_driver.mjs {command} answered no JSON ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `cases` (each `{"id", "definition", "input", "lambda"?}`) and answers by id.
pub fn run(cases: &[Value]) -> Value {
    call("run", &json!({ "cases": cases }))
}
