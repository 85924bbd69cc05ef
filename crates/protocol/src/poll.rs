//! How the polled sources read, written once for `flowctl dev` (`flowctl-events`) and the
//! deployed poller (`flowctl-subscriber`): a `poll` function's request and reply
//! (`{"cursor"}` in, `{"events", "cursor"}` out) and a `postgres` outbox's SQL, the types its
//! cursor column may have, how a row becomes a message, and the rule that a row is taken only
//! once it has been visible for [`SETTLE`].
//!
//! Pure: the callers call the function or the database; this says what to send and how to
//! read what comes back.

use crate::event::Incoming;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// A poll function

/// What a poll function is called with: the stored cursor (`null` at first).
pub fn poll_request(cursor: &Value) -> Value {
    json!({ "cursor": cursor })
}

/// The cursor a poll function is called with, from its stored text (the JSON of the last
/// reply's cursor): `null` when none is stored or the text is not JSON.
pub fn stored_poll_cursor(stored: Option<&str>) -> Value {
    stored.map_or(Value::Null, |c| {
        serde_json::from_str(c).unwrap_or(Value::Null)
    })
}

/// A poll function's reply: its events (payloads) and the cursor to call it with next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollReply<'a> {
    pub events: &'a [Value],
    pub cursor: &'a Value,
}

impl PollReply<'_> {
    /// Whether the reply changes nothing: no events, and the cursor already stored (so
    /// nothing is written).
    pub fn is_idle(&self, stored: Option<&str>) -> bool {
        self.events.is_empty()
            && stored
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
                .as_ref()
                == Some(self.cursor)
    }

    /// The cursor as stored: its JSON text.
    pub fn cursor_text(&self) -> String {
        self.cursor.to_string()
    }
}

/// Reads a poll function's answer: `{"events": [...], "cursor": ...}` (other fields are
/// ignored). `Err` is the reason, naming `function` (how the caller shows the target).
pub fn poll_reply<'a>(
    answer: &'a Value,
    function: &dyn std::fmt::Display,
) -> Result<PollReply<'a>, String> {
    match (answer.get("events"), answer.get("cursor")) {
        (Some(Value::Array(events)), Some(cursor)) => Ok(PollReply { events, cursor }),
        _ => Err(format!(
            "the poll function must answer {{\"events\": [...], \"cursor\": ...}}; {function} answered something else"
        )),
    }
}

// ---------------------------------------------------------------------------------------
// A PostgreSQL outbox

/// The most rows read by one query.
pub const PAGE: usize = 1000;

/// How long a row must have been visible before it is taken. A row that commits with a lower
/// cursor value after a higher one was read would otherwise be missed (two writers taking
/// ids from one sequence, the lower committing later); until a row has settled the cursor
/// stays before it and the next query reads it again, with any lower row committed meanwhile.
pub const SETTLE: Duration = Duration::from_secs(1);

/// The cursor column's types an outbox may have, as PostgreSQL names them (increasing
/// integers; compared as that type, not as text).
pub const CURSOR_TYPES: &[&str] = &["smallint", "integer", "bigint", "numeric"];

/// The cursor column when the source names none.
pub const DEFAULT_CURSOR_COLUMN: &str = "id";

/// The type of a table's column: parameters `$1` the quoted table ([`Outbox::quoted`]),
/// `$2` the column ([`Outbox::column`]); no row when either does not exist.
pub const COLUMN_TYPE_SQL: &str = "SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
                     WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped";

/// An outbox table and its cursor column, validated (letters, digits, `_`; `schema.table` or
/// `table`) and quoted, so names are matched as written and nothing else reaches the SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    /// `"schema"."table"` or `"table"`.
    pub quoted: String,
    /// As the manifest writes it.
    pub shown: String,
    /// The cursor column, unquoted.
    pub column: String,
}

impl Outbox {
    /// `Err` says which name is not an identifier.
    pub fn new(table: &str, cursor_column: &str) -> Result<Outbox, String> {
        let parts: Vec<&str> = table.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| identifier(p)) {
            return Err(format!(
                "`{table}` is not a table name (`table` or `schema.table`, each letters, digits and `_`)"
            ));
        }
        if !identifier(cursor_column) {
            return Err(format!(
                "`{cursor_column}` is not a column name (letters, digits and `_`)"
            ));
        }
        Ok(Outbox {
            quoted: parts
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join("."),
            shown: table.to_string(),
            column: cursor_column.to_string(),
        })
    }

    /// The column quoted for SQL.
    pub fn quoted_column(&self) -> String {
        format!("\"{}\"", self.column)
    }

    /// What a table or column that does not exist (yet) is reported as.
    pub fn missing(&self) -> String {
        format!(
            "the table `{}` or its column {} does not exist (yet)",
            self.shown,
            self.quoted_column()
        )
    }

    /// The cast of the stored cursor (text) to the column's type, `Err` naming the types an
    /// outbox takes when `column_type` (from [`COLUMN_TYPE_SQL`]) is none of them.
    pub fn cast(&self, column_type: &str) -> Result<&'static str, String> {
        CURSOR_TYPES
            .iter()
            .find(|t| **t == column_type)
            .copied()
            .ok_or_else(|| {
                format!(
                    "the cursor column {} of `{}` is {column_type}; it must be an increasing integer column ({})",
                    self.quoted_column(),
                    self.shown,
                    CURSOR_TYPES.join(", ")
                )
            })
    }

    /// The first page, without a stored cursor: columns cursor (text) and the row's JSON
    /// (text).
    pub fn first_page_sql(&self) -> String {
        let (column, quoted) = (self.quoted_column(), &self.quoted);
        format!(
            "SELECT t.{column}::text, to_json(t)::text FROM {quoted} t
                     WHERE t.{column} IS NOT NULL ORDER BY t.{column} LIMIT {PAGE}"
        )
    }

    /// The page after the stored cursor, parameter `$1` (text), cast by `cast` (see
    /// [`Outbox::cast`]).
    pub fn page_after_sql(&self, cast: &str) -> String {
        let (column, quoted) = (self.quoted_column(), &self.quoted);
        format!(
            "SELECT t.{column}::text, to_json(t)::text FROM {quoted} t
                     WHERE t.{column} > $1::text::{cast} ORDER BY t.{column} LIMIT {PAGE}"
        )
    }
}

/// A PostgreSQL identifier an outbox accepts: a letter or `_`, then letters, digits, `_`;
/// at most 63 bytes.
pub fn identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && text.len() <= 63
}

/// A row as a message: the row's JSON (kept as a string if it is not JSON), its cursor value
/// as the default id and key.
pub fn row_incoming(cursor: &str, json: &str) -> Incoming {
    let payload = serde_json::from_str(json).unwrap_or_else(|_| Value::String(json.to_string()));
    Incoming {
        payload,
        headers: Vec::new(),
        default_id: Some(cursor.to_string()),
        default_key: Some(cursor.to_string()),
    }
}

/// When each row still beyond the cursor was first seen, for the [`SETTLE`] rule. One per
/// reader, kept across its queries.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    seen: HashMap<String, Instant>,
}

/// What to do with a page read: take its first `settled` rows, then wait `wait` before the
/// next query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub settled: usize,
    pub wait: Duration,
}

impl Visibility {
    /// Notes a page read at `now` (its rows' cursors in order; `full` when it had [`PAGE`]
    /// rows) and says how many of its first rows have settled and how long to wait: until
    /// the oldest unsettled row settles (at most `every`), at once after a full page, else
    /// `every`.
    pub fn page(&mut self, cursors: &[&str], full: bool, every: Duration, now: Instant) -> Settled {
        self.seen = cursors
            .iter()
            .map(|c| (c.to_string(), *self.seen.get(*c).unwrap_or(&now)))
            .collect();
        let first_seen = |c: &str| self.seen.get(c).copied().unwrap_or(now);
        let settled = cursors
            .iter()
            .take_while(|c| now.duration_since(first_seen(c)) >= SETTLE)
            .count();
        let wait = if settled < cursors.len() {
            let oldest = first_seen(cursors[settled]);
            SETTLE.saturating_sub(now.duration_since(oldest)).min(every)
        } else if full {
            Duration::ZERO
        } else {
            every
        };
        Settled { settled, wait }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_replies_are_events_and_a_cursor() {
        let answer = json!({"events": [{"a": 1}], "cursor": 7, "extra": true});
        let reply = poll_reply(&answer, &"function `Poll`").unwrap();
        assert_eq!((reply.events.len(), reply.cursor_text()), (1, "7".into()));
        assert!(!reply.is_idle(Some("7")));
        let idle = json!({"events": [], "cursor": {"after": "x"}});
        let reply = poll_reply(&idle, &"f").unwrap();
        assert!(reply.is_idle(Some(r#"{"after":"x"}"#)));
        assert!(!reply.is_idle(None));
        assert!(!reply.is_idle(Some("not json")));
        for bad in [
            json!(null),
            json!([]),
            json!({"events": {}, "cursor": 1}),
            json!({"events": []}),
            json!("text"),
        ] {
            assert_eq!(
                poll_reply(&bad, &"function `Poll`").unwrap_err(),
                "the poll function must answer {\"events\": [...], \"cursor\": ...}; function `Poll` answered something else"
            );
        }
        assert_eq!(poll_request(&Value::Null), json!({"cursor": null}));
        assert_eq!(stored_poll_cursor(Some("{\"a\":1}")), json!({"a": 1}));
        assert_eq!(stored_poll_cursor(Some("{")), Value::Null);
        assert_eq!(stored_poll_cursor(None), Value::Null);
    }

    #[test]
    fn outbox_names_are_checked_and_quoted() {
        let outbox = Outbox::new("public.Outbox", "seq").unwrap();
        assert_eq!(outbox.quoted, "\"public\".\"Outbox\"");
        assert!(outbox
            .first_page_sql()
            .contains("FROM \"public\".\"Outbox\" t"));
        assert!(outbox
            .page_after_sql("bigint")
            .contains("t.\"seq\" > $1::text::bigint ORDER BY t.\"seq\" LIMIT 1000"));
        assert_eq!(outbox.cast("integer"), Ok("integer"));
        assert!(outbox
            .cast("text")
            .unwrap_err()
            .contains("is text; it must be an increasing integer column"));
        for bad in ["a.b.c", "x;drop", "", "1a", "a."] {
            assert!(Outbox::new(bad, "id").is_err(), "{bad}");
        }
        assert!(Outbox::new("t", "a\"b")
            .unwrap_err()
            .contains("column name"));
        assert!(!identifier(&"a".repeat(64)));
    }

    #[test]
    fn rows_are_their_json_with_the_cursor_as_id_and_key() {
        let row = row_incoming("42", r#"{"id": 42}"#);
        assert_eq!(row.payload, json!({"id": 42}));
        assert_eq!(row.default_id.as_deref(), Some("42"));
        assert_eq!(row.default_key.as_deref(), Some("42"));
        assert_eq!(row_incoming("1", "not json").payload, json!("not json"));
    }

    #[test]
    fn rows_are_taken_once_they_have_settled() {
        let every = Duration::from_secs(5);
        let start = Instant::now();
        let mut visibility = Visibility::default();
        let first = visibility.page(&["1", "2"], false, every, start);
        assert_eq!(
            first,
            Settled {
                settled: 0,
                wait: SETTLE
            }
        );
        let later = start + Duration::from_millis(600);
        // Row 3 appears: still nothing settled; the oldest settles in 400 ms.
        let second = visibility.page(&["1", "2", "3"], false, every, later);
        assert_eq!(second.settled, 0);
        assert_eq!(second.wait, Duration::from_millis(400));
        let settled = visibility.page(&["1", "2", "3"], false, every, start + SETTLE);
        assert_eq!(
            settled,
            Settled {
                settled: 2,
                wait: Duration::from_millis(600)
            }
        );
        let all = visibility.page(&["3"], true, every, start + Duration::from_secs(2));
        assert_eq!(
            all,
            Settled {
                settled: 1,
                wait: Duration::ZERO
            }
        );
        let empty = visibility.page(&[], false, every, start + Duration::from_secs(3));
        assert_eq!(
            empty,
            Settled {
                settled: 0,
                wait: every
            }
        );
    }
}
