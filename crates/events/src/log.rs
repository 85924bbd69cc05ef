//! The durable log: one SQLite database holding every accepted event, its deliveries (one per
//! subscription that takes it), each key's state and parking, rejected messages and source
//! cursors.
//!
//! One writer thread owns the connection and commits whatever has queued up as one
//! transaction (group commit): a source's `accept` resolves only after its transaction is on
//! disk, so acknowledging after it loses nothing. Commands are applied in the order they were
//! sent, and the deliveries a commit creates are handed to the dispatcher in that order too —
//! acceptance order is the order of `Log::accept` calls.
//!
//! Architecture Invariant: only this module writes the database.

use crate::event::NewEvent;
use crate::routes::Routes;
use crate::time;
use flowctl_protocol::ko;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// The database's layout version, checked on open.
const SCHEMA_VERSION: i64 = 1;

/// How long a finished event is kept (and so deduplicated against), in milliseconds.
pub const DEDUP_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// The most commands committed together.
const MAX_GROUP: usize = 8192;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY,
  source TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL,
  data TEXT NOT NULL, accepted_at INTEGER NOT NULL,
  UNIQUE(source, id));
CREATE TABLE IF NOT EXISTS deliveries(
  id INTEGER PRIMARY KEY,
  sub TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT, cause TEXT, output TEXT, trace TEXT, finished_at INTEGER);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries(status) WHERE status IN ('queued', 'parked');
CREATE INDEX IF NOT EXISTS deliveries_seq ON deliveries(seq);
CREATE INDEX IF NOT EXISTS deliveries_key ON deliveries(sub, key);
CREATE TABLE IF NOT EXISTS keys(
  sub TEXT NOT NULL, key TEXT NOT NULL, state TEXT, version INTEGER NOT NULL DEFAULT 0,
  parked INTEGER, PRIMARY KEY(sub, key));
CREATE TABLE IF NOT EXISTS rejected(
  id INTEGER PRIMARY KEY, source TEXT NOT NULL, reason TEXT NOT NULL,
  data TEXT NOT NULL, headers TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cursors(source TEXT PRIMARY KEY, cursor TEXT NOT NULL);
";

/// A delivery's status in the log.
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const DONE: &str = "done";
    pub const KO: &str = "ko";
    pub const PARKED: &str = "parked";
    /// The subscription's own key could not be read from the event.
    pub const REJECTED: &str = "rejected";
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the event log {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the event log {path} was written by a newer flowctl (layout {found}, this one reads {SCHEMA_VERSION})")]
    Version { path: String, found: i64 },
    #[error("the event log {0}")]
    Commit(String),
    #[error("the event log's writer has stopped")]
    Closed,
    #[error("no event {0} in the log")]
    NoSuchEvent(String),
}

/// One event for one subscription, as the dispatcher runs it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub subscription: String,
    pub seq: i64,
    pub key: String,
    /// The event as targets receive it (`{source, type, id, key, seq, accepted_at, data}`).
    pub event: Arc<Value>,
}

/// What the log hands the dispatcher after a commit, in commit order.
#[derive(Debug)]
pub enum Dispatch {
    /// New work, in acceptance order.
    Deliver(Vec<Delivery>),
    /// A key held by a KO (at startup: every parked key, with the delivery it is parked at).
    Parked(Delivery),
    /// Every stored state of a subscription (at startup).
    States {
        subscription: String,
        states: HashMap<String, Value>,
    },
    /// `events release`: the key goes on; `rerun` first when it is run again. `seq`: the
    /// event it was parked at.
    Released {
        subscription: String,
        key: String,
        seq: i64,
        rerun: Option<Delivery>,
    },
}

/// Receives what each commit made runnable.
pub type Sink = Box<dyn FnMut(Dispatch) + Send>;

/// The result of accepting one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Appended with this sequence number, and delivered to this many subscriptions.
    New { seq: i64, deliveries: usize },
    /// Already in the log (same source and id): not appended again.
    Duplicate { seq: i64 },
}

/// How one delivery ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Values as JSON text, written by the caller (off the writer thread).
    Done {
        output: String,
        /// The key's new state (subscriptions with `state: true`).
        state: Option<String>,
        attempts: u32,
        trace: Option<String>,
    },
    Ko {
        error: String,
        cause: String,
        attempts: u32,
        park: bool,
        trace: Option<Value>,
    },
}

type Reply<T> = oneshot::Sender<Result<T, LogError>>;

enum Command {
    Accept {
        /// Each event with its payload as JSON text (written by the caller, off this thread).
        events: Vec<(NewEvent, String)>,
        cursor: Option<(String, String)>,
        reply: Reply<Vec<Accepted>>,
    },
    Reject {
        source: String,
        reason: String,
        data: String,
        headers: Value,
        reply: Reply<i64>,
    },
    Finish {
        delivery: Delivery,
        outcome: Outcome,
        reply: Reply<()>,
    },
    Release {
        subscription: String,
        key: String,
        skip: bool,
        reply: Reply<bool>,
    },
    Replay {
        event: String,
        reply: Reply<usize>,
    },
    Cursor {
        source: String,
        reply: Reply<Option<String>>,
    },
    Prune {
        older_than_ms: i64,
        reply: Reply<usize>,
    },
}

/// The log's handle: cheap to clone, usable from any task.
#[derive(Clone)]
pub struct Log {
    commands: mpsc::Sender<Command>,
    path: Arc<PathBuf>,
}

impl Log {
    /// Opens (creating if needed) the log at `path`. With a `sink`, every queued and parked
    /// delivery and every stored state is handed to it first, then what each commit makes
    /// runnable; without one (a command writing into the log while no `dev` runs) the work
    /// waits for the next `flowctl dev`.
    pub fn open(path: &Path, routes: Routes, sink: Option<Sink>) -> Result<Log, LogError> {
        let conn = connect(path)?;
        let shown = path.display().to_string();
        let (commands, receiver) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let path_buf = path.to_path_buf();
        std::thread::Builder::new()
            .name("flowctl-event-log".into())
            .spawn(move || {
                let mut writer = Writer {
                    conn,
                    routes,
                    sink,
                    path: shown,
                    pending: Vec::new(),
                    spoiled: None,
                };
                let started = writer.replay_open_work();
                let ok = started.is_ok();
                let _ = ready_tx.send(started);
                if ok {
                    writer.run(receiver);
                }
            })
            .map_err(|e| LogError::Sqlite {
                path: path.display().to_string(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        ready_rx.recv().map_err(|_| LogError::Closed)??;
        Ok(Log {
            commands,
            path: Arc::new(path_buf),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> oneshot::Receiver<Result<T, LogError>> {
        let (reply, receiver) = oneshot::channel();
        // A stopped writer drops the reply, which the receiver reports as Closed.
        let _ = self.commands.send(make(reply));
        receiver
    }

    /// Appends `events` (and stores `cursor` for its source in the same transaction). The
    /// order of calls is the acceptance order; the returned future resolves once committed.
    pub fn accept(
        &self,
        events: Vec<NewEvent>,
        cursor: Option<(String, String)>,
    ) -> impl std::future::Future<Output = Result<Vec<Accepted>, LogError>> + Send + 'static {
        let events = events
            .into_iter()
            .map(|e| {
                let data = e.data.to_string();
                (e, data)
            })
            .collect();
        self.accept_written(events, cursor)
    }

    /// `accept`, each event with its payload already written as JSON text (`data.to_string()`).
    pub(crate) fn accept_written(
        &self,
        events: Vec<(NewEvent, String)>,
        cursor: Option<(String, String)>,
    ) -> impl std::future::Future<Output = Result<Vec<Accepted>, LogError>> + Send + 'static {
        let receiver = self.send(|reply| Command::Accept {
            events,
            cursor,
            reply,
        });
        answer(receiver)
    }

    /// Keeps a message that could not become an event, with the reason. Sent at once (in
    /// order with `accept`); the future resolves once committed.
    pub fn reject_now(
        &self,
        source: &str,
        reason: &str,
        data: &str,
        headers: Value,
    ) -> impl std::future::Future<Output = Result<i64, LogError>> + Send + 'static {
        answer(self.send(|reply| Command::Reject {
            source: source.into(),
            reason: reason.into(),
            data: data.into(),
            headers,
            reply,
        }))
    }

    /// Records how a delivery ended (with its new state, or its KO event).
    pub async fn finish(&self, delivery: Delivery, outcome: Outcome) -> Result<(), LogError> {
        answer(self.send(|reply| Command::Finish {
            delivery,
            outcome,
            reply,
        }))
        .await
    }

    /// Lets a parked key go on: its parked event runs again, or with `skip` stays KO.
    /// `false`: the key was not parked.
    pub async fn release(
        &self,
        subscription: &str,
        key: &str,
        skip: bool,
    ) -> Result<bool, LogError> {
        answer(self.send(|reply| Command::Release {
            subscription: subscription.into(),
            key: key.into(),
            skip,
            reply,
        }))
        .await
    }

    /// Delivers an event (by `seq` or `source/id`) again to the subscriptions that take it,
    /// behind its key's queued events. Answers how many deliveries it made.
    pub async fn replay(&self, event: &str) -> Result<usize, LogError> {
        answer(self.send(|reply| Command::Replay {
            event: event.into(),
            reply,
        }))
        .await
    }

    /// The stored cursor of a polling source.
    pub async fn cursor(&self, source: &str) -> Result<Option<String>, LogError> {
        answer(self.send(|reply| Command::Cursor {
            source: source.into(),
            reply,
        }))
        .await
    }

    /// Deletes events finished before `older_than_ms` (unix ms) and their deliveries.
    pub async fn prune(&self, older_than_ms: i64) -> Result<usize, LogError> {
        answer(self.send(|reply| Command::Prune {
            older_than_ms,
            reply,
        }))
        .await
    }
}

async fn answer<T>(receiver: oneshot::Receiver<Result<T, LogError>>) -> Result<T, LogError> {
    receiver.await.unwrap_or(Err(LogError::Closed))
}

/// A connection with the log's settings and layout.
pub(crate) fn connect(path: &Path) -> Result<Connection, LogError> {
    let shown = path.display().to_string();
    let sql = |source| LogError::Sqlite {
        path: shown.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path).map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sql)?;
    // WAL: readers (`events ls`) never block the writer; FULL: a commit is on disk before the
    // source is acknowledged, so even a power cut loses nothing acknowledged.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql)?;
    conn.execute_batch(SCHEMA).map_err(sql)?;
    let found: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE name = 'schema'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql)?;
    match found {
        None => {
            conn.execute(
                "INSERT INTO meta(name, value) VALUES ('schema', ?1)",
                [SCHEMA_VERSION],
            )
            .map_err(sql)?;
        }
        Some(v) if v > SCHEMA_VERSION => {
            return Err(LogError::Version {
                path: shown,
                found: v,
            })
        }
        Some(_) => {}
    }
    Ok(conn)
}

/// The event as targets receive it.
/// The event with sequence number `seq`, as targets receive it.
pub(crate) fn read_event(conn: &Connection, seq: i64) -> rusqlite::Result<Value> {
    conn.query_row(
        "SELECT source, type, id, key, data, accepted_at FROM events WHERE seq = ?1",
        [seq],
        |r| {
            let data: String = r.get(4)?;
            Ok(event_value(
                seq,
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get(5)?,
                serde_json::from_str(&data).unwrap_or(Value::Null),
            ))
        },
    )
}

pub(crate) fn event_value(
    seq: i64,
    source: impl Into<String>,
    event_type: impl Into<String>,
    id: impl Into<String>,
    key: impl Into<String>,
    accepted_at: i64,
    data: Value,
) -> Value {
    // Built field by field (as `json!` would, in the same order) without serializing each.
    let mut event = serde_json::Map::with_capacity(7);
    event.insert("source".into(), Value::String(source.into()));
    event.insert("type".into(), Value::String(event_type.into()));
    event.insert("id".into(), Value::String(id.into()));
    event.insert("key".into(), Value::String(key.into()));
    event.insert("seq".into(), Value::from(seq));
    event.insert(
        "accepted_at".into(),
        Value::String(time::rfc3339_millis(accepted_at)),
    );
    event.insert("data".into(), data);
    Value::Object(event)
}

struct Writer {
    conn: Connection,
    routes: Routes,
    sink: Option<Sink>,
    path: String,
    /// Dispatches made by the transaction in progress, handed over after its commit.
    pending: Vec<Dispatch>,
    /// Why the transaction in progress must be rolled back: a command applied without a
    /// savepoint failed, so it may have left part of its writes.
    spoiled: Option<String>,
}

/// Replies waiting for their transaction's commit.
enum Done {
    Accept(Reply<Vec<Accepted>>, Result<Vec<Accepted>, LogError>),
    Reject(Reply<i64>, Result<i64, LogError>),
    Unit(Reply<()>, Result<(), LogError>),
    Bool(Reply<bool>, Result<bool, LogError>),
    Count(Reply<usize>, Result<usize, LogError>),
    Cursor(Reply<Option<String>>, Result<Option<String>, LogError>),
}

impl Done {
    fn send(self, failed: Option<&str>) {
        fn pick<T>(r: Result<T, LogError>, failed: Option<&str>) -> Result<T, LogError> {
            match failed {
                Some(reason) => Err(LogError::Commit(reason.to_string())),
                None => r,
            }
        }
        match self {
            Done::Accept(tx, r) => drop(tx.send(pick(r, failed))),
            Done::Reject(tx, r) => drop(tx.send(pick(r, failed))),
            Done::Unit(tx, r) => drop(tx.send(pick(r, failed))),
            Done::Bool(tx, r) => drop(tx.send(pick(r, failed))),
            Done::Count(tx, r) => drop(tx.send(pick(r, failed))),
            Done::Cursor(tx, r) => drop(tx.send(pick(r, failed))),
        }
    }
}

impl Writer {
    fn sql(&self) -> impl Fn(rusqlite::Error) -> LogError + '_ {
        move |source| LogError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Hands every stored state, parked key and queued delivery to the sink.
    fn replay_open_work(&mut self) -> Result<(), LogError> {
        let Some(sink) = self.sink.as_mut() else {
            return Ok(());
        };
        let path = self.path.clone();
        let sql = |source| LogError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut states: HashMap<String, HashMap<String, Value>> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT sub, key, state FROM keys WHERE state IS NOT NULL")
                .map_err(sql)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(sql)?;
            for row in rows {
                let (sub, key, state) = row.map_err(sql)?;
                let state = serde_json::from_str(&state).unwrap_or(Value::Null);
                states.entry(sub).or_default().insert(key, state);
            }
        }
        for (subscription, states) in states {
            sink(Dispatch::States {
                subscription,
                states,
            });
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT d.id, d.sub, d.seq, d.key, d.status, e.source, e.type, e.id, e.key, e.data, e.accepted_at
                 FROM deliveries d JOIN events e ON e.seq = d.seq
                 WHERE d.status IN ('queued', 'parked') ORDER BY d.id",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                let data: String = r.get(9)?;
                let event = event_value(
                    r.get(2)?,
                    &r.get::<_, String>(5)?,
                    &r.get::<_, String>(6)?,
                    &r.get::<_, String>(7)?,
                    &r.get::<_, String>(8)?,
                    r.get(10)?,
                    serde_json::from_str(&data).unwrap_or(Value::Null),
                );
                Ok((
                    Delivery {
                        id: r.get(0)?,
                        subscription: r.get(1)?,
                        seq: r.get(2)?,
                        key: r.get(3)?,
                        event: Arc::new(event),
                    },
                    r.get::<_, String>(4)? == status::PARKED,
                ))
            })
            .map_err(sql)?;
        let mut queued = Vec::new();
        for row in rows {
            let (delivery, parked) = row.map_err(sql)?;
            if parked {
                sink(Dispatch::Parked(delivery));
            } else {
                queued.push(delivery);
            }
        }
        if !queued.is_empty() {
            sink(Dispatch::Deliver(queued));
        }
        Ok(())
    }

    fn run(&mut self, receiver: mpsc::Receiver<Command>) {
        let mut batch = Vec::new();
        while let Ok(first) = receiver.recv() {
            batch.push(first);
            while batch.len() < MAX_GROUP {
                match receiver.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            let mut done = Vec::with_capacity(batch.len());
            let failed = match self.conn.execute_batch("BEGIN IMMEDIATE") {
                Err(e) => Some(e.to_string()),
                Ok(()) => {
                    for command in batch.drain(..) {
                        done.push(self.apply(command));
                    }
                    if let Some(e) = self.spoiled.take() {
                        let _ = self.conn.execute_batch("ROLLBACK");
                        Some(e)
                    } else {
                        match self.conn.execute_batch("COMMIT") {
                            Ok(()) => None,
                            Err(e) => {
                                let _ = self.conn.execute_batch("ROLLBACK");
                                Some(e.to_string())
                            }
                        }
                    }
                }
            };
            // Commands not applied (BEGIN failed) get their replies dropped: Closed.
            batch.clear();
            let dispatches = std::mem::take(&mut self.pending);
            if failed.is_none() {
                if let Some(sink) = self.sink.as_mut() {
                    for dispatch in dispatches {
                        sink(dispatch);
                    }
                }
            }
            let reason = failed.map(|e| format!("{} (commit failed: {e})", self.path));
            for d in done {
                d.send(reason.as_deref());
            }
        }
    }

    /// Applies one command inside the open transaction so that a failed command leaves
    /// nothing half-written: under a savepoint, except the two commands every event makes
    /// (its acceptance and its successful finish), whose failure rolls the whole transaction
    /// back instead and fails every command of the batch, as a failed commit does. Their
    /// statements cannot fail but for the database itself (I/O, a full disk), which fails
    /// the others too; a savepoint costs each of them a copy of every page it touches.
    fn apply(&mut self, command: Command) -> Done {
        let guarded = !matches!(
            &command,
            Command::Accept { .. }
                | Command::Finish {
                    outcome: Outcome::Done { .. },
                    ..
                }
        );
        if guarded {
            let _ = self.statement("SAVEPOINT command");
        }
        let mark = self.pending.len();
        let (done, ok) = match command {
            Command::Accept {
                events,
                cursor,
                reply,
            } => {
                let r = self.accept(events, cursor);
                if let Err(e) = &r {
                    self.spoiled.get_or_insert_with(|| e.to_string());
                }
                let ok = r.is_ok();
                (Done::Accept(reply, r), ok)
            }
            Command::Reject {
                source,
                reason,
                data,
                headers,
                reply,
            } => {
                let r = self
                    .conn
                    .prepare_cached(
                        "INSERT INTO rejected(source, reason, data, headers, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![source, reason, data, headers.to_string(), time::now_ms()])
                    })
                    .map(|_| self.conn.last_insert_rowid())
                    .map_err(self.sql());
                let ok = r.is_ok();
                (Done::Reject(reply, r), ok)
            }
            Command::Finish {
                delivery,
                outcome,
                reply,
            } => {
                let r = self.finish(delivery, outcome);
                if let (Err(e), false) = (&r, guarded) {
                    self.spoiled.get_or_insert_with(|| e.to_string());
                }
                let ok = r.is_ok();
                (Done::Unit(reply, r), ok)
            }
            Command::Release {
                subscription,
                key,
                skip,
                reply,
            } => {
                let r = self.release(subscription, key, skip);
                let ok = r.is_ok();
                (Done::Bool(reply, r), ok)
            }
            Command::Replay { event, reply } => {
                let r = self.replay(&event);
                let ok = r.is_ok();
                (Done::Count(reply, r), ok)
            }
            Command::Cursor { source, reply } => {
                let r = self
                    .conn
                    .query_row(
                        "SELECT cursor FROM cursors WHERE source = ?1",
                        [source],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(self.sql());
                (Done::Cursor(reply, r), true)
            }
            Command::Prune {
                older_than_ms,
                reply,
            } => {
                let r = self.prune(older_than_ms);
                let ok = r.is_ok();
                (Done::Count(reply, r), ok)
            }
        };
        if !guarded {
            // Spoiled on failure: the transaction is rolled back, its dispatches dropped.
        } else if ok {
            let _ = self.statement("RELEASE command");
        } else {
            let _ = self.statement("ROLLBACK TO command");
            let _ = self.statement("RELEASE command");
            self.pending.truncate(mark);
        }
        done
    }

    /// Runs a statement without parameters, prepared once.
    fn statement(&self, sql: &str) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute([])
    }

    fn accept(
        &mut self,
        events: Vec<(NewEvent, String)>,
        cursor: Option<(String, String)>,
    ) -> Result<Vec<Accepted>, LogError> {
        let mut answers = Vec::with_capacity(events.len());
        let mut deliveries = Vec::new();
        let now = time::now_ms();
        for (event, data) in events {
            let inserted = self
                .conn
                .prepare_cached(
                    "INSERT INTO events(source, type, id, key, data, accepted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(source, id) DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![event.source, event.event_type, event.id, event.key, data, now])
                })
                .map_err(self.sql())?;
            if inserted == 0 {
                let seq = self
                    .conn
                    .prepare_cached("SELECT seq FROM events WHERE source = ?1 AND id = ?2")
                    .and_then(|mut s| s.query_row(params![event.source, event.id], |r| r.get(0)))
                    .map_err(self.sql())?;
                answers.push(Accepted::Duplicate { seq });
                continue;
            }
            let seq = self.conn.last_insert_rowid();
            let before = deliveries.len();
            let value = Arc::new(event_value(
                seq,
                event.source,
                event.event_type,
                event.id,
                event.key,
                now,
                event.data,
            ));
            self.route(seq, &value, &mut deliveries)?;
            answers.push(Accepted::New {
                seq,
                deliveries: deliveries.len() - before,
            });
        }
        if let Some((source, cursor)) = cursor {
            self.conn
                .prepare_cached(
                    "INSERT INTO cursors(source, cursor) VALUES (?1, ?2)
                     ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor",
                )
                .and_then(|mut s| s.execute(params![source, cursor]))
                .map_err(self.sql())?;
        }
        if !deliveries.is_empty() {
            self.pending.push(Dispatch::Deliver(deliveries));
        }
        Ok(answers)
    }

    /// Inserts a delivery of the event for every subscription that takes it.
    fn route(
        &mut self,
        seq: i64,
        event: &Arc<Value>,
        out: &mut Vec<Delivery>,
    ) -> Result<(), LogError> {
        let source = event["source"].as_str().unwrap_or_default();
        let event_type = event["type"].as_str().unwrap_or_default();
        for route in self.routes.of(source) {
            if !route.takes(event_type) {
                continue;
            }
            let (key, status, error) = match route.key(event) {
                Ok(key) => (key, status::QUEUED, None),
                Err(reason) => (String::new(), status::REJECTED, Some(reason)),
            };
            self.conn
                .prepare_cached(
                    "INSERT INTO deliveries(sub, seq, key, status, error) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| s.execute(params![route.subscription, seq, key, status, error]))
                .map_err(self.sql())?;
            if status == status::QUEUED {
                out.push(Delivery {
                    id: self.conn.last_insert_rowid(),
                    subscription: route.subscription.clone(),
                    seq,
                    key,
                    event: event.clone(),
                });
            }
        }
        Ok(())
    }

    fn finish(&mut self, delivery: Delivery, outcome: Outcome) -> Result<(), LogError> {
        let now = time::now_ms();
        match outcome {
            Outcome::Done {
                output,
                state,
                attempts,
                trace,
            } => {
                self.conn
                    .prepare_cached(
                        "UPDATE deliveries SET status = 'done', attempts = ?2, output = ?3, trace = ?4, finished_at = ?5 WHERE id = ?1",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            delivery.id,
                            attempts,
                            output,
                            trace,
                            now
                        ])
                    })
                    .map_err(self.sql())?;
                if let Some(state) = state {
                    self.conn
                        .prepare_cached(
                            "INSERT INTO keys(sub, key, state, version) VALUES (?1, ?2, ?3, 1)
                             ON CONFLICT(sub, key) DO UPDATE SET state = excluded.state, version = version + 1",
                        )
                        .and_then(|mut s| {
                            s.execute(params![delivery.subscription, delivery.key, state])
                        })
                        .map_err(self.sql())?;
                }
            }
            Outcome::Ko {
                error,
                cause,
                attempts,
                park,
                trace,
            } => {
                let status = if park { status::PARKED } else { status::KO };
                self.conn
                    .prepare_cached(
                        "UPDATE deliveries SET status = ?2, attempts = ?3, error = ?4, cause = ?5, trace = ?6, finished_at = ?7 WHERE id = ?1",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            delivery.id,
                            status,
                            attempts,
                            error,
                            cause,
                            trace.map(|t| t.to_string()),
                            now
                        ])
                    })
                    .map_err(self.sql())?;
                if park {
                    self.conn
                        .prepare_cached(
                            "INSERT INTO keys(sub, key, parked) VALUES (?1, ?2, ?3)
                             ON CONFLICT(sub, key) DO UPDATE SET parked = excluded.parked",
                        )
                        .and_then(|mut s| {
                            s.execute(params![delivery.subscription, delivery.key, delivery.id])
                        })
                        .map_err(self.sql())?;
                }
                let ko = NewEvent {
                    source: ko::ko_source(&delivery.subscription),
                    event_type: ko::KO_TYPE.into(),
                    id: ko::ko_event_id(&delivery.subscription, &delivery.seq.to_string(), now),
                    key: delivery.key.clone(),
                    data: ko::ko_event_data(
                        &delivery.subscription,
                        (*delivery.event).clone(),
                        &error,
                        &cause,
                        attempts,
                    ),
                };
                let data = ko.data.to_string();
                self.accept(vec![(ko, data)], None)?;
            }
        }
        Ok(())
    }

    fn release(&mut self, subscription: String, key: String, skip: bool) -> Result<bool, LogError> {
        let parked: Option<i64> = self
            .conn
            .query_row(
                "SELECT parked FROM keys WHERE sub = ?1 AND key = ?2",
                params![subscription, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())?
            .flatten();
        let Some(parked) = parked else {
            return Ok(false);
        };
        self.conn
            .execute(
                "UPDATE keys SET parked = NULL WHERE sub = ?1 AND key = ?2",
                params![subscription, key],
            )
            .map_err(self.sql())?;
        let seq: i64 = self
            .conn
            .query_row("SELECT seq FROM deliveries WHERE id = ?1", [parked], |r| {
                r.get(0)
            })
            .map_err(self.sql())?;
        let rerun = if skip {
            self.conn
                .execute(
                    "UPDATE deliveries SET status = 'ko' WHERE id = ?1",
                    [parked],
                )
                .map_err(self.sql())?;
            None
        } else {
            self.conn
                .execute(
                    "UPDATE deliveries SET status = 'queued', finished_at = NULL WHERE id = ?1",
                    [parked],
                )
                .map_err(self.sql())?;
            self.delivery(parked)?
        };
        self.pending.push(Dispatch::Released {
            subscription,
            key,
            seq,
            rerun,
        });
        Ok(true)
    }

    fn delivery(&self, id: i64) -> Result<Option<Delivery>, LogError> {
        self.conn
            .query_row(
                "SELECT d.sub, d.seq, d.key, e.source, e.type, e.id, e.key, e.data, e.accepted_at
                 FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.id = ?1",
                [id],
                |r| {
                    let data: String = r.get(7)?;
                    Ok(Delivery {
                        id,
                        subscription: r.get(0)?,
                        seq: r.get(1)?,
                        key: r.get(2)?,
                        event: Arc::new(event_value(
                            r.get(1)?,
                            &r.get::<_, String>(3)?,
                            &r.get::<_, String>(4)?,
                            &r.get::<_, String>(5)?,
                            &r.get::<_, String>(6)?,
                            r.get(8)?,
                            serde_json::from_str(&data).unwrap_or(Value::Null),
                        )),
                    })
                },
            )
            .optional()
            .map_err(self.sql())
    }

    fn replay(&mut self, event: &str) -> Result<usize, LogError> {
        let seq = crate::query::find_seq(&self.conn, event)
            .map_err(self.sql())?
            .ok_or_else(|| LogError::NoSuchEvent(event.to_string()))?;
        let value = read_event(&self.conn, seq).map_err(self.sql())?;
        let mut deliveries = Vec::new();
        self.route(seq, &Arc::new(value), &mut deliveries)?;
        let count = deliveries.len();
        if count > 0 {
            self.pending.push(Dispatch::Deliver(deliveries));
        }
        Ok(count)
    }

    fn prune(&mut self, older_than_ms: i64) -> Result<usize, LogError> {
        // An event goes when all its deliveries finished before the cut-off (none open).
        let victims = "SELECT e.seq FROM events e WHERE e.accepted_at < ?1 AND NOT EXISTS (
             SELECT 1 FROM deliveries d WHERE d.seq = e.seq AND (d.status IN ('queued', 'parked') OR d.finished_at >= ?1))";
        self.conn
            .execute(
                &format!("DELETE FROM deliveries WHERE seq IN ({victims})"),
                [older_than_ms],
            )
            .map_err(self.sql())?;
        let n = self
            .conn
            .execute(
                "DELETE FROM events WHERE accepted_at < ?1 AND seq NOT IN (SELECT seq FROM deliveries)",
                [older_than_ms],
            )
            .map_err(self.sql())?;
        Ok(n)
    }
}
