//! Putting an event on a subscription's SQS FIFO queue: the message as the spec writes it
//! (the event `flowctl dev` hands a target, minus `seq`), its message group (the route's key)
//! and its deduplication id. KO forwarding, the ingests and the poller all send through here.

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use flowctl_protocol::event::{subscription_key, Locator};
use flowctl_protocol::subscriber::{deduplication_id, message_group_id, Route};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event as it travels on a queue (`{"source","type","id","key","accepted_at","data"}`,
/// plus `"released": true` on an event `flowctl events release` sent back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub accepted_at: String,
    #[serde(default)]
    pub data: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
}

impl Event {
    /// Reads a queue message's body; `Err` says why it is not an event.
    pub fn parse(body: &str) -> Result<Event, String> {
        serde_json::from_str(body).map_err(|error| format!("the message is not an event: {error}"))
    }

    /// What a target receives: the event without the queue's own `released` flag.
    pub fn for_target(&self) -> Value {
        let mut value = serde_json::to_value(Event {
            released: false,
            ..self.clone()
        })
        .unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.remove("released");
        }
        value
    }

    /// The message body.
    pub fn body(&self) -> String {
        // An `Event` is strings and a `Value`: always serialisable.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The event as `route` takes it: `None` when the route does not take its type; else the
/// event keyed by the route's own key path (into `data`) when it has one. `Err` when that
/// path finds no key, as `flowctl dev` rejects such a delivery.
pub fn routed(route: &Route, event: &Event) -> Result<Option<Event>, String> {
    if !route.types.is_empty() && !route.types.contains(&event.event_type) {
        return Ok(None);
    }
    let steps = match route.key.as_deref().map(Locator::parse) {
        None => None,
        Some(Ok(Locator::Payload(steps))) => Some(steps),
        Some(Ok(_)) => {
            return Err(format!(
                "the key of subscription `{}` is not a path into the payload",
                route.subscription
            ))
        }
        Some(Err(reason)) => return Err(reason),
    };
    let key = subscription_key(steps.as_deref(), &event.key, &event.data)?;
    Ok(Some(Event {
        key,
        ..event.clone()
    }))
}

/// A message SQS did not take.
#[derive(Debug, thiserror::Error)]
#[error("sqs:SendMessage to {queue_url} (event `{event_id}`): {message}")]
pub struct SendError {
    pub queue_url: String,
    pub event_id: String,
    /// AWS's error code, when it answered one.
    pub code: Option<String>,
    pub message: String,
}

/// Sends `event` to a FIFO queue: group = `message_group_id(event.key)`, deduplication id =
/// `dedup` (see [`deduplication_id`]; a released event has its own).
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    event: &Event,
    dedup: &str,
) -> Result<(), SendError> {
    let group = message_group_id(&event.key);
    send_body(sqs, queue_url, &event.body(), &group, dedup, &event.id).await
}

/// Sends a message body as it is (an event's, or what the Amazon MQ ingest keeps of a message
/// it could not identify) with its group and deduplication id; `about` names it in an error
/// (an event id).
pub async fn send_body(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    body: &str,
    group: &str,
    dedup: &str,
    about: &str,
) -> Result<(), SendError> {
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .message_group_id(group)
        .message_deduplication_id(dedup)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| SendError {
            queue_url: queue_url.to_string(),
            event_id: about.to_string(),
            code: error.code().map(str::to_string),
            message: error
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(&error).to_string()),
        })
}

/// Sends `event` to the subscription of `route` if it takes it, with the event's own
/// deduplication id; `Ok(false)` when the route does not take the event's type.
pub async fn send_to_route(
    sqs: &aws_sdk_sqs::Client,
    route: &Route,
    event: &Event,
) -> Result<bool, SendError> {
    let routed = routed(route, event).map_err(|message| SendError {
        queue_url: route.queue_url.clone(),
        event_id: event.id.clone(),
        code: None,
        message,
    })?;
    match routed {
        None => Ok(false),
        Some(event) => {
            send(sqs, &route.queue_url, &event, &deduplication_id(&event.id)).await?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str) -> Event {
        Event {
            source: "hooks".into(),
            event_type: "booking.requested".into(),
            id: id.into(),
            key: "b-1".into(),
            accepted_at: "2026-01-01T00:00:00.000Z".into(),
            data: json!({"booking": {"id": "b-9"}}),
            released: false,
        }
    }

    #[test]
    fn bodies_round_trip_and_targets_do_not_see_released() {
        let mut released = event("r-1");
        released.released = true;
        let back = Event::parse(&released.body()).unwrap();
        assert_eq!(back, released);
        assert!(!event("r-1").body().contains("released"));
        let for_target = released.for_target();
        assert_eq!(for_target["id"], "r-1");
        assert!(for_target.get("released").is_none());
        assert!(Event::parse("not json").is_err());
        assert!(Event::parse(r#"{"id": "x"}"#).is_err());
    }

    #[test]
    fn routes_filter_by_type_and_rekey() {
        let mut route = Route {
            subscription: "ledger".into(),
            queue_url: "q".into(),
            types: vec!["ko".into()],
            key: None,
        };
        assert_eq!(routed(&route, &event("r")).unwrap(), None);
        route.types.clear();
        assert_eq!(routed(&route, &event("r")).unwrap().unwrap().key, "b-1");
        route.key = Some("$.booking.id".into());
        assert_eq!(routed(&route, &event("r")).unwrap().unwrap().key, "b-9");
        route.key = Some("$.missing".into());
        assert!(routed(&route, &event("r")).is_err());
    }
}
