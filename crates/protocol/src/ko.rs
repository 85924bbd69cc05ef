//! What a KO is, written once for `flowctl dev` (`flowctl-events`) and the deployed subscriber
//! (`flowctl-subscriber`): the source a subscription's KO events come from, the implicit
//! subscription that runs its KO handler, the KO event's type, id and data, and the error of
//! a state target that answers without `state`.

use serde_json::{json, Value};

/// The prefix naming the KO events of a subscription as a source: `ko:<subscription>`.
pub const KO_SOURCE_PREFIX: &str = "ko:";
/// The type of every KO event.
pub const KO_TYPE: &str = "ko";
/// The error of a target that answers without `state` in a subscription with `state: true`.
pub const STATE_MISSING: &str = "flowctl.StateMissing";

/// The source naming a subscription's KO events: `ko:<subscription>`.
pub fn ko_source(subscription: &str) -> String {
    format!("{KO_SOURCE_PREFIX}{subscription}")
}

/// The implicit subscription that runs a subscription's `ko` handler, `<subscription>:ko`
/// (`:` cannot appear in a manifest name, so it never collides), locally and deployed.
pub fn ko_handler_subscription(subscription: &str) -> String {
    format!("{subscription}:ko")
}

/// The id of a KO event: `<subscription>/<the event's place>@<unix ms of the KO>` — one per
/// KO, since a parked event run again after a release may KO again, and that KO must not be
/// taken for a duplicate of the first. The place is the log's seq locally, the event's id on
/// AWS (where there is no log to number events).
pub fn ko_event_id(subscription: &str, place: &str, unix_ms: i64) -> String {
    format!("{subscription}/{place}@{unix_ms}")
}

/// The payload of a KO event: `{"subscription", "event", "error", "cause", "attempts"}`.
pub fn ko_event_data(
    subscription: &str,
    event: Value,
    error: &str,
    cause: &str,
    attempts: u32,
) -> Value {
    json!({
        "subscription": subscription,
        "event": event,
        "error": error,
        "cause": cause,
        "attempts": attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_shape() {
        assert_eq!(ko_source("book"), "ko:book");
        assert_eq!(ko_handler_subscription("book"), "book:ko");
        assert_eq!(ko_event_id("book", "17", 5), "book/17@5");
        let data = ko_event_data("book", json!({"id": "e"}), "E", "c", 3);
        assert_eq!(
            data,
            json!({"subscription": "book", "event": {"id": "e"}, "error": "E", "cause": "c", "attempts": 3})
        );
    }
}
