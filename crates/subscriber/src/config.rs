//! What the subscriber starts from: its [`SubscriberConfig`] read from `FLOWCTL_SUBSCRIBER`
//! (`flowctl_protocol::subscriber::SUBSCRIBER_ENV`), and the AWS clients built from the
//! Lambda environment by aws-config (region, credentials, and `AWS_ENDPOINT_URL`, which is
//! how the tests point it at moto).

use flowctl_protocol::subscriber::{SubscriberConfig, SUBSCRIBER_ENV};

/// Why the subscriber cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{SUBSCRIBER_ENV} is not set: this function was not deployed as a subscriber")]
    Missing,
    #[error("{SUBSCRIBER_ENV} is not a subscriber configuration: {0}")]
    Invalid(String),
}

/// Reads the configuration from the environment.
pub fn from_env() -> Result<SubscriberConfig, ConfigError> {
    let text = std::env::var(SUBSCRIBER_ENV).map_err(|_| ConfigError::Missing)?;
    parse(&text)
}

/// Reads a configuration written by deploy.
pub fn parse(text: &str) -> Result<SubscriberConfig, ConfigError> {
    serde_json::from_str(text).map_err(|error| ConfigError::Invalid(error.to_string()))
}

/// The clients the subscriber calls, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Clients {
    /// Clients over the standard chain of the environment (Lambda's role, region, and any
    /// `AWS_ENDPOINT_URL`).
    pub async fn from_env() -> Clients {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Clients::new(&sdk)
    }

    pub fn new(sdk: &aws_config::SdkConfig) -> Clients {
        Clients {
            sqs: aws_sdk_sqs::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_read_and_mistakes_named() {
        let text = r#"{"subscription":"book","queue_url":"https://q/p-book.fifo","table":"p-book",
            "target":{"kind":"in_process","function":"Apply"},"state":true,
            "retry":{"max":2,"interval":1.0,"backoff":2.0},"park":false,"ko_routes":[]}"#;
        let config = parse(text).unwrap();
        assert_eq!(config.subscription, "book");
        let error = parse(r#"{"subscription": 1}"#).unwrap_err().to_string();
        assert!(error.starts_with("FLOWCTL_SUBSCRIBER is not"), "{error}");
        assert!(parse("").is_err());
    }
}
