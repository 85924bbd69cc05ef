//! The ingest of an `amqp` source on AWS: the batches Lambda's Amazon MQ for RabbitMQ event
//! source mapping hands the ingest function (`"eventSource": "aws:rmq"`), each message read
//! as `flowctl dev`'s amqp source reads it (its JSON body, its `message_id` property as the
//! default id, its properties and headers as headers) and put on the queue of every
//! subscription that takes it, with the webhook ingest's sending code
//! ([`crate::ingest::deliver`]).
//!
//! Order: the messages are sent one after the other in the order of the event (a message's
//! routes at once, the next message only once they all have it), so a key's events reach
//! each queue in the broker's order.
//!
//! Failures: the invocation fails only when SQS does not take a message (a queue refused it,
//! throttling, a network error). It stops at that message, so nothing after it is sent out of
//! order, and Lambda hands the whole batch again: what was already sent goes again with the
//! same deduplication ids, which SQS drops within its five-minute window and the subscribers'
//! `done#` items after it.
//!
//! A message that can never become an event — its body is not base64 or not JSON, too large
//! for an SQS message, its type, id or key cannot be read — must neither block the queue
//! (failing the batch would hand it back forever, holding every message behind it) nor be
//! dropped. There is no table of the ingest's own to keep it in, so it is **kept as
//! rejected on the queue of every route**, as a message that is not an event:
//! `{"rejected": {"source", "reason", "queue", "message"}}` (`message`: the broker's message as
//! Lambda handed it, its `data` cut to [`MAX_KEPT_DATA`] characters if longer), in the
//! source-wide key's message group, deduplicated by its content. Each subscriber reads it as
//! it reads any message that is not an event: at once KO, never run — the KO event (the
//! rejected message and its reason in `event`) goes to the subscription's KO routes, and with
//! `then: park` it is also kept in the subscription's table under that group's key — and
//! logs it. Every route rather than the first: the type may be what could not be read, so
//! any subscription may have been meant to take it, and each one's KO handling says what
//! becomes of it (one copy per subscription, as `flowctl dev` keeps one rejected entry per
//! source). A message whose subscription's own key path finds nothing goes, kept the same
//! way, to that subscription only; the others get the event. Every rejection is also logged
//! with its reason on the function's standard error.
//!
//! The answer (Lambda ignores it beyond success) counts the messages, the events sent and the
//! messages kept as rejected.

use crate::ingest::{deliver, DeliveryError};
use crate::queue::{self, Event, SendError};
use base64::Engine;
use flowctl_protocol::calendar::rfc3339_millis;
use flowctl_protocol::event::{
    body_too_large, identify, Defaults, Incoming, Locators, MAX_BODY, SOURCE_WIDE_KEY,
};
use flowctl_protocol::subscriber::{deduplication_id, message_group_id, IngestConfig, Route};
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Write as _;

/// The `eventSource` of Lambda's Amazon MQ for RabbitMQ events.
pub const EVENT_SOURCE: &str = "aws:rmq";

/// The most characters of a rejected message's base64 `data` kept in its rejected message
/// (what is left of SQS's 256 KiB for the rest).
pub const MAX_KEPT_DATA: usize = 200 * 1024;

/// Whether `payload` is an Amazon MQ for RabbitMQ event (`"eventSource": "aws:rmq"`).
pub fn is_mq_event(payload: &Value) -> bool {
    payload.get("eventSource").and_then(Value::as_str) == Some(EVENT_SOURCE)
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MqReport {
    /// Messages in the event.
    pub messages: u64,
    /// Events put on at least one queue.
    pub events: u64,
    /// Messages kept as rejected (on some queue, or only logged when no route takes them).
    pub rejected: u64,
}

/// Why an invocation failed: Lambda hands the batch again.
#[derive(Debug, thiserror::Error)]
pub enum MqError {
    /// The payload is no Amazon MQ for RabbitMQ event.
    #[error("the invocation is not an Amazon MQ for RabbitMQ event: {0}")]
    NotAnMqEvent(String),
    /// A queue did not take a message; nothing after it was sent.
    #[error("{0}; the batch is handed back to be sent again")]
    Send(#[from] SendError),
}

/// One broker message of the event: the queue it came from (`<queue>::<vhost>`), the message
/// as Lambda handed it, and the event it is or why it cannot be one.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub queue: String,
    pub message: Value,
    pub read: Result<Event, String>,
}

/// A message kept as rejected: why, and the message itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub reason: String,
    pub message: Value,
}

/// Reads Lambda's event into its messages, in order (queue by queue as the event lists them,
/// each queue's messages in the broker's order), accepted at `now_ms`. Pure.
pub fn read(config: &IngestConfig, event: &Value, now_ms: i64) -> Result<Vec<Message>, MqError> {
    let queues = event
        .get("rmqMessagesByQueue")
        .and_then(Value::as_object)
        .ok_or_else(|| MqError::NotAnMqEvent("it has no `rmqMessagesByQueue` object".into()))?;
    let mut messages = Vec::new();
    for (queue, list) in queues {
        let Some(list) = list.as_array() else {
            return Err(MqError::NotAnMqEvent(format!(
                "the messages of `{queue}` are not a list"
            )));
        };
        for message in list {
            messages.push(Message {
                queue: queue.clone(),
                message: message.clone(),
                read: message_event(config, message, now_ms),
            });
        }
    }
    Ok(messages)
}

/// One message as `flowctl dev`'s amqp source reads it; `Err` says why it is no event.
pub fn message_event(config: &IngestConfig, message: &Value, now_ms: i64) -> Result<Event, String> {
    if !message.is_object() {
        return Err("the message is not an object".into());
    }
    let data = match message.get("data") {
        Some(Value::String(data)) => data,
        Some(Value::Null) | None => return Err("the message has no `data`".into()),
        Some(_) => return Err("the message's `data` is not text".into()),
    };
    let body = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("the message's `data` is not base64 ({e})"))?;
    let payload: Value =
        serde_json::from_slice(&body).map_err(|e| format!("the message body is not JSON: {e}"))?;
    let incoming = Incoming {
        payload,
        headers: headers(message.get("basicProperties").unwrap_or(&Value::Null)),
        ..Incoming::default()
    };
    let locators = Locators {
        event_type: config.event_type.as_deref(),
        id: config.id.as_deref(),
        key: config.key.as_deref(),
    };
    let identity = identify(&config.source, locators, Defaults::Amqp, &incoming)
        .map_err(|rejection| rejection.reason)?;
    Ok(Event {
        source: config.source.clone(),
        event_type: identity.event_type,
        id: identity.id,
        key: identity.key,
        accepted_at: rfc3339_millis(now_ms),
        data: incoming.payload,
        released: false,
    })
}

/// A message's properties as headers, as `flowctl dev`'s amqp source has them: `message_id`,
/// `type`, `correlation_id`, `app_id`, then the headers table's entries that are text or
/// integers. Lambda writes a text header (an AMQP long string) as `{"bytes": [...]}`, its
/// UTF-8 bytes (read here as `dev` reads them, invalid sequences replaced), and numbers as
/// JSON numbers; other values (booleans, decimals, tables, lists) are left out, as `dev`
/// leaves them.
pub fn headers(properties: &Value) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for (name, property) in [
        ("message_id", "messageId"),
        ("type", "type"),
        ("correlation_id", "correlationId"),
        ("app_id", "appId"),
    ] {
        if let Some(value) = properties.get(property).and_then(Value::as_str) {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    if let Some(table) = properties.get("headers").and_then(Value::as_object) {
        for (name, value) in table {
            if let Some(text) = header_text(value) {
                headers.push((name.clone(), text));
            }
        }
    }
    headers
}

/// A header value as text: a string, `{"bytes": [...]}` (each a byte, 0 to 255), an integer.
fn header_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::Object(object) => {
            let bytes = object.get("bytes")?.as_array()?;
            let bytes: Option<Vec<u8>> = bytes
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes?).into_owned())
        }
        _ => None,
    }
}

/// The message body that keeps a rejected message on a queue: not an event, so the
/// subscriber KOs it at once instead of running anything with it.
pub fn rejected_body(source: &str, queue: &str, rejected: &Rejected) -> String {
    let mut message = rejected.message.clone();
    if let Some(Value::String(data)) = message.get_mut("data") {
        if data.len() > MAX_KEPT_DATA {
            // Lambda's data is base64, but a hand-made event may hold anything: cut on a
            // character boundary.
            let cut = (0..=MAX_KEPT_DATA)
                .rev()
                .find(|&i| data.is_char_boundary(i))
                .unwrap_or(0);
            data.truncate(cut);
            message["data_truncated"] = Value::Bool(true);
        }
    }
    let body = |message: &Value| {
        json!({"rejected": {
            "source": source,
            "reason": rejected.reason,
            "queue": queue,
            "message": message,
        }})
        .to_string()
    };
    let full = body(&message);
    if full.len() <= MAX_BODY {
        return full;
    }
    // Large properties besides: keep the id and the (cut) data, what identifies it.
    body(&json!({
        "basicProperties": {"messageId": message.pointer("/basicProperties/messageId")},
        "data": message.get("data"),
        "data_truncated": message.get("data_truncated"),
        "properties_left_out": true,
    }))
}

/// Serves one Amazon MQ event of the `amqp` source `config` describes, with the function's
/// clock: every message on the queues of the subscriptions that take it, in order, or kept
/// as rejected (module docs). `Err` only when the payload is no MQ event or SQS refused one.
pub async fn handle(
    config: &IngestConfig,
    event: &Value,
    sqs: &aws_sdk_sqs::Client,
) -> Result<MqReport, MqError> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let messages = read(config, event, now_ms)?;
    let mut report = MqReport {
        messages: messages.len() as u64,
        ..MqReport::default()
    };
    for message in &messages {
        let rejected = match &message.read {
            Ok(event) => match deliver(&config.routes, event, sqs).await {
                Ok(delivered) => {
                    report.events += u64::from(!delivered.sent.is_empty());
                    for (route, reason) in &delivered.unkeyed {
                        let rejected = Rejected {
                            reason: format!(
                                "event `{}`: the key of subscription `{}`: {reason}",
                                event.id, route.subscription
                            ),
                            message: message.message.clone(),
                        };
                        keep(config, &message.queue, &rejected, [*route], sqs).await?;
                        report.rejected += 1;
                    }
                    continue;
                }
                Err(DeliveryError::Send(error)) => return Err(MqError::Send(error)),
                Err(DeliveryError::TooLarge { bytes }) => Rejected {
                    reason: format!(
                        "event `{}`: {} with the event's own fields ({bytes} bytes)",
                        event.id,
                        body_too_large()
                    ),
                    message: message.message.clone(),
                },
            },
            Err(reason) => Rejected {
                reason: reason.clone(),
                message: message.message.clone(),
            },
        };
        keep(config, &message.queue, &rejected, &config.routes, sqs).await?;
        report.rejected += 1;
    }
    Ok(report)
}

/// Puts a rejected message on the queues of `routes` (deduplicated by its content, so a
/// handed-back batch does not keep it twice) and logs it; with no route, only logs it.
async fn keep<'r>(
    config: &IngestConfig,
    queue: &str,
    rejected: &Rejected,
    routes: impl IntoIterator<Item = &'r Route>,
    sqs: &aws_sdk_sqs::Client,
) -> Result<(), SendError> {
    let body = rejected_body(&config.source, queue, rejected);
    let dedup = deduplication_id(&format!("rejected:{body}"));
    let group = message_group_id(SOURCE_WIDE_KEY);
    let mut kept = Vec::new();
    for route in routes {
        queue::send_body(sqs, &route.queue_url, &body, &group, &dedup, "rejected").await?;
        kept.push(route.subscription.as_str());
    }
    let _ = writeln!(
        std::io::stderr(),
        "flowctl-ingest {}: a message of {queue} kept as rejected ({}), on the queue(s) of {}: {body}",
        config.source,
        rejected.reason,
        if kept.is_empty() {
            "no subscription (no route takes this source): it is only in this log".to_string()
        } else {
            kept.join(", ")
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> IngestConfig {
        IngestConfig {
            source: "payments".into(),
            event_type: Some("$.type".into()),
            id: None,
            key: Some("$.booking".into()),
            secret_env: None,
            signature_header: None,
            routes: vec![],
            kind: flowctl_protocol::subscriber::IngestKind::Amqp,
        }
    }

    fn data(payload: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(payload)
    }

    fn message(id: Option<&str>, payload: &str) -> Value {
        json!({
            "basicProperties": {
                "contentType": "application/json", "messageId": id, "type": null,
                "headers": {"trace": {"bytes": [116, 45, 49]}, "attempt": 3, "ok": true,
                            "ratio": 0.5, "odd": {"bytes": [300]}, "list": [1]},
                "timestamp": "Jan 1, 1970, 12:33:41 AM", "bodySize": 80,
            },
            "redelivered": false,
            "data": data(payload),
        })
    }

    #[test]
    fn headers_decode_lambdas_byte_arrays_and_integers_as_dev_reads_them() {
        let properties = &message(Some("m-1"), "{}")["basicProperties"];
        assert_eq!(
            headers(properties),
            [
                ("message_id".to_string(), "m-1".to_string()),
                ("trace".into(), "t-1".into()),
                ("attempt".into(), "3".into()),
            ]
        );
        assert_eq!(
            header_text(&json!({"bytes": [0xff, 0x61]})).as_deref(),
            Some("\u{fffd}a")
        );
        assert_eq!(header_text(&json!("plain")).as_deref(), Some("plain"));
        assert_eq!(header_text(&json!({"bytes": "x"})), None);
        assert_eq!(header_text(&json!(-2)).as_deref(), Some("-2"));
        assert!(headers(&Value::Null).is_empty());
        assert!(headers(&json!({"headers": [1], "messageId": 7})).is_empty());
    }

    #[test]
    fn messages_become_events_in_order_with_the_message_id() {
        let event = json!({
            "eventSource": EVENT_SOURCE,
            "eventSourceArn": "arn:aws:mq:eu-west-1:123456789012:broker:b:b-1",
            "rmqMessagesByQueue": {
                "payments::/": [
                    message(Some("m-1"), r#"{"type":"paid","booking":"b-1"}"#),
                    message(Some("m-2"), r#"{"type":"paid","booking":7}"#),
                ],
            },
        });
        assert!(is_mq_event(&event));
        let messages = read(&config(), &event, 1_700_000_000_000).unwrap();
        let events: Vec<_> = messages
            .iter()
            .map(|m| {
                let e = m.read.as_ref().unwrap();
                (
                    m.queue.as_str(),
                    e.id.as_str(),
                    e.key.as_str(),
                    e.event_type.as_str(),
                )
            })
            .collect();
        assert_eq!(
            events,
            [
                ("payments::/", "m-1", "b-1", "paid"),
                ("payments::/", "m-2", "7", "paid")
            ]
        );
        let first = messages[0].read.as_ref().unwrap();
        assert_eq!(first.accepted_at, "2023-11-14T22:13:20.000Z");
        assert_eq!(first.data, json!({"type": "paid", "booking": "b-1"}));
        assert_eq!(first.source, "payments");
    }

    #[test]
    fn unreadable_messages_say_why_and_nothing_panics() {
        let reason = |message: Value| message_event(&config(), &message, 0).unwrap_err();
        assert!(reason(message(None, r#"{"type":"t","booking":"b"}"#)).contains("`message_id`"));
        assert!(reason(message(Some("m"), r#"{"type":"t"}"#)).contains("`$.booking`"));
        assert!(reason(message(Some("m"), "not json")).starts_with("the message body is not JSON"));
        assert!(reason(json!({"data": "!!"})).contains("not base64"));
        assert_eq!(reason(json!({})), "the message has no `data`");
        assert_eq!(
            reason(json!({"data": 1})),
            "the message's `data` is not text"
        );
        assert_eq!(reason(json!("x")), "the message is not an object");
        // Odd events: an error, not a panic.
        for odd in [
            json!(null),
            json!({"eventSource": "aws:rmq"}),
            json!({"rmqMessagesByQueue": []}),
            json!({"rmqMessagesByQueue": {"q::/": {}}}),
        ] {
            assert!(read(&config(), &odd, 0).is_err(), "{odd}");
        }
        let odd = json!({"rmqMessagesByQueue": {"q::/": [null, 1, [], {"basicProperties": 1, "data": ""}]}});
        let messages = read(&config(), &odd, i64::MIN).unwrap();
        assert_eq!(messages.len(), 4);
        assert!(messages.iter().all(|m| m.read.is_err()));
        assert!(!is_mq_event(&json!({"eventSource": "aws:sqs"})));
    }

    #[test]
    fn rejected_bodies_are_no_events_and_fit_a_queue() {
        let rejected = Rejected {
            reason: "no event id".into(),
            message: message(None, "{}"),
        };
        let body = rejected_body("payments", "payments::/", &rejected);
        assert!(Event::parse(&body).is_err());
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["rejected"]["reason"], "no event id");
        assert_eq!(value["rejected"]["message"], rejected.message);
        let huge = Rejected {
            reason: "too large".into(),
            message: json!({"data": "é".repeat(MAX_BODY), "basicProperties": {"messageId": "m", "headers": {"h": "x".repeat(MAX_BODY)}}}),
        };
        let body = rejected_body("payments", "q", &huge);
        assert!(body.len() <= MAX_BODY, "{}", body.len());
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["rejected"]["message"]["data_truncated"], true);
        assert_eq!(
            value["rejected"]["message"]["basicProperties"]["messageId"],
            "m"
        );
    }
}
