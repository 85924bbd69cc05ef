//! The contract between `flowctl deploy` (`flowctl-aws`), which wires a subscription on AWS,
//! and the deployed subscriber (`flowctl-subscriber`, run by the shim), which runs it: the
//! configuration deploy writes into the subscriber's environment, the shape of an event on
//! its SQS FIFO queue, and the layout of its DynamoDB state table. Written once, here.
//!
//! The semantics are `flowctl dev`'s (docs/events.md); docs/events.md's "On AWS" section
//! says how each is kept on SQS FIFO, Lambda and DynamoDB.

use serde::{Deserialize, Serialize};

/// The variable holding a subscriber's [`SubscriberConfig`] as JSON: set, the shim serves
/// SQS batches for that subscription instead of function calls.
pub const SUBSCRIBER_ENV: &str = "FLOWCTL_SUBSCRIBER";
/// The variable holding an ingest function's [`IngestConfig`] as JSON: set, the shim serves
/// a source's requests (a function URL's webhooks) and enqueues what they carry.
pub const INGEST_ENV: &str = "FLOWCTL_INGEST";

/// How one subscription runs on AWS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberConfig {
    /// The subscription's name in the manifest (`<sub>:ko` for the implicit subscription
    /// that runs another's KO handler).
    pub subscription: String,
    /// Its own FIFO queue: backoff is set on its messages, released events go back to it.
    pub queue_url: String,
    /// Its state table (see [`table`]).
    pub table: String,
    pub target: TargetRef,
    /// Keep per-key state: the target gets `{"event", "state"}` and answers `{"state", …}`.
    pub state: bool,
    pub retry: RetryPolicy,
    /// `park`: a KO holds its key until `flowctl events release --target aws`.
    pub park: bool,
    /// Where its KO events go: the queues of the subscriptions on `ko:<subscription>`
    /// (the KO handler's implicit subscription among them).
    pub ko_routes: Vec<Route>,
}

/// What a subscription invokes, resolved to where it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetRef {
    /// A function registered in the subscriber's own binary, called in-process.
    InProcess { function: String },
    /// A function of another unit, through `lambda:Invoke`; `envelope` when that unit
    /// hosts several functions (the call is wrapped in `{"function", "payload"}`).
    Lambda {
        arn: String,
        function: String,
        envelope: bool,
    },
    /// An express flow, through `StartSyncExecution`.
    Express { arn: String },
    /// A standard flow, through `StartExecution` (named after the event, so a redelivery
    /// finds the same execution) and waiting for its end within the subscriber's time.
    Standard { arn: String },
}

/// Retries before an event is KO: `max` more attempts, `interval` seconds before the
/// first, multiplied by `backoff` each time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    pub max: u32,
    pub interval: f64,
    pub backoff: f64,
}

impl RetryPolicy {
    pub const NONE: RetryPolicy = RetryPolicy {
        max: 0,
        interval: 0.0,
        backoff: 1.0,
    };

    /// The wait before attempt `attempt + 1` after `attempt` failed (1-based), in whole
    /// seconds as SQS takes a visibility timeout, at most [`MAX_VISIBILITY_SECONDS`].
    pub fn delay_seconds(&self, attempt: u32) -> u32 {
        let seconds = self.interval * self.backoff.powi(attempt.saturating_sub(1) as i32);
        if seconds.is_nan() || seconds <= 0.0 {
            0
        } else {
            seconds.ceil().min(MAX_VISIBILITY_SECONDS as f64) as u32
        }
    }
}

/// SQS's longest visibility timeout (12 hours): the longest wait between two attempts.
pub const MAX_VISIBILITY_SECONDS: u32 = 43_200;

/// One subscription's view of a source: the events it takes and the queue they go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub subscription: String,
    pub queue_url: String,
    /// Only events of these types (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// The subscription's own ordering key, a path into the payload; else the event's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// How an ingest function turns a request into events: the source's name and how its
/// events' type, id and key are read (the manifest's locators, as `flowctl dev` reads
/// them), its signature check, and the routes of the subscriptions that take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The variable holding the HMAC secret (set on the ingest function by the user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_header: Option<String>,
    pub routes: Vec<Route>,
    /// What invokes the function: a function URL (a webhook) or an Amazon MQ event source
    /// mapping (an `amqp` source); absent in a webhook's configuration written before.
    #[serde(default)]
    pub kind: IngestKind,
}

/// What an ingest function serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestKind {
    /// Function URL requests (payload format 2.0) of a `webhook` source.
    #[default]
    Webhook,
    /// Batches of an Amazon MQ for RabbitMQ event source mapping (`"eventSource": "aws:rmq"`)
    /// of an `amqp` source.
    Amqp,
}

/// The SQS message group of a key: the key itself when SQS accepts it (1 to 128 printable
/// ASCII characters), else `~` and a 64-bit FNV-1a hash of it. Two keys sharing a group are
/// only ordered together, never reordered, so a collision costs concurrency, not safety.
pub fn message_group_id(key: &str) -> String {
    if is_sqs_id(key) && !key.starts_with('~') {
        return key.to_string();
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("~{hash:016x}")
}

/// Whether SQS takes `text` as a message group or deduplication id: 1 to 128 printable
/// ASCII characters (`!` to `~`).
pub fn is_sqs_id(text: &str) -> bool {
    (1..=128).contains(&text.len()) && text.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The deduplication id of an event (or of a re-sent one, `<id>#r<n>`): the text itself when
/// SQS takes it, else its SHA-256 in hex (64 characters). What the ingest, the subscriber's
/// KO events and `flowctl events release` all send with.
pub fn deduplication_id(text: &str) -> String {
    use sha2::{Digest, Sha256};
    if is_sqs_id(text) {
        return text.to_string();
    }
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The DynamoDB table of a subscription: partition key [`table::KEY`] (the event key),
/// sort key [`table::SORT`], one item per kind below. Its TTL attribute is
/// [`table::EXPIRES`].
pub mod table {
    /// The partition key attribute: the event's ordering key.
    pub const KEY: &str = "key";
    /// The sort key attribute: which item of the key this is.
    pub const SORT: &str = "item";
    /// The TTL attribute (epoch seconds) of the items that expire.
    pub const EXPIRES: &str = "expires";

    /// The key's state item: `version` (N, incremented by every write, the condition of the
    /// next), `state` (S, JSON, with `state: true`), `last_event` (S), `parked` (BOOL),
    /// `failing` (S, the event under retry) and `attempts` (N, its attempts so far),
    /// `park_seq` (N, the last parked item's number).
    pub const STATE_ITEM: &str = "state";
    /// `done#<event id>`: the event was applied (written with the state in one transaction);
    /// kept [`DONE_DAYS`] days, so a redelivery long after SQS's 5-minute deduplication window
    /// is still recognised.
    pub const DONE_PREFIX: &str = "done#";
    /// `parked#<20-digit number>`: an event held while its key is parked (`body`, S: the
    /// message as it came), in the order they arrived; released in that order.
    pub const PARKED_PREFIX: &str = "parked#";
    /// How long a `done#` item is kept (as `flowctl dev` keeps finished events).
    pub const DONE_DAYS: u64 = 7;

    pub const VERSION: &str = "version";
    pub const STATE: &str = "state";
    pub const LAST_EVENT: &str = "last_event";
    pub const PARKED: &str = "parked";
    pub const FAILING: &str = "failing";
    pub const ATTEMPTS: &str = "attempts";
    pub const PARK_SEQ: &str = "park_seq";
    pub const BODY: &str = "body";

    /// The sort key of a parked event.
    pub fn parked_item(seq: u64) -> String {
        format!("{PARKED_PREFIX}{seq:020}")
    }

    /// The sort key of an applied event's marker.
    pub fn done_item(event_id: &str) -> String {
        format!("{DONE_PREFIX}{event_id}")
    }
}

/// The variable holding a poller's [`PollerConfig`] as JSON: set, the shim serves the
/// scheduled invocations of a `poll` or `postgres` source, each polling it until its time is
/// nearly up and putting what it reads on the queues of the subscriptions that take it.
pub const POLLER_ENV: &str = "FLOWCTL_POLLER";

/// How a polled source (`poll`, `postgres`) runs on AWS: the poller Lambda `P-poll-SRC`,
/// invoked by a schedule, one at a time (reserved concurrency 1), keeping its cursor in the
/// project's cursor table (layout in [`cursors`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollerConfig {
    pub source: String,
    /// The source's locators, as [`IngestConfig`] has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Seconds between polls that found nothing (the manifest's `every`).
    pub every_seconds: u32,
    /// The project's cursor table (see [`cursors`]).
    pub cursor_table: String,
    pub routes: Vec<Route>,
    pub kind: PollerKind,
}

/// What a poller reads: `{"poll": {"target": …}}` or `{"postgres": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PollerKind {
    /// A poll function, called with `{"cursor"}` and answering `{"events", "cursor"}`
    /// (`crate::poll`); only [`TargetRef::InProcess`] or [`TargetRef::Lambda`].
    Poll { target: TargetRef },
    /// A PostgreSQL outbox table read in the order of its integer `cursor_column`.
    Postgres {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// The variable holding the connection string (set on the poller by the user).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url_env: Option<String>,
        table: String,
        cursor_column: String,
    },
}

/// The project's cursor table (`P-cursors`): partition key [`table::KEY`] = the source's
/// name, sort key [`table::SORT`], one cursor item per polled source and the events it could
/// not identify, kept (never dropped, never expired).
pub mod cursors {
    /// The source's cursor: attribute [`CURSOR`] (S), the last cursor taken — a poll
    /// reply's cursor as JSON text, an outbox's cursor column value as text. Absent: start.
    pub const CURSOR_ITEM: &str = "cursor";
    pub const CURSOR: &str = "cursor";
    /// `rejected#<unix ms>#<n>`: a message the poller could not identify or route, with its
    /// payload in [`super::table::BODY`] (S) and why in [`REASON`] (S).
    pub const REJECTED_PREFIX: &str = "rejected#";
    pub const REASON: &str = "reason";

    /// The sort key of the `n`th message rejected by a poll at `unix_ms` (both zero-padded,
    /// so items sort in the order they were rejected).
    pub fn rejected_item(unix_ms: u64, n: usize) -> String {
        format!("{REJECTED_PREFIX}{unix_ms:013}#{n:06}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_keep_plain_keys_and_hash_the_rest() {
        assert_eq!(message_group_id("b-100"), "b-100");
        for odd in ["", "a b", "é", "~x", &"k".repeat(129)] {
            let id = message_group_id(odd);
            assert!(id.starts_with('~') && id.len() == 17, "{odd:?} → {id}");
        }
        assert_ne!(message_group_id(""), message_group_id(" "));
    }

    #[test]
    fn deduplication_ids_hash_what_sqs_refuses() {
        assert_eq!(deduplication_id("r-17"), "r-17");
        let long = deduplication_id(&"x".repeat(129));
        assert_eq!(long.len(), 64);
        assert_ne!(deduplication_id("a b"), deduplication_id("a  b"));
    }

    #[test]
    fn retry_delays_grow_and_stop_at_sqs_limit() {
        let retry = RetryPolicy {
            max: 5,
            interval: 1.5,
            backoff: 2.0,
        };
        assert_eq!(
            (1..=4).map(|a| retry.delay_seconds(a)).collect::<Vec<_>>(),
            [2, 3, 6, 12]
        );
        let huge = RetryPolicy {
            max: 100,
            interval: 3600.0,
            backoff: 10.0,
        };
        assert_eq!(huge.delay_seconds(90), MAX_VISIBILITY_SECONDS);
        assert_eq!(RetryPolicy::NONE.delay_seconds(1), 0);
    }

    #[test]
    fn configs_round_trip() {
        let config = SubscriberConfig {
            subscription: "book".into(),
            queue_url: "https://sqs/q.fifo".into(),
            table: "p-book".into(),
            target: TargetRef::Standard {
                arn: "arn:aws:states:eu-west-1:1:stateMachine:p-Booking".into(),
            },
            state: false,
            retry: RetryPolicy::NONE,
            park: true,
            ko_routes: vec![],
        };
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains(r#""kind":"standard""#), "{text}");
        assert_eq!(
            serde_json::from_str::<SubscriberConfig>(&text).unwrap(),
            config
        );
    }
    #[test]
    fn poller_configs_round_trip() {
        let config = PollerConfig {
            source: "outbox".into(),
            event_type: None,
            id: Some("$.event_id".into()),
            key: None,
            every_seconds: 5,
            cursor_table: "p-cursors".into(),
            routes: vec![],
            kind: PollerKind::Postgres {
                url: None,
                url_env: Some("DB_URL".into()),
                table: "public.outbox".into(),
                cursor_column: "id".into(),
            },
        };
        let text = serde_json::to_string(&config).unwrap();
        assert!(
            text.contains(r#""kind":{"postgres":{"url_env":"DB_URL""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<PollerConfig>(&text).unwrap(), config);
        let poll = r#"{"source":"feed","every_seconds":5,"cursor_table":"p-cursors","routes":[],
            "kind":{"poll":{"target":{"kind":"in_process","function":"Feed"}}}}"#;
        let poll: PollerConfig = serde_json::from_str(poll).unwrap();
        assert!(matches!(poll.kind, PollerKind::Poll { .. }));
        assert_eq!(
            cursors::rejected_item(1_700_000_000_000, 3),
            "rejected#1700000000000#000003"
        );
    }
}
