//! How an incoming message becomes an event, written once for `flowctl dev` (`flowctl-events`)
//! and the deployed ingest (`flowctl-subscriber`): the manifest's locators (`$.path`,
//! `header:NAME`, a literal) and how an event's type, id and key are read with them and with
//! each kind of source's defaults, with the reasons a message is rejected.
//!
//! Pure: the caller reads the request or message, this reads the values out of it.

use serde_json::Value;

/// Where a value of an event is read: `type`, `id` and `key` of a source, `key` of a
/// subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// `$`, `$.field`, `$.a[0].b`: a path into the payload.
    Payload(Vec<Step>),
    /// `header:NAME`: a request header (webhooks only), matched without regard to case.
    Header(String),
    /// Any other text: the value itself (only `type` may be a literal).
    Literal(String),
}

/// One step of a payload path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Field(String),
    Index(usize),
}

/// The longest path a locator may have, in steps (a bound for hostile manifests).
pub const MAX_PATH_STEPS: usize = 32;

impl Locator {
    /// Reads `text`: `$…` is a path, `header:NAME` a header, anything else a literal.
    /// `Err` says what is wrong with a path or header written as one.
    pub fn parse(text: &str) -> Result<Locator, String> {
        if let Some(name) = text.strip_prefix("header:") {
            let name = name.trim();
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            return if valid {
                Ok(Locator::Header(name.to_string()))
            } else {
                Err(format!(
                    "`{text}` is not a header name (letters, digits, `-`, `_`)"
                ))
            };
        }
        if !text.starts_with('$') {
            return Ok(Locator::Literal(text.to_string()));
        }
        let mut steps = Vec::new();
        let mut rest = &text[1..];
        while !rest.is_empty() {
            if steps.len() == MAX_PATH_STEPS {
                return Err(format!("`{text}` has more than {MAX_PATH_STEPS} steps"));
            }
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let field = &after[..end];
                let valid = !field.is_empty()
                    && field
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    return Err(format!(
                        "`{text}`: `.{field}` is not a field name (letters, digits, `_`, `-`)"
                    ));
                }
                steps.push(Step::Field(field.to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after
                    .find(']')
                    .ok_or_else(|| format!("`{text}`: `[` is not closed"))?;
                let index = after[..end]
                    .parse::<usize>()
                    .map_err(|_| format!("`{text}`: `[{}]` is not an index", &after[..end]))?;
                steps.push(Step::Index(index));
                rest = &after[end + 1..];
            } else {
                return Err(format!(
                    "`{text}`: expected `.field` or `[index]` after `$`, found `{rest}`"
                ));
            }
        }
        Ok(Locator::Payload(steps))
    }

    /// The value at a payload path, if there is one.
    pub fn get<'v>(steps: &[Step], mut value: &'v Value) -> Option<&'v Value> {
        for step in steps {
            value = match step {
                Step::Field(f) => value.get(f.as_str())?,
                Step::Index(i) => value.get(*i)?,
            };
        }
        Some(value)
    }
}

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

    /// The first header of that name (without regard to case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// The first of `headers` named `name`, without regard to case (HTTP's rule).
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why an incoming message cannot become an event (`flowctl dev` keeps it in the log's
/// rejected list; the deployed ingest answers 422 with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
}

/// The headers a webhook's id is read from when the manifest names none, in order.
pub const WEBHOOK_ID_HEADERS: &[&str] = &["Idempotency-Key", "X-GitHub-Delivery", "X-Request-Id"];

/// The key of every event of a source that names no key: one order for the whole source.
pub const SOURCE_WIDE_KEY: &str = "";

/// The manifest's locators of a source (`type`, `id`, `key`), as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Locators<'a> {
    pub event_type: Option<&'a str>,
    pub id: Option<&'a str>,
    pub key: Option<&'a str>,
}

/// Where a kind of source finds an event's id (and, for a table, its key) when the manifest
/// names none and the source handed none in (`flowctl events send` builds messages without a
/// source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaults<'a> {
    /// A webhook: the first of [`WEBHOOK_ID_HEADERS`] present.
    Webhook,
    /// An AMQP message: its `message_id` property.
    Amqp,
    /// A NATS message: its `Nats-Msg-Id` header.
    Nats,
    /// A table's row: its cursor column is both the id and the key.
    Row { cursor_column: &'a str },
    /// Nothing (a schedule, a poll): the source hands its ids in, or the manifest names them.
    None,
}

/// An event's identity as read from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub event_type: String,
    pub id: String,
    pub key: String,
}

/// Reads the type, id and key of `incoming`, a message of the source named `source`, by its
/// `locators` and its kind's `defaults`. The type defaults to the source's name, the key to
/// [`SOURCE_WIDE_KEY`] (a row's to its cursor column).
pub fn identify(
    source: &str,
    locators: Locators<'_>,
    defaults: Defaults<'_>,
    incoming: &Incoming,
) -> Result<Identity, Rejection> {
    let event_type = match locators.event_type {
        None => source.to_string(),
        Some(text) => read(text, incoming, "type")?,
    };
    let id = match (locators.id, &incoming.default_id) {
        (Some(text), _) => read(text, incoming, "id")?,
        (None, Some(id)) => id.clone(),
        (None, None) => default_id(defaults, incoming).ok_or_else(|| Rejection {
            reason: match defaults {
                Defaults::Webhook => format!(
                    "no event id: the request has none of the headers {} and the source names no `id` path",
                    WEBHOOK_ID_HEADERS.join(", ")
                ),
                Defaults::Amqp => "no event id: the message has no `message_id` property and the source names no `id` path".into(),
                Defaults::Nats => "no event id: the message has no `Nats-Msg-Id` header and the source names no `id` path".into(),
                Defaults::Row { cursor_column } => format!(
                    "no event id: the row has no `{cursor_column}` (its cursor column) and the source names no `id` path"
                ),
                Defaults::None => "no event id: the source names no `id` path and the message carries none".into(),
            },
        })?,
    };
    let key = match (locators.key, &incoming.default_key) {
        (Some(text), _) => read(text, incoming, "key")?,
        (None, Some(key)) => key.clone(),
        (None, None) => match defaults {
            Defaults::Row { cursor_column } => scalar_text(incoming.payload.get(cursor_column))
                .unwrap_or_else(|| SOURCE_WIDE_KEY.to_string()),
            _ => SOURCE_WIDE_KEY.to_string(),
        },
    };
    Ok(Identity {
        event_type,
        id,
        key,
    })
}

/// The id a kind of source reads when the manifest names none: a webhook's delivery headers,
/// an AMQP `message_id`, a NATS `Nats-Msg-Id`, a row's cursor column.
fn default_id(defaults: Defaults<'_>, incoming: &Incoming) -> Option<String> {
    let header = |name: &str| {
        incoming
            .header(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match defaults {
        Defaults::Row { cursor_column } => scalar_text(incoming.payload.get(cursor_column)),
        Defaults::Webhook => WEBHOOK_ID_HEADERS.iter().find_map(|h| header(h)),
        Defaults::Amqp => header("message_id"),
        Defaults::Nats => header("Nats-Msg-Id"),
        Defaults::None => None,
    }
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

/// The key a subscription orders an event by: its own path into the payload (`key`,
/// a subscription's locator) when it has one, else the event's key.
pub fn subscription_key(
    key: Option<&[Step]>,
    event_key: &str,
    payload: &Value,
) -> Result<String, String> {
    match key {
        None => Ok(event_key.to_string()),
        Some(steps) => scalar_text(Locator::get(steps, payload)).ok_or_else(|| {
            "the subscription's key path finds no string or number in the payload".to_string()
        }),
    }
}

/// What a webhook answers to a request that is not a POST (405), whether `flowctl dev` or
/// the deployed ingest serves it.
pub const WEBHOOK_TAKES_POST: &str = "webhooks take POST";

/// The largest webhook body taken: SQS's message quota, so what `dev` accepts the AWS side
/// takes too.
pub const MAX_BODY: usize = 256 * 1024;

/// What a webhook answers to a body over [`MAX_BODY`] (413).
pub fn body_too_large() -> String {
    format!("the body is over {MAX_BODY} bytes (the SQS message quota events are held to)")
}

/// What a webhook answers to a body that is not JSON (400), `error` saying why.
pub fn body_not_json(error: &dyn std::fmt::Display) -> String {
    format!(
        "the body is not JSON ({error}); send a JSON document with Content-Type: application/json"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn webhook(id: Option<&'static str>, key: Option<&'static str>) -> Locators<'static> {
        Locators {
            event_type: Some("$.type"),
            id,
            key,
        }
    }

    #[test]
    fn reads_type_id_and_key_from_paths_and_headers() {
        let mut incoming = Incoming::new(json!({"type": "t", "b": {"id": 7}}));
        incoming
            .headers
            .push(("x-github-delivery".into(), "d-1".into()));
        let event = identify(
            "hooks",
            webhook(None, Some("$.b.id")),
            Defaults::Webhook,
            &incoming,
        )
        .unwrap();
        assert_eq!(
            (
                event.event_type.as_str(),
                event.id.as_str(),
                event.key.as_str()
            ),
            ("t", "d-1", "7")
        );
        let named = identify(
            "hooks",
            Locators {
                event_type: None,
                id: Some("header:X-GitHub-Delivery"),
                key: None,
            },
            Defaults::Webhook,
            &incoming,
        )
        .unwrap();
        assert_eq!(
            named,
            Identity {
                event_type: "hooks".into(),
                id: "d-1".into(),
                key: SOURCE_WIDE_KEY.into()
            }
        );
    }

    #[test]
    fn a_missing_or_unusable_key_is_a_rejection_with_its_reason() {
        let locators = webhook(Some("$.id"), Some("$.b.id"));
        let missing = identify(
            "h",
            locators,
            Defaults::Webhook,
            &Incoming::new(json!({"type": "t", "id": "1"})),
        );
        assert_eq!(
            missing.unwrap_err().reason,
            "no event key: the payload has nothing at `$.b.id`"
        );
        let object = identify(
            "h",
            locators,
            Defaults::Webhook,
            &Incoming::new(json!({"type": "t", "id": "1", "b": {"id": {}}})),
        );
        assert!(object
            .unwrap_err()
            .reason
            .contains("an object, not a string"));
        let no_id = identify(
            "h",
            webhook(None, None),
            Defaults::Webhook,
            &Incoming::new(json!({"type": "t"})),
        );
        assert_eq!(
            no_id.unwrap_err().reason,
            "no event id: the request has none of the headers Idempotency-Key, X-GitHub-Delivery, X-Request-Id and the source names no `id` path"
        );
        let empty_header = identify(
            "h",
            webhook(Some("header:Idempotency-Key"), None),
            Defaults::Webhook,
            &Incoming {
                payload: json!({"type": "t"}),
                headers: vec![("idempotency-key".into(), String::new())],
                ..Incoming::default()
            },
        );
        assert_eq!(
            empty_header.unwrap_err().reason,
            "no event id: the header `Idempotency-Key` is missing or empty"
        );
    }

    #[test]
    fn kinds_read_their_own_default_ids() {
        let row = Defaults::Row { cursor_column: "n" };
        let read = identify(
            "rows",
            Locators::default(),
            row,
            &Incoming::new(json!({"n": 42, "x": 1})),
        )
        .unwrap();
        assert_eq!((read.id.as_str(), read.key.as_str()), ("42", "42"));
        let none = identify("rows", Locators::default(), row, &Incoming::new(json!({})));
        assert!(none.unwrap_err().reason.contains("`n` (its cursor column)"));
        let mut message = Incoming::new(json!({}));
        message.headers.push(("message_id".into(), "m-1".into()));
        assert_eq!(
            identify("q", Locators::default(), Defaults::Amqp, &message)
                .unwrap()
                .id,
            "m-1"
        );
        let nats = identify("n", Locators::default(), Defaults::Nats, &message);
        assert!(nats.unwrap_err().reason.contains("`Nats-Msg-Id`"));
        let handed = Incoming {
            default_id: Some("given".into()),
            default_key: Some("k".into()),
            ..Incoming::new(json!({}))
        };
        let event = identify("s", Locators::default(), Defaults::None, &handed).unwrap();
        assert_eq!((event.id.as_str(), event.key.as_str()), ("given", "k"));
    }

    #[test]
    fn locators_parse_paths_headers_and_literals() {
        assert_eq!(
            Locator::parse("$.a[2].b-c"),
            Ok(Locator::Payload(vec![
                Step::Field("a".into()),
                Step::Index(2),
                Step::Field("b-c".into())
            ]))
        );
        assert_eq!(
            Locator::parse("header: X-Id"),
            Ok(Locator::Header("X-Id".into()))
        );
        assert_eq!(
            Locator::parse("booking.requested"),
            Ok(Locator::Literal("booking.requested".into()))
        );
        assert!(Locator::parse("header:a b").is_err());
        assert!(Locator::parse("$.a[x]")
            .unwrap_err()
            .contains("not an index"));
        assert!(Locator::parse("$.a[1").unwrap_err().contains("not closed"));
        let long = format!("${}", ".a".repeat(MAX_PATH_STEPS + 1));
        assert!(Locator::parse(&long).unwrap_err().contains("more than 32"));
        let Ok(Locator::Payload(steps)) = Locator::parse("$.a[1]") else {
            unreachable!()
        };
        assert_eq!(
            Locator::get(&steps, &json!({"a": [0, "x"]})),
            Some(&json!("x"))
        );
        assert_eq!(Locator::get(&steps, &json!({"a": 1})), None);
    }

    #[test]
    fn subscription_keys_read_their_own_path_or_keep_the_events() {
        let steps = [Step::Field("b".into())];
        assert_eq!(subscription_key(None, "k", &json!({})), Ok("k".to_string()));
        assert_eq!(
            subscription_key(Some(&steps), "k", &json!({"b": 3})),
            Ok("3".to_string())
        );
        assert!(subscription_key(Some(&steps), "k", &json!({"b": []})).is_err());
    }
}
