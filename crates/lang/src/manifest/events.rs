//! The manifest's `sources` and `subscriptions`: where events come from, and what each
//! subscription invokes for them, in what order, with what retries, KO handling and state.
//!
//! Plain data; `validate` checks it and `flowctl_events` runs it. The semantics are in
//! `docs/events.md`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a value of an event is read (`$.path`, `header:NAME`, a literal): one parser for
/// the validator, `flowctl dev` and the deployed ingest, kept in `flowctl-protocol`.
pub use flowctl_protocol::event::{Locator, Step, MAX_PATH_STEPS};

pub use flowctl_protocol::ko::{ko_handler_subscription, ko_source, KO_SOURCE_PREFIX};
/// The default number of keys a subscription runs at once.
pub const DEFAULT_CONCURRENCY: u32 = 16;
/// The most keys a subscription may run at once.
pub const MAX_CONCURRENCY: u32 = 10_000;
/// The default seconds between two polls (`poll`, `postgres`).
pub const DEFAULT_POLL_EVERY: u32 = 5;

/// Where events come from. Exactly one kind key (`webhook`, `schedule`, `poll`, `amqp`,
/// `postgres`, `nats`) says what it is; `type`, `id` and `key` say how an event's type, its
/// id (for deduplication) and its key (for ordering) are read from the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(flatten)]
    pub kind: SourceKind,
    /// The event type: a literal (`booking.requested`) or a path into the payload
    /// (`$.type`); default: the source's name.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Event type")]
    pub event_type: Option<String>,
    /// Where the event's id is: a path into the payload (`$.id`), or for webhooks a header
    /// (`header:X-GitHub-Delivery`); default per kind (README: "Events").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Event id")]
    pub id: Option<String>,
    /// Where the event's ordering key is: a path into the payload (`$.booking.id`); default
    /// per kind (a table's row key; otherwise one key for the whole source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Ordering key")]
    pub key: Option<String>,
}

/// The kind of a source and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// HTTP POST of a JSON body on a path of `flowctl dev`'s server.
    Webhook(Webhook),
    /// Fires on an EventBridge-style `rate(…)` or `cron(…)` expression.
    Schedule(Schedule),
    /// Change data capture by polling: a function called with `{"cursor"}` answers
    /// `{"events": [...], "cursor"}`; the cursor is stored with the events it produced.
    Poll(Poll),
    /// A RabbitMQ (AMQP 0-9-1) queue; a message is acknowledged once it is in the log.
    Amqp(Amqp),
    /// New rows of a PostgreSQL table (an outbox), read in key order by polling.
    Postgres(Postgres),
    /// A NATS JetStream stream, through a durable pull consumer.
    Nats(Nats),
}

impl SourceKind {
    /// The kind's key in the manifest.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Webhook(_) => "webhook",
            SourceKind::Schedule(_) => "schedule",
            SourceKind::Poll(_) => "poll",
            SourceKind::Amqp(_) => "amqp",
            SourceKind::Postgres(_) => "postgres",
            SourceKind::Nats(_) => "nats",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// The URL path (default `/events/<source>`); not under `/_flowctl/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "URL path", regex(pattern = r"^/"))]
    pub path: Option<String>,
    /// The environment variable holding the HMAC-SHA256 secret; when set, every request must
    /// carry a valid signature of its body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        title = "Secret variable",
        regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$")
    )]
    pub secret_env: Option<String>,
    /// The signature header: `X-Hub-Signature-256` (GitHub style, `sha256=<hex>`, the
    /// default) or `Stripe-Signature` (`t=<unix>,v1=<hex>` over `<t>.<body>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Signature header")]
    pub signature_header: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `rate(5 minutes)` or `cron(0 12 * * ? *)`, in EventBridge Scheduler's syntax (UTC).
    #[schemars(
        title = "Schedule expression",
        regex(pattern = r"^\s*(rate|cron)\(.*\)\s*$")
    )]
    pub expression: String,
    /// The payload of each event (default `{}`); the event also carries its scheduled time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Payload")]
    pub payload: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// The manifest function to call.
    #[schemars(title = "Function")]
    pub function: String,
    /// Seconds between polls (default 5); a poll that returned events is followed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Poll interval (seconds)", range(min = 1, max = 86400))]
    pub every: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Amqp {
    /// The broker URL (`amqp://user:pass@host:5672/vhost`); or `url_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Broker URL", regex(pattern = r"^[Aa][Mm][Qq][Pp][Ss]?://"))]
    pub url: Option<String>,
    /// The environment variable holding the broker URL (for credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "URL variable", regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub url_env: Option<String>,
    /// The queue to consume (declared durable if it does not exist).
    #[schemars(title = "Queue")]
    pub queue: String,
    /// Unacknowledged messages the broker may send ahead (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Prefetch", range(min = 1, max = 65535))]
    pub prefetch: Option<u16>,
    /// On AWS: the Amazon MQ for RabbitMQ broker Lambda consumes `queue` from
    /// (`arn:aws:mq:<region>:<account>:broker:<name>:<id>`); with `secret_arn`, or neither.
    /// `flowctl dev` ignores it (it connects with `url` or `url_env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        title = "Amazon MQ broker ARN",
        regex(pattern = r"^arn:aws[a-z-]*:mq:[a-z0-9-]+:[0-9]{12}:broker:[^:]+:[^:]+$")
    )]
    pub broker_arn: Option<String>,
    /// On AWS: the Secrets Manager secret holding the broker's `{"username", "password"}`,
    /// as Lambda's Amazon MQ event source requires
    /// (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`); with `broker_arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        title = "Broker credentials secret ARN",
        regex(pattern = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$")
    )]
    pub secret_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// The connection string (`postgres://user@host/db`); or `url_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        title = "Connection string",
        regex(pattern = r"^[Pp][Oo][Ss][Tt][Gg][Rr][Ee][Ss]([Qq][Ll])?://")
    )]
    pub url: Option<String>,
    /// The environment variable holding the connection string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "URL variable", regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub url_env: Option<String>,
    /// The table to read (`outbox`, or `schema.table`); each row becomes an event whose
    /// payload is the row as JSON.
    #[schemars(
        title = "Table",
        regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    )]
    pub table: String,
    /// The increasing column rows are read in order of (default `id`); also the default
    /// event id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Cursor column", regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub cursor_column: Option<String>,
    /// Seconds between polls (default 5); a poll that found rows is followed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Poll interval (seconds)", range(min = 1, max = 86400))]
    pub every: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nats {
    /// The server URL (`nats://127.0.0.1:4222`); or `url_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Server URL", regex(pattern = r"^[Nn][Aa][Tt][Ss]://"))]
    pub url: Option<String>,
    /// The environment variable holding the server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "URL variable", regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub url_env: Option<String>,
    /// The JetStream stream (created over `subject` if it does not exist).
    #[schemars(title = "Stream")]
    pub stream: String,
    /// The subject (filter) to consume.
    #[schemars(title = "Subject")]
    pub subject: String,
}

/// What a subscription does with the events of its sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The source(s) it takes: source names, or `ko:<subscription>` for another
    /// subscription's KO events.
    #[schemars(title = "Sources")]
    pub source: OneOrMany,
    /// Only events of these types (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(title = "Event types")]
    pub types: Vec<String>,
    /// The ordering key, a path into the payload; default: the source's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Ordering key", regex(pattern = r"^\$"))]
    pub key: Option<String>,
    /// What it invokes.
    #[serde(flatten)]
    pub target: Target,
    /// Retries before an event is KO (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Retries")]
    pub retry: Option<Retry>,
    /// What happens on a KO: the handler it calls, and whether the key goes on (`skip`) or
    /// waits (`park`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "KO handling")]
    pub ko: Option<Ko>,
    /// Keys in flight at once (default 16, at most 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Concurrency (keys)", range(min = 1, max = 10000))]
    pub concurrency: Option<u32>,
    /// Keep per-key state: the target gets `{"event", "state"}` and answers `{"state", …}`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(title = "Per-key state")]
    pub state: bool,
}

impl Subscription {
    pub fn concurrency(&self) -> u32 {
        self.concurrency.unwrap_or(DEFAULT_CONCURRENCY)
    }

    pub fn sources(&self) -> &[String] {
        match &self.source {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }

    /// What a KO does to the key (default `skip`).
    pub fn on_ko(&self) -> KoAction {
        self.ko.as_ref().map_or(KoAction::Skip, |k| k.then)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A flow or a function of the manifest; exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Flow(String),
    Function(String),
}

impl Target {
    pub fn name(&self) -> &str {
        match self {
            Target::Flow(n) | Target::Function(n) => n,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Flow(n) => write!(f, "flow {n}"),
            Target::Function(n) => write!(f, "function {n}"),
        }
    }
}

/// Retries of a failed invocation: `max` more attempts, `interval` seconds before the
/// first, multiplied by `backoff` each time (as a flow's `retry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts after the first (0 to 100).
    #[schemars(title = "Retries", range(min = 0, max = 100))]
    pub max: u32,
    /// Seconds before the first retry (default 1).
    #[serde(default = "default_interval")]
    #[schemars(title = "Interval (seconds)", range(min = 0))]
    pub interval: f64,
    /// What each wait is multiplied by for the next (default 2, at least 1).
    #[serde(default = "default_backoff")]
    #[schemars(title = "Backoff factor", range(min = 1))]
    pub backoff: f64,
}

fn default_interval() -> f64 {
    1.0
}

fn default_backoff() -> f64 {
    2.0
}

/// The KO handler and what a KO does to its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ko {
    /// The handler called with the KO event `{event, error, cause, attempts}` (optional).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<Target>,
    /// `skip` (default): go on with the key's next event; `park`: hold the key until
    /// `flowctl events release`.
    #[serde(default)]
    #[schemars(title = "Then")]
    pub then: KoAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KoAction {
    #[default]
    Skip,
    Park,
}

impl KoAction {
    pub fn as_str(self) -> &'static str {
        match self {
            KoAction::Skip => "skip",
            KoAction::Park => "park",
        }
    }
}

/// The sources and subscriptions of a manifest.
pub type Sources = IndexMap<String, Source>;
pub type Subscriptions = IndexMap<String, Subscription>;
