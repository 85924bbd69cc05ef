//! A PostgreSQL table (an outbox) as a source: its new rows, read in cursor order by polling.
//!
//! Every `every` seconds (at once again after a full page) the source reads
//! `SELECT cursor::text, to_json(t) FROM table t WHERE cursor > $stored ORDER BY cursor LIMIT
//! 1000`; each row becomes an event whose payload is the row as JSON, whose default id and key
//! are the cursor column's value. The rows read and the new cursor are written to the log in
//! one transaction (`Intake::submit_batch`), so a restart goes on exactly after the last row
//! the log has, whatever happened in between.
//!
//! Why polling an outbox rather than logical replication: it works on any PostgreSQL with
//! nothing but `SELECT` on the table — RDS or Aurora without the replication role, a server
//! without `wal_level=logical`, and no replication slot that keeps WAL forever when a `flowctl
//! dev` process dies without dropping it — and it is how the deployed (AWS) side reaches the
//! table too, so `dev` and production read it the same way.
//!
//! Its limits: `cursor_column` must be an increasing integer column (`smallint`, `integer`,
//! `bigint`, `numeric`; typically a `bigserial` or identity key), rows are appended and never
//! updated in place for the purpose of producing events, and a row that commits with a lower
//! cursor value after a higher one was read is missed. That last case happens when two
//! writers take ids from the sequence and the one with the lower id commits later. The remedy,
//! which this source implements, is a settle delay: a row is taken only once it has been
//! visible for [`SETTLE`]; until then the cursor stays before it and the next poll reads it
//! again (with any lower row that committed meanwhile). A writer whose transaction takes its
//! outbox id from the sequence and commits within `SETTLE` of a later id's commit is never
//! missed; writers should therefore insert the outbox row at the end of their transaction.
//! (The stricter alternative, ordering by transaction ids (`pg_current_snapshot()`), needs
//! a column the writers fill with `pg_current_xact_id()`.)
//!
//! Identifiers are validated (letters, digits, `_`; `schema.table` or `table`) and quoted, so
//! the names are matched as written (case-sensitive); nothing else is put into the SQL text.
//! Connections are plain TCP (`NoTls`): a server that requires TLS refuses them.

use super::{
    broker_url, reconnecting, shown_address, Backoff, Failure, Notes, Session, SourceError,
};
use crate::event::Incoming;
use crate::intake::Intake;
use flowctl_lang::manifest::events::{Postgres, DEFAULT_POLL_EVERY};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The most rows read by one poll.
pub const PAGE: usize = 1000;

/// How long a row must have been visible before it is taken (see the module's doc).
pub const SETTLE: Duration = Duration::from_secs(1);

/// The cursor column's types this source reads, as PostgreSQL names them.
const CURSOR_TYPES: &[&str] = &["smallint", "integer", "bigint", "numeric"];

/// Reads the new rows of `config.table` into `intake` as source `name` until `shutdown`
/// becomes true. Connection failures are retried forever; a table whose cursor column is not
/// an integer column is a configuration error.
pub async fn run(
    name: String,
    config: Postgres,
    intake: Intake,
    notes: Notes,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let url = broker_url(&name, config.url.as_deref(), config.url_env.as_deref())?;
    let table = Table::new(&name, &config)?;
    let every = Duration::from_secs(u64::from(config.every.unwrap_or(DEFAULT_POLL_EVERY)));
    let address = if url.contains("://") {
        shown_address(&url)
    } else {
        "the database".to_string()
    };
    let reader = Reader {
        url: &url,
        name: &name,
        table: &table,
        intake: &intake,
        notes: &notes,
        address: &address,
        every,
    };
    reconnecting("postgres", &name, &notes, &mut shutdown, &reader).await
}

/// The table and cursor column, validated and quoted.
struct Table {
    /// `"schema"."table"` or `"table"`.
    quoted: String,
    /// As shown in notes.
    shown: String,
    column: String,
}

impl Table {
    fn new(name: &str, config: &Postgres) -> Result<Table, SourceError> {
        let parts: Vec<&str> = config.table.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| identifier(p)) {
            return Err(SourceError::config(
                name,
                format!(
                    "`{}` is not a table name (`table` or `schema.table`, each letters, digits and `_`)",
                    config.table
                ),
            ));
        }
        let column = crate::event::cursor_column(config);
        if !identifier(column) {
            return Err(SourceError::config(
                name,
                format!("`{column}` is not a column name (letters, digits and `_`)"),
            ));
        }
        Ok(Table {
            quoted: parts
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join("."),
            shown: config.table.clone(),
            column: format!("\"{column}\""),
        })
    }
}

/// A PostgreSQL identifier this source accepts: a letter or `_`, then letters, digits, `_`;
/// at most 63 bytes.
fn identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && text.len() <= 63
}

struct Reader<'a> {
    url: &'a str,
    name: &'a str,
    table: &'a Table,
    intake: &'a Intake,
    notes: &'a Notes,
    address: &'a str,
    every: Duration,
}

impl Session for Reader<'_> {
    fn session<'a>(
        &'a self,
        shutdown: &'a mut watch::Receiver<bool>,
        backoff: &'a mut Backoff,
    ) -> crate::dispatch::BoxFuture<'a, Result<(), Failure>> {
        Box::pin(async move { self.connected(self.url, shutdown, backoff).await })
    }
}

/// One row read: its cursor value and its JSON.
struct Row {
    cursor: String,
    json: String,
}

impl Reader<'_> {
    async fn connected(
        &self,
        url: &str,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut Backoff,
    ) -> Result<(), Failure> {
        let (name, table, address) = (self.name, self.table, self.address);
        let transient = |e: tokio_postgres::Error| Failure::Transient(describe(&e));
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| {
                Failure::Transient(format!("cannot connect to {address} ({})", describe(&e)))
            })?;
        let driver = tokio::spawn(connection);
        let result = async {
            // The cursor column's type, for comparing the stored cursor (text) as it.
            let found = client
                .query_opt(
                    "SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
                     WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
                    &[&table.quoted, &table.column.trim_matches('"')],
                )
                .await
                .map_err(transient)?;
            let column_type: String = match found {
                Some(row) => row.get(0),
                None => {
                    return Err(Failure::Transient(format!(
                        "the table `{}` or its column {} does not exist (yet)",
                        table.shown, table.column
                    )))
                }
            };
            let Some(&cast) = CURSOR_TYPES.iter().find(|t| **t == column_type) else {
                return Err(Failure::Config(format!(
                    "the cursor column {} of `{}` is {column_type}; it must be an increasing integer column ({})",
                    table.column,
                    table.shown,
                    CURSOR_TYPES.join(", ")
                )));
            };
            let (column, quoted) = (&table.column, &table.quoted);
            let first = client
                .prepare(&format!(
                    "SELECT t.{column}::text, to_json(t)::text FROM {quoted} t
                     WHERE t.{column} IS NOT NULL ORDER BY t.{column} LIMIT {PAGE}"
                ))
                .await
                .map_err(transient)?;
            let after = client
                .prepare(&format!(
                    "SELECT t.{column}::text, to_json(t)::text FROM {quoted} t
                     WHERE t.{column} > $1::text::{cast} ORDER BY t.{column} LIMIT {PAGE}"
                ))
                .await
                .map_err(transient)?;
            let mut cursor = self
                .intake
                .log()
                .cursor(name)
                .await
                .map_err(|e| Failure::Transient(format!("the event log failed ({e})")))?;
            (self.notes)(format!(
                "postgres {name}: connected to {address}, reading table {} {}",
                table.shown,
                match &cursor {
                    Some(c) => format!("after {} {c}", column.trim_matches('"')),
                    None => "from its first row".to_string(),
                }
            ));
            backoff.reset();
            // When each row still beyond the cursor was first seen (for the settle delay).
            let mut seen: HashMap<String, Instant> = HashMap::new();
            loop {
                if super::stopping(shutdown) {
                    return Ok(());
                }
                let rows = match &cursor {
                    None => client.query(&first, &[]).await,
                    Some(c) => client.query(&after, &[c]).await,
                }
                .map_err(|e| Failure::Transient(format!("connection lost ({})", describe(&e))))?;
                let full = rows.len() == PAGE;
                let rows: Vec<Row> = rows
                    .iter()
                    .map(|r| Row {
                        cursor: r.get(0),
                        json: r.get(1),
                    })
                    .collect();
                let now = Instant::now();
                seen = rows
                    .iter()
                    .map(|r| (r.cursor.clone(), *seen.get(&r.cursor).unwrap_or(&now)))
                    .collect();
                let settled = rows
                    .iter()
                    .take_while(|r| now.duration_since(seen[&r.cursor]) >= SETTLE)
                    .count();
                if settled > 0 {
                    let taken = &rows[..settled];
                    let last = taken[settled - 1].cursor.clone();
                    let messages = taken.iter().map(incoming).collect();
                    self.intake
                        .submit_batch(name, messages, Some(last.clone()))
                        .await
                        .map_err(|e| Failure::Transient(format!("the event log failed ({e})")))?;
                    cursor = Some(last);
                }
                let wait = if settled < rows.len() {
                    // Back when the oldest unsettled row has settled.
                    let oldest = seen[&rows[settled].cursor];
                    SETTLE.saturating_sub(now.duration_since(oldest)).min(self.every)
                } else if full {
                    Duration::ZERO
                } else {
                    self.every
                };
                if !wait.is_zero() && super::sleep_unless_shutdown(wait, shutdown).await {
                    return Ok(());
                }
            }
        }
        .await;
        drop(client);
        let _ = driver.await;
        result
    }
}

/// A row as an event: the row's JSON, its cursor value as the default id and key.
fn incoming(row: &Row) -> Incoming {
    let payload = serde_json::from_str(&row.json)
        .unwrap_or_else(|_| serde_json::Value::String(row.json.clone()));
    Incoming {
        payload,
        headers: Vec::new(),
        default_id: Some(row.cursor.clone()),
        default_key: Some(row.cursor.clone()),
    }
}

/// A driver error with its server message, when there is one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}
