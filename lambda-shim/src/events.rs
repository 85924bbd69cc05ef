//! The events roles a unit's binary plays when deploy makes it a subscription's subscriber
//! (`FLOWCTL_SUBSCRIBER`: SQS batches through `flowctl-subscriber`, the registry's functions
//! as its in-process target) or a webhook source's ingest (`FLOWCTL_INGEST`: function URL
//! requests onto the subscriptions' queues). Only under the `subscriber` feature.

use crate::Registry;
use flowctl_protocol::subscriber::{IngestConfig, INGEST_ENV, SUBSCRIBER_ENV};
use flowctl_subscriber::run::Subscriber;
use flowctl_subscriber::target::InProcess;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// Serves the role `role` names until the Runtime API goes away.
pub(crate) async fn serve(role: &str, registry: Registry) -> Result<(), String> {
    if role == SUBSCRIBER_ENV {
        subscriber(registry).await
    } else {
        ingest().await
    }
}

async fn subscriber(registry: Registry) -> Result<(), String> {
    let registry = Arc::new(registry);
    let functions: Arc<dyn InProcess> = Arc::new(move |name: String, payload: Value| {
        let registry = Arc::clone(&registry);
        async move { registry.call(&name, payload).await }
    });
    let subscriber = Subscriber::from_env(Some(functions))
        .await
        .map_err(|error| error.to_string())?;
    let subscriber = Arc::new(subscriber);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let subscriber = Arc::clone(&subscriber);
        async move {
            let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
            subscriber
                .handle(&event.payload, deadline)
                .await
                .map_err(|error| Diagnostic {
                    error_type: "InvalidBatch".into(),
                    error_message: error.to_string(),
                })
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|error| format!("the Lambda runtime stopped: {error}"))
}

async fn ingest() -> Result<(), String> {
    let text = std::env::var(INGEST_ENV).unwrap_or_default();
    let config: IngestConfig = serde_json::from_str(&text)
        .map_err(|error| format!("{INGEST_ENV} is not an ingest configuration: {error}"))?;
    let config = Arc::new(config);
    let sqs = flowctl_subscriber::config::Clients::from_env().await.sqs;
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let (config, sqs) = (Arc::clone(&config), sqs.clone());
        async move {
            Ok::<Value, Diagnostic>(
                flowctl_subscriber::ingest::handle(&config, event.payload, &sqs).await,
            )
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|error| format!("the Lambda runtime stopped: {error}"))
}
