//! One-line helpers the engine's test modules share.

use super::*;
use serde_json::Value;

/// Loads `doc` (panicking with the errors if it does not load) and runs it once.
pub(crate) async fn run_doc(doc: Value, input: Value, invoker: &dyn Invoker) -> Execution {
    let machine = load(&doc).unwrap_or_else(|e| panic!("{e:?}"));
    execute(&machine, input, invoker, &ExecutionOptions::default()).await
}

/// The output of an execution that must have succeeded.
pub(crate) fn output(e: &Execution) -> Value {
    assert_eq!(e.status, Status::Succeeded, "{:?}", e.error);
    e.output.as_deref().cloned().unwrap()
}

/// The error of an execution that must have failed.
pub(crate) fn failed(e: &Execution) -> TaskError {
    assert_eq!(e.status, Status::Failed, "{:?}", e.output);
    e.error.clone().unwrap()
}
