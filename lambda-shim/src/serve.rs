//! Serving under Lambda: the registry behind `lambda_runtime`, one invocation at a time, each
//! payload dispatched by [`Registry::handle`] and each error posted with its own name.

use crate::Registry;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;

/// The variables `lambda_runtime` reads at start-up (it panics without them); Lambda always
/// sets them, so their absence means the binary was started some other way.
const REQUIRED_ENV: &[&str] = &[
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Serves until the Runtime API goes away; the error says why it stopped or could not start.
pub(crate) async fn serve(registry: Registry) -> Result<(), String> {
    let problems = registry.problems();
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let missing: Vec<&str> = REQUIRED_ENV
        .iter()
        .copied()
        .filter(|name| std::env::var_os(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "AWS_LAMBDA_RUNTIME_API is set but {} is not: not started by Lambda?",
            missing.join(", ")
        ));
    }
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.parse::<i32>().is_err() {
        return Err(format!(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is `{memory}`, not a number of megabytes"
        ));
    }
    let registry = Arc::new(registry);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let registry = Arc::clone(&registry);
        async move {
            registry
                .handle(event.payload)
                .await
                .map_err(crate::error::diagnostic)
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|error| format!("the Lambda runtime stopped: {error}"))
}
