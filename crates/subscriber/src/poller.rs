//! The deployed poller: the runtime of a `poll` or `postgres` source on AWS. The Lambda
//! `P-poll-SRC` is invoked by a schedule (once a minute, one at a time: reserved concurrency
//! 1); each invocation ([`serve_once`]) polls the source the way `flowctl dev` does
//! (`flowctl_protocol::poll`: the same request and reply, the same outbox SQL and 1-second
//! visibility rule), identifies each event as `dev` does (`flowctl_protocol::event::identify`),
//! puts it on the queue of every subscription that takes it (`queue::routed`, `queue::send`,
//! as the webhook ingest does), and then moves the source's cursor in the project's cursor
//! table, on the condition that it is still the one read. It polls again at once after a poll
//! that found events, else after `every_seconds`, until too little of its time is left.
//!
//! At-least-once: events are sent before the cursor moves, so a crash in between sends them
//! again on the next invocation; SQS's deduplication id (the event id) and the subscribers'
//! `done#` markers absorb that. A message that cannot be identified (or that a subscription's
//! key path finds nothing in) is kept as a `rejected#…` item of the cursor table with its
//! reason, never dropped, as `dev` keeps it in its log; a poll function's answer that is not
//! `{"events", "cursor"}` is kept the same way and ends the invocation with an error.
//!
//! PostgreSQL is reached over plain TCP (`NoTls`), as `flowctl dev` reaches it. Known gap:
//! RDS and Aurora usually require TLS and refuse such connections. The poller Lambda must
//! also be able to reach the database: its VPC settings are the user's (through the
//! manifest's future `deploy` options), not something this crate sets.

use crate::config::Clients;
use crate::queue::{self, Event, SendError};
use crate::target::{Call, InProcess, Targets};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use flowctl_protocol::calendar::rfc3339_millis;
use flowctl_protocol::event::{body_too_large, identify, Defaults, Incoming, Locators, MAX_BODY};
use flowctl_protocol::poll::{
    poll_reply, poll_request, row_incoming, stored_poll_cursor, Outbox, Visibility,
    COLUMN_TYPE_SQL, PAGE,
};
use flowctl_protocol::subscriber::{
    cursors, table, PollerConfig, PollerKind, TargetRef, POLLER_ENV,
};
use serde::Serialize;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What must be left of the invocation's time to start another poll after its wait: one
/// poll's calls and writes.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// What must be left to send one more row of a page already read; past it the cursor is
/// moved to the last row sent and the invocation ends (the rest is read again next time).
pub const SEND_MARGIN: Duration = Duration::from_secs(5);

/// The most bytes of a rejected message's payload kept in its item (DynamoDB's items hold
/// 400 KB).
pub const MAX_REJECTED_BODY: usize = 300 * 1024;

/// What one invocation did: polls made, events put on the queues, messages kept as
/// rejected, the cursor it leaves, and whether it stopped because another poller had moved
/// the cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollReport {
    pub polls: u32,
    pub events: u64,
    pub rejected: u64,
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cursor_moved_elsewhere: bool,
}

/// Why an invocation ended in an error. The cursor is where the last successful poll left
/// it: what was read after it is read again by the next invocation.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("{POLLER_ENV} is not set: this function was not deployed as a poller")]
    Missing,
    #[error("{POLLER_ENV} is not a poller configuration: {0}")]
    Invalid(String),
    /// The configuration cannot work (a target kind, a name, an unset variable, the cursor
    /// column's type).
    #[error("source `{source_name}`: {reason}")]
    Config { source_name: String, reason: String },
    /// The poll function failed.
    #[error("source `{source_name}`: the poll function {function} failed: {error}: {cause}")]
    Function {
        source_name: String,
        function: String,
        error: String,
        cause: String,
    },
    /// The poll function answered something else than `{"events", "cursor"}` (kept as a
    /// rejected item).
    #[error("source `{source_name}`: {reason}")]
    Reply { source_name: String, reason: String },
    #[error("source `{source_name}`: PostgreSQL {operation}: {message}")]
    Sql {
        source_name: String,
        operation: &'static str,
        message: String,
    },
    #[error("source `{source_name}`: dynamodb:{operation} on {table} ({item}): {message}")]
    DynamoDb {
        source_name: String,
        operation: &'static str,
        table: String,
        item: String,
        message: String,
    },
    #[error("source `{source_name}`: {error}")]
    Send {
        source_name: String,
        error: SendError,
    },
}

/// Reads the configuration from `FLOWCTL_POLLER`.
pub fn config_from_env() -> Result<PollerConfig, PollError> {
    let text = std::env::var(POLLER_ENV).map_err(|_| PollError::Missing)?;
    parse_config(&text)
}

/// Reads a configuration written by deploy.
pub fn parse_config(text: &str) -> Result<PollerConfig, PollError> {
    serde_json::from_str(text).map_err(|error| PollError::Invalid(error.to_string()))
}

/// Whether there is time for another poll after waiting `wait`: at least
/// [`DEADLINE_MARGIN`] must be left once the wait is over.
pub fn time_for_another(now: SystemTime, deadline: SystemTime, wait: Duration) -> bool {
    time_left(now, deadline) >= wait.saturating_add(DEADLINE_MARGIN)
}

/// The time left before `deadline` (zero past it).
fn time_left(now: SystemTime, deadline: SystemTime) -> Duration {
    deadline.duration_since(now).unwrap_or_default()
}

/// One scheduled invocation of the poller of `config.source`: polls until less than the
/// wait before the next poll plus [`DEADLINE_MARGIN`] is left before `deadline` (the
/// Lambda's), or until another poller moved the cursor. `in_process` runs the functions of
/// the poller's own binary (a poll target `{"kind": "in_process"}`).
pub async fn serve_once(
    config: &PollerConfig,
    clients: &Clients,
    deadline: SystemTime,
    in_process: Option<Arc<dyn InProcess>>,
) -> Result<PollReport, PollError> {
    let poller = Poller {
        config,
        clients,
        deadline,
    };
    let result = match &config.kind {
        PollerKind::Poll { target } => {
            let targets = Targets::new(in_process, clients.lambda.clone(), clients.sfn.clone());
            poller.poll_function(target, &targets).await
        }
        PollerKind::Postgres {
            url,
            url_env,
            table,
            cursor_column,
        } => {
            let url = database_url(&config.source, url.as_deref(), url_env.as_deref())?;
            poller.poll_outbox(&url, table, cursor_column).await
        }
    };
    match &result {
        Ok(report) => poller.log(&format!(
            "{} poll(s), {} event(s) sent, {} rejected; cursor {}{}",
            report.polls,
            report.events,
            report.rejected,
            report.cursor.as_deref().unwrap_or("(none)"),
            if report.cursor_moved_elsewhere {
                "; another poller moved the cursor, stopped"
            } else {
                ""
            }
        )),
        Err(error) => poller.log(&error.to_string()),
    }
    result
}

/// The connection string: `url`, else the variable `url_env` names.
fn database_url(
    source: &str,
    url: Option<&str>,
    url_env: Option<&str>,
) -> Result<String, PollError> {
    let config = |reason: String| PollError::Config {
        source_name: source.to_string(),
        reason,
    };
    match (url, url_env) {
        (Some(url), _) => Ok(url.to_string()),
        (None, Some(var)) => std::env::var(var).map_err(|_| {
            config(format!(
                "the environment variable `{var}` (its `url_env`) is not set on the poller"
            ))
        }),
        (None, None) => Err(config("neither `url` nor `url_env` is set".into())),
    }
}

/// A message kept as rejected: its payload and why.
struct Rejected {
    body: String,
    reason: String,
}

/// What one poll's messages came to: events put on the queues and messages rejected.
#[derive(Default)]
struct Outcome {
    sent: u64,
    rejected: Vec<Rejected>,
}

struct Poller<'a> {
    config: &'a PollerConfig,
    clients: &'a Clients,
    deadline: SystemTime,
}

impl Poller<'_> {
    fn source(&self) -> &str {
        &self.config.source
    }

    fn every(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.every_seconds))
    }

    fn log(&self, line: &str) {
        let _ = writeln!(
            std::io::stderr(),
            "flowctl-poller {}: {line}",
            self.source()
        );
    }

    /// Polls a function until the time is up.
    async fn poll_function(
        &self,
        target: &TargetRef,
        targets: &Targets,
    ) -> Result<PollReport, PollError> {
        let function = match target {
            TargetRef::InProcess { function } => format!("function `{function}`"),
            TargetRef::Lambda { arn, function, .. } => format!("function `{function}` ({arn})"),
            TargetRef::Express { .. } | TargetRef::Standard { .. } => {
                return Err(self.config_error(
                    "a poll source's target must be a function (in-process or Lambda), not a flow",
                ))
            }
        };
        let mut report = PollReport {
            cursor: self.read_cursor().await?,
            ..PollReport::default()
        };
        loop {
            let call = Call {
                event_id: "",
                attempt: 1,
                payload: poll_request(&stored_poll_cursor(report.cursor.as_deref())),
                deadline: self.deadline,
            };
            let answer =
                targets
                    .invoke(target, call)
                    .await
                    .map_err(|failure| PollError::Function {
                        source_name: self.source().to_string(),
                        function: function.clone(),
                        error: failure.error,
                        cause: failure.cause,
                    })?;
            report.polls += 1;
            let accepted_at = now_ms();
            let reply = match poll_reply(&answer, &function) {
                Ok(reply) => reply,
                Err(reason) => {
                    // Kept, not dropped: the answer is what a developer needs to fix the function.
                    let kept = Rejected {
                        body: answer.to_string(),
                        reason: reason.clone(),
                    };
                    self.keep(&[kept]).await?;
                    report.rejected += 1;
                    return Err(PollError::Reply {
                        source_name: self.source().to_string(),
                        reason,
                    });
                }
            };
            if !reply.is_idle(report.cursor.as_deref()) {
                let mut outcome = Outcome::default();
                for payload in reply.events {
                    self.deliver(
                        Incoming::new(payload.clone()),
                        Defaults::None,
                        accepted_at,
                        &mut outcome,
                    )
                    .await?;
                }
                if !self
                    .commit(&mut report, outcome, reply.cursor_text())
                    .await?
                {
                    return Ok(report);
                }
            }
            let wait = if reply.events.is_empty() {
                self.every()
            } else {
                Duration::ZERO
            };
            if !time_for_another(SystemTime::now(), self.deadline, wait) {
                return Ok(report);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Reads an outbox table until the time is up.
    async fn poll_outbox(
        &self,
        url: &str,
        table: &str,
        cursor_column: &str,
    ) -> Result<PollReport, PollError> {
        let outbox = Outbox::new(table, cursor_column).map_err(|r| self.config_error(r))?;
        let connect_within = time_left(SystemTime::now(), self.deadline)
            .saturating_sub(SEND_MARGIN)
            .min(Duration::from_secs(10));
        let connected = tokio::time::timeout(
            connect_within,
            tokio_postgres::connect(url, tokio_postgres::NoTls),
        )
        .await
        .map_err(|_| {
            self.sql(
                "connect",
                format!("no connection within {connect_within:?}"),
            )
        })?
        .map_err(|e| self.sql("connect", describe(&e)))?;
        let (client, connection) = connected;
        let driver = tokio::spawn(connection);
        let result = self.read_outbox(&client, &outbox).await;
        drop(client);
        let _ = driver.await;
        result
    }

    async fn read_outbox(
        &self,
        client: &tokio_postgres::Client,
        outbox: &Outbox,
    ) -> Result<PollReport, PollError> {
        let found = client
            .query_opt(COLUMN_TYPE_SQL, &[&outbox.quoted, &outbox.column])
            .await
            .map_err(|e| self.sql("the cursor column's type", describe(&e)))?;
        let column_type: String = match found {
            Some(row) => row
                .try_get(0)
                .map_err(|e| self.sql("the cursor column's type", describe(&e)))?,
            None => return Err(self.config_error(outbox.missing())),
        };
        let cast = outbox
            .cast(&column_type)
            .map_err(|r| self.config_error(r))?;
        let first = client
            .prepare(&outbox.first_page_sql())
            .await
            .map_err(|e| self.sql("prepare", describe(&e)))?;
        let after = client
            .prepare(&outbox.page_after_sql(cast))
            .await
            .map_err(|e| self.sql("prepare", describe(&e)))?;
        let mut report = PollReport {
            cursor: self.read_cursor().await?,
            ..PollReport::default()
        };
        let defaults = Defaults::Row {
            cursor_column: &outbox.column,
        };
        let mut visibility = Visibility::default();
        loop {
            let rows = match &report.cursor {
                None => client.query(&first, &[]).await,
                Some(c) => client.query(&after, &[c]).await,
            }
            .map_err(|e| self.sql("query", describe(&e)))?;
            report.polls += 1;
            let full = rows.len() == PAGE;
            let rows = rows
                .iter()
                .map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?)))
                .collect::<Result<Vec<(String, String)>, tokio_postgres::Error>>()
                .map_err(|e| self.sql("read a row", describe(&e)))?;
            let cursors: Vec<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
            let page = visibility.page(&cursors, full, self.every(), std::time::Instant::now());
            let accepted_at = now_ms();
            let mut outcome = Outcome::default();
            let mut last = None;
            let mut cut_short = false;
            for (cursor, json) in &rows[..page.settled] {
                if time_left(SystemTime::now(), self.deadline) < SEND_MARGIN {
                    cut_short = true;
                    break;
                }
                self.deliver(
                    row_incoming(cursor, json),
                    defaults,
                    accepted_at,
                    &mut outcome,
                )
                .await?;
                last = Some(cursor.clone());
            }
            if let Some(last) = last {
                if !self.commit(&mut report, outcome, last).await? {
                    return Ok(report);
                }
            }
            if cut_short || !time_for_another(SystemTime::now(), self.deadline, page.wait) {
                return Ok(report);
            }
            tokio::time::sleep(page.wait).await;
        }
    }

    /// Identifies one message and puts it on every route that takes it; a message that
    /// cannot be identified, is too big for SQS, or whose key a route cannot read is noted
    /// in `outcome` to be kept. A queue that refuses ends the invocation.
    async fn deliver(
        &self,
        incoming: Incoming,
        defaults: Defaults<'_>,
        accepted_at: i64,
        outcome: &mut Outcome,
    ) -> Result<(), PollError> {
        let locators = Locators {
            event_type: self.config.event_type.as_deref(),
            id: self.config.id.as_deref(),
            key: self.config.key.as_deref(),
        };
        let identity = match identify(self.source(), locators, defaults, &incoming) {
            Ok(identity) => identity,
            Err(rejection) => {
                outcome.rejected.push(Rejected {
                    body: incoming.payload.to_string(),
                    reason: rejection.reason,
                });
                return Ok(());
            }
        };
        let event = Event {
            source: self.source().to_string(),
            event_type: identity.event_type,
            id: identity.id,
            key: identity.key,
            accepted_at: rfc3339_millis(accepted_at),
            data: incoming.payload,
            released: false,
        };
        if let Some(reason) = sqs_refuses(&event.body()) {
            outcome.rejected.push(Rejected {
                body: event.data.to_string(),
                reason: format!("event `{}`: {reason}", event.id),
            });
            return Ok(());
        }
        let mut sends = Vec::new();
        for route in &self.config.routes {
            match queue::routed(route, &event) {
                Ok(None) => {}
                Ok(Some(routed)) => sends.push((route, routed)),
                Err(reason) => outcome.rejected.push(Rejected {
                    body: event.data.to_string(),
                    reason: format!(
                        "event `{}` for subscription `{}`: {reason}",
                        event.id, route.subscription
                    ),
                }),
            }
        }
        let dedup = flowctl_protocol::subscriber::deduplication_id(&event.id);
        futures_util::future::try_join_all(sends.iter().map(|(route, routed)| {
            queue::send(&self.clients.sqs, &route.queue_url, routed, &dedup)
        }))
        .await
        .map_err(|error| PollError::Send {
            source_name: self.source().to_string(),
            error,
        })?;
        outcome.sent += 1;
        Ok(())
    }

    /// Keeps a poll's rejected messages, then moves the cursor from `report.cursor` to
    /// `next`. `Ok(false)`: another poller moved it first (this one stops).
    async fn commit(
        &self,
        report: &mut PollReport,
        outcome: Outcome,
        next: String,
    ) -> Result<bool, PollError> {
        self.keep(&outcome.rejected).await?;
        report.rejected += outcome.rejected.len() as u64;
        report.events += outcome.sent;
        let moved = self.write_cursor(report.cursor.as_deref(), &next).await?;
        if moved {
            report.cursor = Some(next);
        } else {
            report.cursor_moved_elsewhere = true;
        }
        Ok(moved)
    }

    /// The stored cursor (consistent read); `None` when the source has none yet.
    async fn read_cursor(&self) -> Result<Option<String>, PollError> {
        let out = self
            .clients
            .dynamodb
            .get_item()
            .table_name(&self.config.cursor_table)
            .key(table::KEY, s(self.source()))
            .key(table::SORT, s(cursors::CURSOR_ITEM))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.dynamodb("GetItem", cursors::CURSOR_ITEM, e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        match item.get(cursors::CURSOR) {
            Some(AttributeValue::S(cursor)) => Ok(Some(cursor.clone())),
            _ => Err(PollError::DynamoDb {
                source_name: self.source().to_string(),
                operation: "GetItem",
                table: self.config.cursor_table.clone(),
                item: cursors::CURSOR_ITEM.into(),
                message: format!(
                    "the cursor item has no string attribute `{}`; delete the item to read the source from its start",
                    cursors::CURSOR
                ),
            }),
        }
    }

    /// Writes `next` on the condition that the stored cursor is still `old`; `Ok(false)`
    /// when it is not.
    async fn write_cursor(&self, old: Option<&str>, next: &str) -> Result<bool, PollError> {
        let put = self
            .clients
            .dynamodb
            .put_item()
            .table_name(&self.config.cursor_table)
            .item(table::KEY, s(self.source()))
            .item(table::SORT, s(cursors::CURSOR_ITEM))
            .item(cursors::CURSOR, s(next));
        let put = match old {
            None => put
                .condition_expression("attribute_not_exists(#i)")
                .expression_attribute_names("#i", table::SORT),
            Some(old) => put
                .condition_expression("#c = :old")
                .expression_attribute_names("#c", cursors::CURSOR)
                .expression_attribute_values(":old", s(old)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(self.dynamodb("PutItem", cursors::CURSOR_ITEM, e)),
        }
    }

    /// Writes each rejected message as a `rejected#<unix ms>#<n>` item.
    async fn keep(&self, rejected: &[Rejected]) -> Result<(), PollError> {
        let at = u64::try_from(now_ms()).unwrap_or(0);
        for (n, kept) in rejected.iter().enumerate() {
            let item = cursors::rejected_item(at, n);
            let (body, reason) = match truncated(&kept.body, MAX_REJECTED_BODY) {
                Some(body) => (
                    body,
                    format!(
                        "{} (payload cut to its first {MAX_REJECTED_BODY} bytes)",
                        kept.reason
                    ),
                ),
                None => (kept.body.as_str(), kept.reason.clone()),
            };
            self.log(&format!("kept as rejected ({item}): {reason}"));
            self.clients
                .dynamodb
                .put_item()
                .table_name(&self.config.cursor_table)
                .item(table::KEY, s(self.source()))
                .item(table::SORT, s(&item))
                .item(table::BODY, s(body))
                .item(cursors::REASON, s(&reason))
                .send()
                .await
                .map_err(|e| self.dynamodb("PutItem", &item, e))?;
        }
        Ok(())
    }

    fn config_error(&self, reason: impl Into<String>) -> PollError {
        PollError::Config {
            source_name: self.source().to_string(),
            reason: reason.into(),
        }
    }

    fn sql(&self, operation: &'static str, message: String) -> PollError {
        PollError::Sql {
            source_name: self.source().to_string(),
            operation,
            message,
        }
    }

    fn dynamodb<E, R>(
        &self,
        operation: &'static str,
        item: &str,
        error: SdkError<E, R>,
    ) -> PollError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let message = match error.message() {
            Some(message) => format!("{}: {message}", error.code().unwrap_or("error")),
            None => DisplayErrorContext(&error).to_string(),
        };
        PollError::DynamoDb {
            source_name: self.source().to_string(),
            operation,
            table: self.config.cursor_table.clone(),
            item: item.to_string(),
            message,
        }
    }
}

/// Why SQS would refuse a message body, if it would: over the quota events are held to, or
/// holding a character SQS does not carry (U+FFFE, U+FFFF; JSON escapes the control
/// characters). Such an event is kept as rejected rather than stopping the source.
pub fn sqs_refuses(body: &str) -> Option<String> {
    if body.len() > MAX_BODY {
        return Some(format!(
            "{} with the event's own fields ({} bytes)",
            body_too_large(),
            body.len()
        ));
    }
    body.contains(['\u{fffe}', '\u{ffff}'])
        .then(|| "the event holds U+FFFE or U+FFFF, which SQS does not carry".to_string())
}

/// `text` cut to at most `max` bytes on a character boundary, when it is longer.
fn truncated(text: &str, max: usize) -> Option<&str> {
    if text.len() <= max {
        return None;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(&text[..end])
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A driver error with its server message, when there is one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_poll_needs_its_wait_and_the_margin() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let every = Duration::from_secs(5);
        assert!(time_for_another(now, now + Duration::from_secs(15), every));
        assert!(!time_for_another(now, now + Duration::from_secs(14), every));
        assert!(time_for_another(now, now + DEADLINE_MARGIN, Duration::ZERO));
        assert!(!time_for_another(
            now,
            now - Duration::from_secs(1),
            Duration::ZERO
        ));
    }

    #[test]
    fn odd_bodies_are_refused_before_sqs_sees_them() {
        assert_eq!(sqs_refuses(r#"{"id":"1"}"#), None);
        assert!(sqs_refuses(&"x".repeat(MAX_BODY + 1))
            .unwrap()
            .contains("SQS message quota"));
        assert!(sqs_refuses("a\u{ffff}").unwrap().contains("U+FFFF"));
        assert_eq!(truncated("héllo", 2), Some("h"));
        assert_eq!(truncated("abc", 3), None);
    }

    #[test]
    fn configs_are_read_and_mistakes_named() {
        let text = r#"{"source":"feed","every_seconds":5,"cursor_table":"p-cursors","routes":[],
            "kind":{"poll":{"target":{"kind":"in_process","function":"Feed"}}}}"#;
        assert_eq!(parse_config(text).unwrap().source, "feed");
        let error = parse_config(r#"{"source": 1}"#).unwrap_err().to_string();
        assert!(error.starts_with("FLOWCTL_POLLER is not"), "{error}");
        let unset = database_url("db", None, Some("FLOWCTL_TEST_NEVER_SET_VARIABLE"));
        assert_eq!(
            unset.unwrap_err().to_string(),
            "source `db`: the environment variable `FLOWCTL_TEST_NEVER_SET_VARIABLE` (its `url_env`) is not set on the poller"
        );
        assert_eq!(
            database_url("db", Some("postgres://x"), None).unwrap(),
            "postgres://x"
        );
    }

    #[tokio::test]
    async fn a_flow_cannot_be_a_poll_function_and_garbage_is_an_error() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let clients = Clients::new(&sdk);
        let mut config = parse_config(
            r#"{"source":"feed","every_seconds":5,"cursor_table":"p-cursors","routes":[],
                "kind":{"poll":{"target":{"kind":"express","arn":"arn:x"}}}}"#,
        )
        .unwrap();
        let deadline = SystemTime::now() + Duration::from_secs(60);
        let error = serve_once(&config, &clients, deadline, None)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("must be a function"), "{error}");
        config.kind = PollerKind::Postgres {
            url: Some("postgres://x".into()),
            url_env: None,
            table: "a;b".into(),
            cursor_column: "id".into(),
        };
        let error = serve_once(&config, &clients, deadline, None)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("is not a table name"), "{error}");
    }
}
