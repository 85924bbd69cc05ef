//! Where flowctl deploys: the AWS configuration (the standard chain — environment, profiles,
//! SSO — with `--region`, `--profile`, `--endpoint-url` and `--localstack` on top) and the
//! check that the endpoint answers before anything is changed.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use std::time::Duration;

/// LocalStack's edge endpoint when neither `$LOCALSTACK_ENDPOINT` nor `--endpoint-url` says otherwise.
pub const LOCALSTACK_ENDPOINT: &str = "http://localhost:4566";
/// The region a LocalStack deploy uses when nothing configures one.
pub const LOCALSTACK_REGION: &str = "us-east-1";

/// The account and endpoint a command talks to, as the command line gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `--endpoint-url`: every client talks to this URL instead of AWS.
    pub endpoint: Option<String>,
    /// `--region`, else the manifest's `deploy.region` (the caller decides the order).
    pub region: Option<String>,
    /// `--profile`: a named profile of the shared AWS configuration.
    pub profile: Option<String>,
    /// `--localstack`: LocalStack's endpoint, test credentials and region unless configured.
    pub localstack: bool,
}

/// Why the configuration cannot be used (exit 2: the environment's fault, not the project's).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{endpoint} does not answer ({reason}); is LocalStack running? `localstack start` (or pass --endpoint-url / set LOCALSTACK_ENDPOINT)")]
    LocalStackDown { endpoint: String, reason: String },
    #[error("{endpoint} does not answer ({reason}); check --endpoint-url")]
    EndpointDown { endpoint: String, reason: String },
    #[error("the endpoint `{0}` is not a URL such as http://localhost:4566")]
    BadEndpoint(String),
    #[error("no AWS region: pass --region, set `deploy.region` in flowctl.yaml, or set AWS_REGION (or a profile's region)")]
    NoRegion,
    #[error("cannot identify the AWS account ({0}); check your credentials (`aws sts get-caller-identity`, `aws sso login`, AWS_PROFILE)")]
    Identity(String),
}

impl Target {
    /// The endpoint every client uses, if not AWS's own.
    pub fn endpoint(&self) -> Option<String> {
        if let Some(url) = &self.endpoint {
            return Some(url.clone());
        }
        if self.localstack {
            let env = std::env::var("LOCALSTACK_ENDPOINT")
                .ok()
                .filter(|v| !v.is_empty());
            return Some(env.unwrap_or_else(|| LOCALSTACK_ENDPOINT.to_string()));
        }
        None
    }

    /// The SDK configuration: the standard chain, then this target's overrides. Throttling
    /// and 5xx answers are retried by the SDK (standard mode, 5 attempts, short back-off).
    pub async fn load(&self) -> Result<SdkConfig, ConfigError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(5)),
        );
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = self.endpoint() {
            loader = loader.endpoint_url(endpoint);
        }
        let configured = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let region = self.region.clone().or_else(|| {
            let chain_has_one = self.profile.is_some()
                || configured("AWS_REGION")
                || configured("AWS_DEFAULT_REGION")
                || configured("AWS_PROFILE");
            (self.localstack && !chain_has_one).then(|| LOCALSTACK_REGION.to_string())
        });
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        }
        let has_credentials =
            self.profile.is_some() || configured("AWS_ACCESS_KEY_ID") || configured("AWS_PROFILE");
        if self.localstack && !has_credentials {
            loader = loader.credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "localstack",
            ));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(ConfigError::NoRegion);
        }
        Ok(config)
    }

    /// Before any change: does the endpoint accept a connection? (AWS's own endpoints are
    /// checked by the first call, which also proves the credentials.)
    pub async fn check_endpoint(&self) -> Result<(), ConfigError> {
        let Some(endpoint) = self.endpoint() else {
            return Ok(());
        };
        let (host, port) =
            host_port(&endpoint).ok_or_else(|| ConfigError::BadEndpoint(endpoint.clone()))?;
        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
        let reason = match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(err)) => err.to_string(),
            Err(_) => "no answer in 3 s".to_string(),
        };
        Err(if self.localstack {
            ConfigError::LocalStackDown { endpoint, reason }
        } else {
            ConfigError::EndpointDown { endpoint, reason }
        })
    }
}

/// `http://host:port/…` → (host, port), with the scheme's default port.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if authority.is_empty() {
        return None;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None => Some((authority.to_string(), default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_to_host_and_port() {
        assert_eq!(
            host_port("http://localhost:4566"),
            Some(("localhost".into(), 4566))
        );
        assert_eq!(
            host_port("http://127.0.0.1:5000/"),
            Some(("127.0.0.1".into(), 5000))
        );
        assert_eq!(
            host_port("https://example.com/x"),
            Some(("example.com".into(), 443))
        );
        assert_eq!(host_port("http://[::1]:80"), Some(("::1".into(), 80)));
        assert_eq!(host_port("localhost:4566"), None);
        assert_eq!(host_port("ftp://x"), None);
        assert_eq!(host_port("http://x:notaport"), None);
    }

    #[test]
    fn localstack_endpoint_is_the_flag_then_the_default() {
        let flag = Target {
            endpoint: Some("http://127.0.0.1:9".into()),
            localstack: true,
            ..Target::default()
        };
        assert_eq!(flag.endpoint().as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(Target::default().endpoint(), None);
    }
}
