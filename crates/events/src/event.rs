//! What a source hands in (`Incoming`), what the log keeps (`NewEvent`), and the one
//! function between them: reading an event's type, id and key by the manifest's locators.

use flowctl_lang::manifest::events::{Locator, Source, SourceKind};
use serde_json::Value;

/// A message as a source received it, before its type, id and key are known.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    /// The payload (a webhook's body, a message's JSON, a row as JSON).
    pub payload: Value,
    /// Request headers or message properties, by name (looked up without regard to case).
    pub headers: Vec<(String, String)>,
    /// The id the source itself gives when the manifest names none (a message id, a row key).
    pub default_id: Option<String>,
    /// The key the source itself gives when the manifest names none (a row key).
    pub default_key: Option<String>,
}

impl Incoming {
    pub fn new(payload: Value) -> Incoming {
        Incoming {
            payload,
            ..Incoming::default()
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An event ready for the log: its identity read, its payload kept as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub source: String,
    pub event_type: String,
    pub id: String,
    pub key: String,
    pub data: Value,
}

/// Why an incoming message cannot become an event. It is kept in the log's rejected list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
}

/// The headers a webhook's id is read from when the manifest names none, in order.
pub const WEBHOOK_ID_HEADERS: &[&str] = &["Idempotency-Key", "X-GitHub-Delivery", "X-Request-Id"];

/// The key of every event of a source that names no key: one order for the whole source.
pub const SOURCE_WIDE_KEY: &str = "";

/// Reads the type, id and key of `incoming` by `source`'s locators (and the kind's defaults).
pub fn identify(name: &str, source: &Source, incoming: Incoming) -> Result<NewEvent, Rejection> {
    let event_type = match &source.event_type {
        None => name.to_string(),
        Some(text) => read(text, &incoming, "type")?,
    };
    let id = match (&source.id, &incoming.default_id) {
        (Some(text), _) => read(text, &incoming, "id")?,
        (None, Some(id)) => id.clone(),
        (None, None) => kind_default(&source.kind, &incoming, "id").ok_or_else(|| Rejection {
            reason: match &source.kind {
                SourceKind::Webhook(_) => format!(
                    "no event id: the request has none of the headers {} and the source names no `id` path",
                    WEBHOOK_ID_HEADERS.join(", ")
                ),
                SourceKind::Amqp(_) => "no event id: the message has no `message_id` property and the source names no `id` path".into(),
                SourceKind::Nats(_) => "no event id: the message has no `Nats-Msg-Id` header and the source names no `id` path".into(),
                SourceKind::Postgres(pg) => format!(
                    "no event id: the row has no `{}` (its cursor column) and the source names no `id` path",
                    cursor_column(pg)
                ),
                _ => "no event id: the source names no `id` path and the message carries none".into(),
            },
        })?,
    };
    let key = match (&source.key, &incoming.default_key) {
        (Some(text), _) => read(text, &incoming, "key")?,
        (None, Some(key)) => key.clone(),
        (None, None) => match &source.kind {
            SourceKind::Postgres(_) => kind_default(&source.kind, &incoming, "key")
                .unwrap_or_else(|| SOURCE_WIDE_KEY.to_string()),
            _ => SOURCE_WIDE_KEY.to_string(),
        },
    };
    Ok(NewEvent {
        source: name.to_string(),
        event_type,
        id,
        key,
        data: incoming.payload,
    })
}

/// The id (or, for a table, the key) a kind of source reads when the manifest names none
/// and the source handed none in (`flowctl events send` builds messages without a source):
/// a webhook's delivery headers, an AMQP `message_id`, a NATS `Nats-Msg-Id`, a row's cursor
/// column.
fn kind_default(kind: &SourceKind, incoming: &Incoming, what: &str) -> Option<String> {
    let header = |name: &str| {
        incoming
            .header(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match kind {
        SourceKind::Postgres(pg) => scalar_text(incoming.payload.get(cursor_column(pg))),
        _ if what == "key" => None,
        SourceKind::Webhook(_) => WEBHOOK_ID_HEADERS.iter().find_map(|h| header(h)),
        SourceKind::Amqp(_) => header("message_id"),
        SourceKind::Nats(_) => header("Nats-Msg-Id"),
        _ => None,
    }
}

/// The column a PostgreSQL source reads rows in order of (default `id`).
pub fn cursor_column(pg: &flowctl_lang::manifest::events::Postgres) -> &str {
    pg.cursor_column.as_deref().unwrap_or("id")
}

/// The value of one locator as text: strings as they are, numbers as written, nothing else.
fn read(text: &str, incoming: &Incoming, what: &str) -> Result<String, Rejection> {
    let locator = Locator::parse(text).map_err(|reason| Rejection { reason })?;
    match locator {
        Locator::Literal(value) => Ok(value),
        Locator::Header(name) => incoming
            .header(&name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Rejection {
                reason: format!("no event {what}: the header `{name}` is missing or empty"),
            }),
        Locator::Payload(steps) => {
            let value = Locator::get(&steps, &incoming.payload);
            scalar_text(value).ok_or_else(|| Rejection {
                reason: match value {
                    None => format!("no event {what}: the payload has nothing at `{text}`"),
                    Some(v) => format!(
                        "no event {what}: `{text}` is {}, not a string or a number",
                        describe(v)
                    ),
                },
            })
        }
    }
}

/// Text of a string (non-empty) or a number; a key or id must be one of those.
pub fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "an empty string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowctl_lang::manifest::events::Webhook;
    use serde_json::json;

    fn webhook(id: Option<&str>, key: Option<&str>) -> Source {
        Source {
            kind: SourceKind::Webhook(Webhook::default()),
            event_type: Some("$.type".into()),
            id: id.map(String::from),
            key: key.map(String::from),
        }
    }

    #[test]
    fn reads_type_id_and_key_from_paths_and_headers() {
        let mut incoming = Incoming::new(json!({"type": "t", "b": {"id": 7}}));
        incoming
            .headers
            .push(("x-github-delivery".into(), "d-1".into()));
        let event = identify("hooks", &webhook(None, Some("$.b.id")), incoming).unwrap();
        assert_eq!(
            (
                event.event_type.as_str(),
                event.id.as_str(),
                event.key.as_str()
            ),
            ("t", "d-1", "7")
        );
    }

    #[test]
    fn a_missing_or_unusable_key_is_a_rejection_with_its_reason() {
        let source = webhook(Some("$.id"), Some("$.b.id"));
        let missing = identify("h", &source, Incoming::new(json!({"type": "t", "id": "1"})));
        assert_eq!(
            missing.unwrap_err().reason,
            "no event key: the payload has nothing at `$.b.id`"
        );
        let object = identify(
            "h",
            &source,
            Incoming::new(json!({"type": "t", "id": "1", "b": {"id": {}}})),
        );
        assert!(object
            .unwrap_err()
            .reason
            .contains("an object, not a string"));
        let no_id = identify(
            "h",
            &webhook(None, None),
            Incoming::new(json!({"type": "t"})),
        );
        assert!(no_id.unwrap_err().reason.contains("Idempotency-Key"));
    }

    #[test]
    fn kinds_read_their_own_default_ids_from_what_events_send_hands_in() {
        use flowctl_lang::manifest::events::{Amqp, Postgres};
        let pg = Source {
            kind: SourceKind::Postgres(Postgres {
                url: None,
                url_env: None,
                table: "outbox".into(),
                cursor_column: Some("n".into()),
                every: None,
            }),
            event_type: None,
            id: None,
            key: None,
        };
        let row = identify("rows", &pg, Incoming::new(json!({"n": 42, "x": 1}))).unwrap();
        assert_eq!((row.id.as_str(), row.key.as_str()), ("42", "42"));
        let amqp = Source {
            kind: SourceKind::Amqp(Amqp {
                url: None,
                url_env: None,
                queue: "q".into(),
                prefetch: None,
            }),
            event_type: None,
            id: None,
            key: None,
        };
        let mut message = Incoming::new(json!({}));
        message.headers.push(("message_id".into(), "m-1".into()));
        assert_eq!(identify("q", &amqp, message).unwrap().id, "m-1");
        let none = identify("q", &amqp, Incoming::new(json!({}))).unwrap_err();
        assert!(none.reason.contains("`message_id`"), "{}", none.reason);
    }
}
