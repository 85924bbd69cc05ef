//! Serving under Lambda: the registry behind `lambda_runtime`, one invocation at a time, each
//! payload dispatched by [`Registry::handle`] and each error posted with its own name; or,
//! when deploy made this function a subscriber (`FLOWCTL_SUBSCRIBER`) or an ingest
//! (`FLOWCTL_INGEST`), that role instead (`crate::events`, under the `subscriber` feature).

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
    if let Some(role) = events_role() {
        return serve_events(role, registry).await;
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

/// The events role deploy gave this function, if any: the variable that says so.
fn events_role() -> Option<&'static str> {
    use flowctl_protocol::subscriber::{INGEST_ENV, POLLER_ENV, SUBSCRIBER_ENV};
    [SUBSCRIBER_ENV, INGEST_ENV, POLLER_ENV]
        .into_iter()
        .find(|name| std::env::var_os(name).is_some())
}

#[cfg(feature = "subscriber")]
async fn serve_events(role: &str, registry: Registry) -> Result<(), String> {
    crate::events::serve(role, registry).await
}

/// Without the feature the binary cannot play the role it was deployed for: refusing to start
/// says why in the function's log, where serving function calls instead would lose events.
#[cfg(not(feature = "subscriber"))]
async fn serve_events(role: &str, _registry: Registry) -> Result<(), String> {
    Err(without_subscriber(role))
}

/// Why a binary without the `subscriber` feature does not start as a subscriber, an ingest
/// or a poller.
#[cfg(not(feature = "subscriber"))]
fn without_subscriber(role: &str) -> String {
    format!(
        "{role} is set, but this binary was built without the subscriber feature: run \
         `flowctl build`, which enables it for projects with subscriptions"
    )
}
