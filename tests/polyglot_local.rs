//! Python and Node functions run as local Lambda processes: AWS's own runtime interface
//! clients (`awslambdaric`, `aws-lambda-ric`) really installed into a project's
//! `.flowctl/runtimes/` and started by `LocalProcesses` against flowctl's Runtime API, their
//! answers, exceptions and init errors turned into what Step Functions reports.
//!
//! The environments are installed once under cargo's target tmp dir and kept between runs (an
//! install is checked by its stamp, so a second run does no work); the first Node install builds
//! aws-lambda-ric's native client and takes a minute or two.

use flowctl::local::interpreters::{Environment, Host, Language};
use flowctl::local::{LocalOptions, LocalProcesses, UnitConfig};
use flowctl_engine::{Invoker, TaskError};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const PYTHON_APP: &str = r#"
import os

class PaymentDeclined(Exception):
    pass

def ok(event, context):
    return {
        "got": event,
        "function": context.function_name,
        "request_id": context.aws_request_id,
        "time_left": context.get_remaining_time_in_millis() > 0,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "cwd": os.getcwd(),
        "handler": os.environ["_HANDLER"],
        "pid": os.getpid(),
    }

def declined(event, context):
    raise PaymentDeclined("no money for " + event["who"])

def slow(event, context):
    import time
    time.sleep(5)
"#;

const NODE_APP: &str = r#"
class PaymentDeclined extends Error {
  constructor(message) { super(message); this.name = "PaymentDeclined"; }
}
exports.ok = async (event, context) => ({
  got: event,
  function: context.functionName,
  request_id: context.awsRequestId,
  time_left: context.getRemainingTimeInMillis() > 0,
  task_root: process.env.LAMBDA_TASK_ROOT,
  cwd: process.cwd(),
  handler: process.env._HANDLER,
  pid: process.pid,
});
exports.declined = async (event) => { throw new PaymentDeclined("no money for " + event.who); };
exports.typed = async () => { null.field; };
"#;

const NODE_ESM: &str = "export const handler = async (event) => ({ esm: true, event });\n";

/// The project whose `.flowctl/runtimes/` the tests install into, kept between runs.
fn project() -> PathBuf {
    flowctl_tests::runtimes_project()
}

/// The environment for `language`, installed if needed (blocking work, off the runtime).
async fn environment(language: Language) -> Environment {
    tokio::task::spawn_blocking(move || {
        Environment::ensure(language, &project(), &Host::default(), &mut |note| {
            eprintln!("{note}")
        })
        .unwrap_or_else(|error| panic!("{error}"))
    })
    .await
    .unwrap()
}

fn source(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn unit(environment: &Environment, name: &str, handler: &str, source: &Path) -> UnitConfig {
    environment
        .launch(handler, source)
        .unwrap()
        .unit(name)
        .timeout(Duration::from_secs(10))
}

fn local(units: Vec<UnitConfig>) -> LocalProcesses {
    let options = LocalOptions {
        forward_output: false,
        ..LocalOptions::default()
    };
    units
        .into_iter()
        .fold(LocalProcesses::with_options(options), LocalProcesses::unit)
}

async fn call(local: &LocalProcesses, function: &str, input: Value) -> Result<Value, TaskError> {
    local
        .invoke(function, Arc::new(input))
        .await
        .map(Arc::unwrap_or_clone)
}

fn cause(error: &TaskError) -> Value {
    serde_json::from_str(&error.cause).unwrap_or_else(|_| panic!("cause is not JSON: {error:?}"))
}

/// What both languages must do the same: answer with the handler's value in Lambda's
/// environment, stay warm, and report an exception by its class name.
async fn answers_stays_warm_and_reports_exceptions(local: &LocalProcesses, root: &Path) {
    let root = std::fs::canonicalize(root).unwrap();
    let first = call(local, "ok", json!({"a": [1, 2], "s": "é"}))
        .await
        .unwrap();
    assert_eq!(first["got"], json!({"a": [1, 2], "s": "é"}));
    assert_eq!(first["function"], "ok");
    assert_eq!(first["handler"], "app.ok");
    assert_eq!(first["time_left"], true);
    assert_eq!(first["task_root"], root.display().to_string());
    assert_eq!(first["cwd"], root.display().to_string());
    assert!(!first["request_id"].as_str().unwrap().is_empty());
    let second = call(local, "ok", json!(null)).await.unwrap();
    assert_eq!(second["pid"], first["pid"], "the process is kept warm");
    assert_ne!(second["request_id"], first["request_id"]);

    let error = call(local, "declined", json!({"who": "ann"}))
        .await
        .unwrap_err();
    assert_eq!(error.error, "PaymentDeclined", "{error:?}");
    let cause = cause(&error);
    assert_eq!(cause["errorType"], "PaymentDeclined");
    assert_eq!(cause["errorMessage"], "no money for ann");
    // A handler's exception leaves the process usable, as on Lambda.
    assert!(call(local, "declined", json!({"who": "bob"}))
        .await
        .is_err());
    assert_eq!(local.pids("declined").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_function_runs_through_awslambdaric() {
    let environment = environment(Language::Python).await;
    let code = source(&[
        ("app.py", PYTHON_APP),
        ("broken.py", "import not_a_module_xyz\n"),
    ]);
    let root = code.path();
    let local = local(vec![
        unit(&environment, "ok", "app.ok", root),
        unit(&environment, "declined", "app.declined", root),
        unit(&environment, "slow", "app.slow", root).timeout(Duration::from_secs(1)),
        unit(&environment, "missing", "app.nope", root),
        unit(&environment, "broken", "broken.handler", root),
    ]);
    answers_stays_warm_and_reports_exceptions(&local, root).await;

    let error = call(&local, "declined", json!({"who": "cy"}))
        .await
        .unwrap_err();
    let trace = cause(&error)["stackTrace"].clone();
    assert!(
        trace.as_array().is_some_and(|t| !t.is_empty()),
        "awslambdaric's body is kept whole: {error:?}"
    );

    let error = call(&local, "slow", json!({})).await.unwrap_err();
    assert_eq!(error.error, "Sandbox.Timedout", "{error:?}");

    let error = call(&local, "missing", json!({})).await.unwrap_err();
    assert_eq!(error.error, "Runtime.HandlerNotFound", "{error:?}");
    assert_eq!(
        cause(&error)["errorMessage"],
        "Handler 'nope' missing on module 'app'"
    );

    let error = call(&local, "broken", json!({})).await.unwrap_err();
    assert_eq!(error.error, "Runtime.ImportModuleError", "{error:?}");
    assert!(
        error.cause.contains("No module named 'not_a_module_xyz'"),
        "{error:?}"
    );
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_function_runs_through_aws_lambda_ric() {
    let environment = environment(Language::Node).await;
    let code = source(&[
        ("app.js", NODE_APP),
        ("esm.mjs", NODE_ESM),
        ("broken.js", "require('not-a-module-xyz');\n"),
    ]);
    let root = code.path();
    let local = local(vec![
        unit(&environment, "ok", "app.ok", root),
        unit(&environment, "declined", "app.declined", root),
        unit(&environment, "typed", "app.typed", root),
        unit(&environment, "esm", "esm.handler", root),
        unit(&environment, "missing", "app.nope", root),
        unit(&environment, "broken", "broken.handler", root),
    ]);
    answers_stays_warm_and_reports_exceptions(&local, root).await;

    let error = call(&local, "typed", json!({})).await.unwrap_err();
    assert_eq!(
        error.error, "TypeError",
        "a built-in error by its name: {error:?}"
    );

    assert_eq!(
        call(&local, "esm", json!({"n": 1})).await,
        Ok(json!({"esm": true, "event": {"n": 1}}))
    );

    let error = call(&local, "missing", json!({})).await.unwrap_err();
    assert_eq!(error.error, "Runtime.HandlerNotFound", "{error:?}");

    let error = call(&local, "broken", json!({})).await.unwrap_err();
    assert_eq!(error.error, "Runtime.ImportModuleError", "{error:?}");
    assert!(error.cause.contains("not-a-module-xyz"), "{error:?}");
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_catches_a_python_exception_by_its_class_name() {
    use flowctl_engine::{execute, load, ExecutionOptions, Status};
    let environment = environment(Language::Python).await;
    let code = source(&[("app.py", PYTHON_APP)]);
    let local = local(vec![unit(
        &environment,
        "declined",
        "app.declined",
        code.path(),
    )]);
    let doc = json!({
        "StartAt": "Pay",
        "States": {
            "Pay": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${unit:declined}", "Payload": {"who.$": "$.who"}},
                "Catch": [{"ErrorEquals": ["PaymentDeclined"], "ResultPath": "$.error", "Next": "Refused"}],
                "End": true
            },
            "Refused": {"Type": "Pass", "End": true}
        }
    });
    let machine = load(&doc).unwrap_or_else(|errors| panic!("{errors:?}"));
    let run = execute(
        &machine,
        json!({"who": "dee"}),
        &local,
        &ExecutionOptions::default(),
    )
    .await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    let output = run.output.unwrap();
    assert_eq!(output["error"]["Error"], "PaymentDeclined");
    let cause: Value = serde_json::from_str(output["error"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "no money for dee");
    local.shutdown().await;
}
