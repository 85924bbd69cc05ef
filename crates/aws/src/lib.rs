//! Deploy, observe, invoke and destroy through the AWS SDK — on AWS or on LocalStack (and moto,
//! which speaks the same APIs). No CloudFormation, no AWS CLI: direct calls to IAM, Lambda,
//! Step Functions, CloudWatch Logs, STS, SQS, DynamoDB and EventBridge Scheduler.
//!
//! The shape: [`config::Target`] → an `SdkConfig` ([`Clients`]); [`model::desired`] (from
//! `build.json` and the manifest) and [`observe::observe`] (what the account holds, found by the
//! `flowctl:project` tag) are plain data; [`diff::compare`] compares them without I/O; and
//! [`apply::apply`] executes the changes with bounded parallelism, waiting for Lambda to settle and
//! retrying while a new IAM role propagates.
//!
//! Events (docs/events.md): [`wiring`] adds a project's sources and subscriptions to the
//! desired state (queues, tables, subscriber, ingest and poller functions with their roles,
//! mappings from queues and Amazon MQ brokers, function URLs, schedules, the cursor table;
//! their names in [`names`]), observed, diffed and applied with the
//! rest; [`events`] reads a deployed subscription's numbers and releases its parked keys.
//!
//! Architecture Invariant: only this crate talks to AWS. `record` is the build record
//! (`build.json`), the contract between `flowctl build`, which writes it, and deploy, which reads it.

pub mod apply;
mod apply_events;
pub mod config;
pub mod diff;
pub mod events;
pub mod invoke;
pub mod model;
pub mod names;
pub mod observe;
mod observe_events;
pub mod record;
pub mod wiring;

#[cfg(test)]
mod tests;

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use model::Account;

/// One client per service, all from the same configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sts: aws_sdk_sts::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub scheduler: aws_sdk_scheduler::Client,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            iam: aws_sdk_iam::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            sfn: aws_sdk_sfn::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
        }
    }

    /// The account, partition and region the configuration points at (one STS call, which
    /// also proves the credentials work).
    pub async fn account(
        &self,
        config: &aws_config::SdkConfig,
    ) -> Result<Account, config::ConfigError> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| config::ConfigError::Identity(DisplayErrorContext(&e).to_string()))?;
        let id = identity.account().unwrap_or_default().to_string();
        let partition = identity
            .arn()
            .and_then(|arn| arn.split(':').nth(1))
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
            .to_string();
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or(config::ConfigError::NoRegion)?;
        Ok(Account {
            partition,
            region,
            id,
        })
    }
}

/// A call AWS (or the network) refused: which resource, which operation, AWS's error code and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{resource}: {operation} failed: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct CallError {
    pub resource: String,
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl CallError {
    pub fn new<E>(
        resource: impl Into<String>,
        operation: &'static str,
        err: &SdkError<E>,
    ) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = match err.message() {
            Some(message) => message.to_string(),
            // No AWS error in the answer: say what happened instead of dumping the response.
            None => match err {
                SdkError::ServiceError(service) => format!(
                    "HTTP {} with no AWS error in the answer (after the SDK's retries)",
                    service.raw().status().as_u16()
                ),
                SdkError::DispatchFailure(_) => format!(
                    "the endpoint could not be reached: {}",
                    DisplayErrorContext(err)
                ),
                SdkError::TimeoutError(_) => "no answer in time".to_string(),
                _ => DisplayErrorContext(err).to_string(),
            },
        };
        CallError {
            resource: resource.into(),
            operation,
            code,
            message,
        }
    }

    /// A failure that is not an SDK error (a file to upload that cannot be read, a timeout).
    pub fn other(
        resource: impl Into<String>,
        operation: &'static str,
        message: impl Into<String>,
    ) -> CallError {
        CallError {
            resource: resource.into(),
            operation,
            code: None,
            message: message.into(),
        }
    }
}

/// The AWS error code of a failed call, if AWS answered one.
pub(crate) fn code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.code()
}

/// A delete's outcome: done when the call succeeded or failed with `gone`, the service's
/// "no such resource" code — either way the resource is not there, which is what was asked
/// (so a delete repeated after an interrupted run succeeds).
pub(crate) fn deleted<T, E>(
    result: Result<T, SdkError<E>>,
    gone: &str,
    resource: impl Into<String>,
    operation: &'static str,
) -> Result<(), CallError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(err) if code(&err) == Some(gone) => Ok(()),
        Err(err) => Err(CallError::new(resource, operation, &err)),
    }
}
