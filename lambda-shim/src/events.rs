//! The events roles a unit's binary plays when deploy makes it a subscription's subscriber
//! (`FLOWCTL_SUBSCRIBER`: SQS batches through `flowctl-subscriber`, the registry's functions
//! as its in-process target), a source's ingest (`FLOWCTL_INGEST`: a webhook's function URL
//! requests, or an `amqp` source's Amazon MQ events, onto the subscriptions' queues) or a
//! polled source's poller (`FLOWCTL_POLLER`: scheduled polls of a `poll` or `postgres`
//! source). Only under the `subscriber` feature.

use crate::Registry;
use flowctl_protocol::subscriber::{IngestConfig, INGEST_ENV, POLLER_ENV, SUBSCRIBER_ENV};
use flowctl_subscriber::run::Subscriber;
use flowctl_subscriber::target::InProcess;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Serves the role `role` names until the Runtime API goes away.
pub(crate) async fn serve(role: &str, registry: Registry) -> Result<(), String> {
    // Boxed: each role's future is deep (the SDK clients' and the runtime's), and the unit's
    // `main` would otherwise hold all three inline, past the compiler's layout depth.
    match role {
        SUBSCRIBER_ENV => Box::pin(subscriber(registry)).await,
        POLLER_ENV => Box::pin(poller(registry)).await,
        _ => Box::pin(ingest()).await,
    }
}

/// The registry's functions as a subscriber's or poller's in-process target.
fn in_process(registry: Registry) -> Arc<dyn InProcess> {
    let registry = Arc::new(registry);
    Arc::new(move |name: String, payload: Value| {
        let registry = Arc::clone(&registry);
        async move { registry.call(&name, payload).await }
    })
}

/// The invocation's deadline, from the Lambda context's (Unix milliseconds).
fn deadline(context_deadline_ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(context_deadline_ms)
}

async fn subscriber(registry: Registry) -> Result<(), String> {
    let subscriber = Subscriber::from_env(Some(in_process(registry)))
        .await
        .map_err(|error| error.to_string())?;
    let subscriber = Arc::new(subscriber);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let subscriber = Arc::clone(&subscriber);
        async move {
            subscriber
                .handle(&event.payload, deadline(event.context.deadline))
                .await
                .map_err(|error| Diagnostic {
                    error_type: "InvalidBatch".into(),
                    error_message: error.to_string(),
                })
        }
    });
    lambda_runtime::run(handler).await.map_err(stopped)
}

/// An ingest: an Amazon MQ for RabbitMQ event (`"eventSource": "aws:rmq"`) goes to
/// `flowctl_subscriber::mq` (an error fails the batch, which Lambda hands again), anything
/// else is a function URL request of a webhook.
async fn ingest() -> Result<(), String> {
    let text = std::env::var(INGEST_ENV).unwrap_or_default();
    let config: IngestConfig = serde_json::from_str(&text)
        .map_err(|error| format!("{INGEST_ENV} is not an ingest configuration: {error}"))?;
    let config = Arc::new(config);
    let sqs = flowctl_subscriber::config::Clients::from_env().await.sqs;
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let (config, sqs) = (Arc::clone(&config), sqs.clone());
        async move {
            if flowctl_subscriber::mq::is_mq_event(&event.payload) {
                return Box::pin(flowctl_subscriber::mq::handle(
                    &config,
                    &event.payload,
                    &sqs,
                ))
                .await
                .map(|report| serde_json::to_value(report).unwrap_or(Value::Null))
                .map_err(|error| Diagnostic {
                    error_type: "MqIngestFailed".into(),
                    error_message: error.to_string(),
                });
            }
            Ok::<Value, Diagnostic>(
                flowctl_subscriber::ingest::handle(&config, event.payload, &sqs).await,
            )
        }
    });
    lambda_runtime::run(handler).await.map_err(stopped)
}

/// A poller: each scheduled invocation polls until its time is nearly up and answers its
/// report; a failure is the invocation's error (`PollFailed`).
async fn poller(registry: Registry) -> Result<(), String> {
    let config =
        flowctl_subscriber::poller::config_from_env().map_err(|error| error.to_string())?;
    let config = Arc::new(config);
    let clients = Arc::new(flowctl_subscriber::config::Clients::from_env().await);
    let in_process = in_process(registry);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let (config, clients, in_process) = (
            Arc::clone(&config),
            Arc::clone(&clients),
            Arc::clone(&in_process),
        );
        async move {
            Box::pin(flowctl_subscriber::poller::serve_once(
                &config,
                &clients,
                deadline(event.context.deadline),
                Some(in_process),
            ))
            .await
            .map(|report| serde_json::to_value(report).unwrap_or(Value::Null))
            .map_err(|error| Diagnostic {
                error_type: "PollFailed".into(),
                error_message: error.to_string(),
            })
        }
    });
    lambda_runtime::run(handler).await.map_err(stopped)
}

fn stopped(error: lambda_runtime::Error) -> String {
    format!("the Lambda runtime stopped: {error}")
}
