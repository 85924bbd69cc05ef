//! What a source hands in (`Incoming`), what the log keeps (`NewEvent`), and the one
//! function between them: reading an event's type, id and key by the manifest's locators.
//! The reading itself is `flowctl_protocol::event`'s, which the deployed ingest runs too;
//! this maps a manifest's source onto it.

use flowctl_lang::manifest::events::{Source, SourceKind};
pub use flowctl_protocol::event::{
    scalar_text, Incoming, Rejection, SOURCE_WIDE_KEY, WEBHOOK_ID_HEADERS,
};
use flowctl_protocol::event::{Defaults, Locators};
use serde_json::Value;

/// An event ready for the log: its identity read, its payload kept as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub source: String,
    pub event_type: String,
    pub id: String,
    pub key: String,
    pub data: Value,
}

/// Reads the type, id and key of `incoming` by `source`'s locators (and the kind's defaults).
pub fn identify(name: &str, source: &Source, incoming: Incoming) -> Result<NewEvent, Rejection> {
    let identity = flowctl_protocol::event::identify(
        name,
        locators(source),
        defaults(&source.kind),
        &incoming,
    )?;
    Ok(NewEvent {
        source: name.to_string(),
        event_type: identity.event_type,
        id: identity.id,
        key: identity.key,
        data: incoming.payload,
    })
}

/// A source's `type`, `id` and `key` as written.
pub fn locators(source: &Source) -> Locators<'_> {
    Locators {
        event_type: source.event_type.as_deref(),
        id: source.id.as_deref(),
        key: source.key.as_deref(),
    }
}

/// Where a kind of source finds an event's id (and a table its key) when the manifest names
/// none.
pub fn defaults(kind: &SourceKind) -> Defaults<'_> {
    match kind {
        SourceKind::Webhook(_) => Defaults::Webhook,
        SourceKind::Amqp(_) => Defaults::Amqp,
        SourceKind::Nats(_) => Defaults::Nats,
        SourceKind::Postgres(pg) => Defaults::Row {
            cursor_column: cursor_column(pg),
        },
        SourceKind::Schedule(_) | SourceKind::Poll(_) => Defaults::None,
    }
}

/// The column a PostgreSQL source reads rows in order of (default `id`).
pub fn cursor_column(pg: &flowctl_lang::manifest::events::Postgres) -> &str {
    pg.cursor_column.as_deref().unwrap_or("id")
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
                broker_arn: None,
                secret_arn: None,
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
