//! Where the AWS commands (`deploy`, `status`, `destroy`, `invoke --target`) go: the target
//! options, flattened into each command's `Args`, and the connection made from them.

use super::said_no;
use crate::cmd::{Exit, Global};
use anyhow::Context;
use flowctl::project::Project;
use flowctl_aws::config::{self, ConfigError, LOCALSTACK_ENDPOINT};
use flowctl_aws::model::{Account, Observed};
use flowctl_aws::{observe, Clients};

/// `--target`: where a command runs or reads (`invoke`, `events`): the embedded engine and
/// local processes, or a deployment on LocalStack or AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Local,
    Localstack,
    Aws,
}

impl Target {
    /// The command that deploys there, for hints.
    pub fn deploy_command(self) -> &'static str {
        match self {
            Target::Localstack => "flowctl deploy --localstack",
            _ => "flowctl deploy",
        }
    }
}

/// Where to deploy: the standard AWS configuration chain, overridden by these.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Talk to LocalStack: http://localhost:4566 (or $LOCALSTACK_ENDPOINT / --endpoint-url), its test credentials and us-east-1 unless configured
    #[arg(long)]
    pub localstack: bool,
    /// Send every AWS request to this URL (LocalStack, moto, a proxy)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS region (default: the manifest's deploy.region, then the AWS configuration)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// A named profile of the shared AWS configuration (~/.aws/config)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// A connection to the target: the runtime, the clients and the account.
pub struct Connection {
    pub runtime: tokio::runtime::Runtime,
    pub clients: Clients,
    pub account: Account,
}

impl Connection {
    /// What the account holds for `project` (found by its tag); `Err(exit)` when AWS refused
    /// to list it (the reason printed).
    pub fn observe(
        &self,
        global: &Global,
        project: &str,
    ) -> anyhow::Result<Result<Observed, Exit>> {
        match self
            .runtime
            .block_on(observe::observe(&self.clients, project))
        {
            Ok(observed) => Ok(Ok(observed)),
            Err(err) => said_no(global, &err.to_string()).map(Err),
        }
    }
}

impl TargetArgs {
    /// `--target`, with `--localstack` as its shorthand.
    pub fn place(&self, target: Target) -> Target {
        if self.localstack {
            Target::Localstack
        } else {
            target
        }
    }

    /// These options for a deployment on `target` (`--target localstack` implies `--localstack`).
    pub fn deployed(&self, target: Target) -> TargetArgs {
        TargetArgs {
            localstack: self.localstack || target == Target::Localstack,
            ..self.clone()
        }
    }

    /// Whether requests go somewhere other than AWS itself (LocalStack, moto, a proxy).
    pub fn is_custom_endpoint(&self) -> bool {
        self.localstack || self.endpoint_url.is_some()
    }

    /// Checks the endpoint answers (exit 2 when not), loads the configuration and asks STS
    /// who we are.
    pub fn connect(&self, project: &Project) -> anyhow::Result<Connection> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let target = config::Target {
            endpoint: self.endpoint_url.clone(),
            region: self
                .region
                .clone()
                .or_else(|| project.manifest.deploy.region.clone()),
            profile: self.profile.clone(),
            localstack: self.localstack,
        };
        let (clients, account) = runtime.block_on(async {
            target.check_endpoint().await?;
            let config = target.load().await?;
            let clients = Clients::new(&config);
            let account = clients.account(&config).await?;
            Ok::<_, ConfigError>((clients, account))
        })?;
        Ok(Connection {
            runtime,
            clients,
            account,
        })
    }

    /// `AWS account 123456789012 in eu-west-1` or `http://… (account …, eu-west-1)`.
    pub fn label(&self, account: &Account) -> String {
        let endpoint = self.endpoint_url.clone().or_else(|| {
            self.localstack.then(|| {
                std::env::var("LOCALSTACK_ENDPOINT")
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| LOCALSTACK_ENDPOINT.into())
            })
        });
        match endpoint {
            Some(url) => format!("{url} (account {}, {})", account.id, account.region),
            None => format!("AWS account {} in {}", account.id, account.region),
        }
    }
}
