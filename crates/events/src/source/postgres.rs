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
//!
//! The SQL, the cursor column's types, how a row becomes a message and the settle rule are
//! `flowctl_protocol::poll`'s, shared with the deployed poller.

use super::{
    broker_url, reconnecting, shown_address, Backoff, Failure, Notes, Session, SourceError,
};
use crate::intake::Intake;
use flowctl_lang::manifest::events::{Postgres, DEFAULT_POLL_EVERY};
use flowctl_protocol::poll::{row_incoming, Outbox, Visibility, COLUMN_TYPE_SQL};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub use flowctl_protocol::poll::{PAGE, SETTLE};

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
    let table = outbox(&name, &config)?;
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

/// The table and cursor column, validated and quoted (a mistake is the source's
/// configuration error).
fn outbox(name: &str, config: &Postgres) -> Result<Outbox, SourceError> {
    Outbox::new(&config.table, crate::event::cursor_column(config))
        .map_err(|reason| SourceError::config(name, reason))
}

struct Reader<'a> {
    url: &'a str,
    name: &'a str,
    table: &'a Outbox,
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
                .query_opt(COLUMN_TYPE_SQL, &[&table.quoted, &table.column])
                .await
                .map_err(transient)?;
            let column_type: String = match found {
                Some(row) => row.get(0),
                None => return Err(Failure::Transient(table.missing())),
            };
            let cast = table.cast(&column_type).map_err(Failure::Config)?;
            let first = client
                .prepare(&table.first_page_sql())
                .await
                .map_err(transient)?;
            let after = client
                .prepare(&table.page_after_sql(cast))
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
                    Some(c) => format!("after {} {c}", table.column),
                    None => "from its first row".to_string(),
                }
            ));
            backoff.reset();
            let mut visibility = Visibility::default();
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
                let cursors: Vec<&str> = rows.iter().map(|r| r.cursor.as_str()).collect();
                let page = visibility.page(&cursors, full, self.every, Instant::now());
                let settled = page.settled;
                if settled > 0 {
                    let taken = &rows[..settled];
                    let last = taken[settled - 1].cursor.clone();
                    let messages = taken
                        .iter()
                        .map(|r| row_incoming(&r.cursor, &r.json))
                        .collect();
                    self.intake
                        .submit_batch(name, messages, Some(last.clone()))
                        .await
                        .map_err(|e| Failure::Transient(format!("the event log failed ({e})")))?;
                    cursor = Some(last);
                }
                let wait = page.wait;
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

/// A driver error with its server message, when there is one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}
