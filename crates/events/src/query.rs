//! Reading the log (`flowctl events ls`, `events show`, tests): a read-only connection, so it
//! works while `flowctl dev` writes (WAL readers never block the writer).

use crate::log::{connect, LogError};
use crate::time;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// `events ls` filters; `None` takes everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub subscription: Option<String>,
    pub key: Option<String>,
    /// `queued`, `done`, `ko`, `parked`, or `rejected` (messages that never became events,
    /// and deliveries whose subscription key could not be read).
    pub status: Option<String>,
    pub source: Option<String>,
    /// The newest `limit` rows (shown oldest first).
    pub limit: Option<usize>,
}

/// One row of `events ls`: an event's delivery to one subscription, or a rejected message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub seq: Option<i64>,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub id: Option<String>,
    pub key: Option<String>,
    pub subscription: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub accepted_at: String,
    pub finished_at: Option<String>,
}

/// An event with its trail: every delivery's outcome, output and trace.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub event: Value,
    pub deliveries: Vec<DeliveryTrail>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryTrail {
    pub delivery: i64,
    pub subscription: String,
    pub key: String,
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    pub trace: Option<Value>,
    pub finished_at: Option<String>,
}

/// A read connection to the log at `path` (created empty if missing).
pub fn open(path: &Path) -> Result<Connection, LogError> {
    connect(path)
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> LogError + '_ {
    move |source| LogError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

/// An event by its sequence number, or `source/id`, or an id alone (the newest with it).
pub(crate) fn find_seq(conn: &Connection, text: &str) -> rusqlite::Result<Option<i64>> {
    if let Ok(seq) = text.parse::<i64>() {
        let found = conn
            .query_row("SELECT seq FROM events WHERE seq = ?1", [seq], |r| r.get(0))
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some((source, id)) = text.split_once('/') {
        let found = conn
            .query_row(
                "SELECT seq FROM events WHERE source = ?1 AND id = ?2",
                [source, id],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    conn.query_row(
        "SELECT seq FROM events WHERE id = ?1 ORDER BY seq DESC LIMIT 1",
        [text],
        |r| r.get(0),
    )
    .optional()
}

/// The rows `filter` selects, oldest first.
pub fn list(path: &Path, filter: &Filter) -> Result<Vec<Row>, LogError> {
    let conn = open(path)?;
    let err = sql(path);
    let mut rows = Vec::new();
    let rejected_only = filter.status.as_deref() == Some("rejected");
    let mut clauses = Vec::new();
    let mut args: Vec<String> = Vec::new();
    for (column, value) in [
        ("d.sub", &filter.subscription),
        ("d.key", &filter.key),
        ("d.status", &filter.status),
        ("e.source", &filter.source),
    ] {
        if let Some(value) = value {
            args.push(value.clone());
            clauses.push(format!("{column} = ?{}", args.len()));
        }
    }
    let limit = filter.limit.unwrap_or(usize::MAX).min(i64::MAX as usize) as i64;
    let query = format!(
        "SELECT * FROM (SELECT e.seq, e.source, e.type, e.id, d.key, d.sub, d.status, d.attempts, d.error, e.accepted_at, d.finished_at, d.id AS did
         FROM deliveries d JOIN events e ON e.seq = d.seq {} ORDER BY d.id DESC LIMIT {limit}) ORDER BY did",
        if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        }
    );
    let mut stmt = conn.prepare(&query).map_err(&err)?;
    let found = stmt
        .query_map(params_from_iter(args.iter()), |r| {
            Ok(Row {
                seq: r.get(0)?,
                source: r.get(1)?,
                event_type: r.get(2)?,
                id: r.get(3)?,
                key: r.get(4)?,
                subscription: r.get(5)?,
                status: r.get(6)?,
                attempts: r.get(7)?,
                error: r.get(8)?,
                accepted_at: time::rfc3339_millis(r.get(9)?),
                finished_at: r.get::<_, Option<i64>>(10)?.map(time::rfc3339_millis),
            })
        })
        .map_err(&err)?;
    for row in found {
        rows.push(row.map_err(&err)?);
    }
    let wants_rejected = rejected_only
        || (filter.status.is_none() && filter.subscription.is_none() && filter.key.is_none());
    if wants_rejected {
        let mut stmt = conn
            .prepare(
                "SELECT source, reason, at FROM rejected WHERE ?1 IS NULL OR source = ?1 ORDER BY id",
            )
            .map_err(&err)?;
        let found = stmt
            .query_map([filter.source.as_deref()], |r| {
                Ok(Row {
                    seq: None,
                    source: r.get(0)?,
                    event_type: None,
                    id: None,
                    key: None,
                    subscription: None,
                    status: "rejected".into(),
                    attempts: 0,
                    error: r.get(1)?,
                    accepted_at: time::rfc3339_millis(r.get(2)?),
                    finished_at: None,
                })
            })
            .map_err(&err)?;
        for row in found {
            rows.push(row.map_err(&err)?);
        }
    }
    Ok(rows)
}

/// An event and its trail, found by seq, `source/id` or id.
pub fn show(path: &Path, event: &str) -> Result<Shown, LogError> {
    let conn = open(path)?;
    let err = sql(path);
    let seq = find_seq(&conn, event)
        .map_err(&err)?
        .ok_or_else(|| LogError::NoSuchEvent(event.to_string()))?;
    let event = crate::log::read_event(&conn, seq).map_err(&err)?;
    let mut stmt = conn
        .prepare(
            "SELECT id, sub, key, status, attempts, error, cause, output, trace, finished_at
             FROM deliveries WHERE seq = ?1 ORDER BY id",
        )
        .map_err(&err)?;
    let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    let deliveries = stmt
        .query_map([seq], |r| {
            Ok(DeliveryTrail {
                delivery: r.get(0)?,
                subscription: r.get(1)?,
                key: r.get(2)?,
                status: r.get(3)?,
                attempts: r.get(4)?,
                error: r.get(5)?,
                cause: r.get(6)?,
                output: parse(r.get(7)?),
                trace: parse(r.get(8)?),
                finished_at: r.get::<_, Option<i64>>(9)?.map(time::rfc3339_millis),
            })
        })
        .map_err(&err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&err)?;
    Ok(Shown { event, deliveries })
}

/// Every parked key: (subscription, key, the seq of the event it is parked at).
pub fn parked(path: &Path) -> Result<Vec<(String, String, i64)>, LogError> {
    let conn = open(path)?;
    let err = sql(path);
    let mut stmt = conn
        .prepare(
            "SELECT k.sub, k.key, d.seq FROM keys k JOIN deliveries d ON d.id = k.parked ORDER BY k.sub, k.key",
        )
        .map_err(&err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(&err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&err);
    rows
}

/// Every stored state of a subscription, by key.
pub fn states(
    path: &Path,
    subscription: &str,
) -> Result<std::collections::HashMap<String, Value>, LogError> {
    let conn = open(path)?;
    let err = sql(path);
    let mut stmt = conn
        .prepare("SELECT key, state FROM keys WHERE sub = ?1 AND state IS NOT NULL")
        .map_err(&err)?;
    let rows = stmt
        .query_map([subscription], |r| {
            let state: String = r.get(1)?;
            Ok((
                r.get(0)?,
                serde_json::from_str(&state).unwrap_or(Value::Null),
            ))
        })
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err);
    rows
}
