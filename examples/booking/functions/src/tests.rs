//! The rules of each function (as `examples/booking/README.md` lists them), and the registry
//! against the manifest.

use super::*;
use serde_json::json;

fn stay(id: &str, nights: u32) -> Stay {
    Stay {
        id: id.to_string(),
        nights,
    }
}

fn charge(id: &str, amount: f64) -> Charge {
    Charge {
        id: id.to_string(),
        amount,
    }
}

#[tokio::test]
async fn rooms_are_free_unless_no_nights_or_full() {
    let reservation = reserve_availability(stay("b-1", 2)).await.unwrap();
    assert_eq!(reservation.status, Availability::Available);
    assert_eq!(reservation.hold.as_deref(), Some("hold-b-1"));
    let room = reservation.room.unwrap();
    assert!((100..150).contains(&room));
    assert_eq!(
        reserve_availability(stay("b-1", 2)).await.unwrap(),
        reservation,
        "the same stay gets the same answer"
    );

    for unavailable in [stay("b-2", 0), stay("full-house", 3)] {
        let reservation = reserve_availability(unavailable).await.unwrap();
        assert_eq!(reservation.status, Availability::Unavailable);
        assert_eq!((reservation.room, reservation.hold), (None, None));
    }
    let error = reserve_availability(stay("", 1)).await.unwrap_err();
    assert_eq!(error.name(), "InvalidBooking");
}

#[tokio::test]
async fn payments_charge_decline_and_time_out() {
    let receipt = process_payment(charge("b-1", 120.5)).await.unwrap();
    assert_eq!(receipt.status, "charged");
    assert_eq!(receipt.transaction, "txn-b-1-12050");
    assert!(process_payment(charge("b-1", 1000.0)).await.is_ok());

    let error = process_payment(charge("b-1", 1000.01)).await.unwrap_err();
    assert_eq!(error.name(), "PaymentDeclined");
    for amount in [0.0, -5.0] {
        let error = process_payment(charge("b-1", amount)).await.unwrap_err();
        assert_eq!(error.name(), "InvalidAmount");
    }
    // `flaky` never gets through, whatever the amount: the flow's retries run out.
    for _ in 0..4 {
        let error = process_payment(charge("flaky-1", 10.0)).await.unwrap_err();
        assert_eq!(error.name(), "PaymentGatewayTimeout");
    }
    // `wobbly` times out once per id, then goes through: the flow's retry succeeds.
    let error = process_payment(charge("wobbly-unit-test", 10.0))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "PaymentGatewayTimeout");
    assert!(process_payment(charge("wobbly-unit-test", 10.0))
        .await
        .is_ok());
}

#[tokio::test]
async fn releasing_takes_the_reservation_as_returned() {
    let registry = registry();
    let reservation = registry
        .call("ReserveAvailability", json!({"id": "b-9", "nights": 1}))
        .await
        .unwrap();
    let release = registry
        .call("ReleaseReservation", reservation.clone())
        .await
        .unwrap();
    assert_eq!(release["released"], true);
    assert_eq!(release["room"], reservation["room"]);

    let nothing_held = release_reservation(Reservation {
        id: "b-0".into(),
        nights: 0,
        status: Availability::Unavailable,
        room: None,
        hold: None,
    })
    .await
    .unwrap();
    assert!(!nothing_held.released);
}

fn paid(id: &str, room: Option<u32>) -> PaidReservation {
    PaidReservation {
        id: id.to_string(),
        room,
        transaction: format!("txn-{id}-24000"),
    }
}

#[tokio::test]
async fn confirming_gives_a_reference_and_is_idempotent() {
    let confirmation = confirm_reservation(paid("b-1", Some(138))).await.unwrap();
    assert_eq!(
        confirmation,
        Confirmation {
            id: "b-1".into(),
            room: 138,
            transaction: "txn-b-1-24000".into(),
            status: "confirmed".into(),
            reference: "conf-b-1".into(),
        }
    );
    assert_eq!(
        confirm_reservation(paid("b-1", Some(138))).await.unwrap(),
        confirmation,
        "confirming twice gives the same confirmation"
    );
    for invalid in [paid("", Some(138)), paid("b-1", None)] {
        let error = confirm_reservation(invalid).await.unwrap_err();
        assert_eq!(error.name(), "InvalidBooking");
    }
}

#[tokio::test]
async fn a_reservation_and_its_payment_can_be_confirmed() {
    // What the Booking flow chains: the reservation's room and the payment's transaction.
    let registry = registry();
    let reservation = registry
        .call("ReserveAvailability", json!({"id": "b-100", "nights": 2}))
        .await
        .unwrap();
    let payment = registry
        .call("ProcessPayment", json!({"id": "b-100", "amount": 240}))
        .await
        .unwrap();
    let confirmation = registry
        .call(
            "ConfirmReservation",
            json!({"id": "b-100", "room": reservation["room"], "transaction": payment["transaction"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        confirmation,
        json!({"id": "b-100", "room": 138, "transaction": "txn-b-100-24000", "status": "confirmed", "reference": "conf-b-100"})
    );
    let sent = registry
        .call(
            "NotifyGuest",
            json!({"guest": "vip-ann", "via": "email", "quotes": confirmation}),
        )
        .await
        .unwrap();
    assert_eq!(
        sent["message"],
        "Dear vip-ann, your booking conf-b-100 is confirmed: room 138."
    );
}

#[tokio::test]
async fn rates_depend_on_the_day_and_currency() {
    let quote = |night: &str, currency: &str| {
        quote_rate(NightQuery {
            night: night.to_string(),
            currency: currency.to_string(),
        })
    };
    assert_eq!(quote("2025-07-10", "EUR").await.unwrap().rate, 100.0);
    assert_eq!(quote("2025-07-14", "EUR").await.unwrap().rate, 140.0);
    assert_eq!(quote("2025-07-11", "USD").await.unwrap().rate, 121.0);
    assert_eq!(quote("2025-07-12", "GBP").await.unwrap().rate, 102.0);
    for bad in [
        "2025-7-1",
        "tomorrow",
        "2025-13-01",
        "2025-01-32",
        "2025-01-01-01",
    ] {
        let error = quote(bad, "EUR").await.unwrap_err();
        assert_eq!(error.name(), "InvalidNight", "{bad}");
    }
    let error = quote("2025-07-10", "JPY").await.unwrap_err();
    assert_eq!(error.name(), "UnsupportedCurrency");
}

#[tokio::test]
async fn loyalty_tiers() {
    let tier = |guest: &str| {
        lookup_loyalty(Guest {
            guest: guest.to_string(),
        })
    };
    assert_eq!(tier("vip-ann").await.unwrap().tier, "gold");
    assert_eq!(tier("vip-ann").await.unwrap().discount, 0.15);
    assert_eq!(tier("member-bo").await.unwrap().tier, "silver");
    assert_eq!(tier("cy").await.unwrap().tier, "bronze");
    assert_eq!(tier("").await.unwrap_err().name(), "GuestNotFound");
}

#[tokio::test]
async fn notifications_by_email_or_sms() {
    let notify = |guest: &str, via: &str| {
        notify_guest(Notice {
            guest: guest.to_string(),
            via: via.to_string(),
            quotes: json!([{"tier": "gold"}, []]),
        })
    };
    for via in ["email", "sms"] {
        let sent = notify("vip-ann", via).await.unwrap();
        assert!(sent.sent);
        assert_eq!(sent.via, via);
        assert_eq!(
            sent.message,
            "Dear vip-ann, your nightly rates have been updated."
        );
    }
    assert_eq!(
        notify("vip-ann", "fax").await.unwrap_err().name(),
        "UnsupportedChannel"
    );
    assert_eq!(notify("", "sms").await.unwrap_err().name(), "GuestNotFound");
}

#[tokio::test]
async fn the_flows_arguments_fit_the_functions() {
    // The exact objects the two flows build for each call.
    let registry = registry();
    let calls = [
        ("ReserveAvailability", json!({"id": "b-1", "nights": 2})),
        ("ProcessPayment", json!({"id": "b-1", "amount": 300})),
        (
            "ConfirmReservation",
            json!({"id": "b-1", "room": 101, "transaction": "txn-b-1-30000"}),
        ),
        (
            "NotifyGuest",
            json!({"guest": "vip-ann", "via": "email", "quotes": {"id": "b-1", "room": 101, "transaction": "txn-b-1-30000", "status": "confirmed", "reference": "conf-b-1"}}),
        ),
        (
            "QuoteRate",
            json!({"night": "2025-07-14", "currency": "EUR"}),
        ),
        ("LookupLoyalty", json!({"guest": "vip-ann"})),
        (
            "NotifyGuest",
            json!({"guest": "vip-ann", "via": "email", "quotes": [{"tier": "gold"}, [{"rate": 1}]]}),
        ),
    ];
    for (function, input) in calls {
        let result = registry.call(function, input.clone()).await;
        assert!(result.is_ok(), "{function}({input}): {result:?}");
    }
}

/// A manifest's `functions:` entries: each key with its `idempotent` flag.
fn manifest_functions(text: &str) -> Vec<(String, bool)> {
    let manifest: serde_yaml::Value = serde_yaml::from_str(text).expect("the manifest parses");
    manifest["functions"]
        .as_mapping()
        .expect("a functions mapping")
        .iter()
        .map(|(key, function)| {
            (
                key.as_str().unwrap().to_string(),
                function["idempotent"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// The event handlers, which only examples/booking-events declares.
const EVENT_HANDLERS: &[&str] = &["TrackBooking", "RecordKo"];

#[test]
fn the_registry_is_the_manifests() {
    let registry = registry();
    assert_eq!(registry.problems(), Vec::<String>::new());
    let described: Vec<(String, bool)> = registry
        .describe()
        .functions
        .into_iter()
        .map(|f| (f.name, f.properties.idempotent))
        .collect();
    // examples/booking-events declares every function of the package ...
    assert_eq!(
        described,
        manifest_functions(include_str!("../../../booking-events/flowctl.yaml"))
    );
    // ... and examples/booking all but the event handlers.
    let flows_only: Vec<(String, bool)> = described
        .into_iter()
        .filter(|(name, _)| !EVENT_HANDLERS.contains(&name.as_str()))
        .collect();
    assert_eq!(
        flows_only,
        manifest_functions(include_str!("../../flowctl.yaml"))
    );
}

#[tokio::test]
async fn availability_is_an_enum_written_as_before() {
    let registry = registry();
    for (nights, status) in [(2, "available"), (0, "unavailable")] {
        let reservation = registry
            .call(
                "ReserveAvailability",
                json!({"id": "b-7", "nights": nights}),
            )
            .await
            .unwrap();
        assert_eq!(reservation["status"], status, "the wire is unchanged");
        let back: Reservation = serde_json::from_value(reservation).unwrap();
        assert_eq!(serde_json::to_value(back.status).unwrap(), status);
    }
    let description = serde_json::to_value(registry.describe()).unwrap();
    let output = &description["functions"][0]["output"];
    // schemars wraps a documented field's `$ref` in a one-member `allOf`.
    assert_eq!(
        output["properties"]["status"]["allOf"],
        json!([{"$ref": "#/definitions/Availability"}])
    );
    let availability = &output["definitions"]["Availability"];
    assert_eq!(availability["type"], "string");
    assert_eq!(availability["enum"], json!(["available", "unavailable"]));
}

#[test]
fn the_booking_flows_input_is_a_named_type() {
    let description = serde_json::to_value(registry().describe()).unwrap();
    let types = description["types"].as_object().unwrap();
    assert_eq!(types.keys().collect::<Vec<_>>(), ["BookingRequest"]);
    let request = &types["BookingRequest"];
    assert_eq!(
        request["required"],
        json!(["amount", "arrival", "currency", "guest", "id", "nights"]),
        "every field is required (schemars sorts them)"
    );
    for field in request["properties"].as_object().unwrap().values() {
        assert!(field["description"].is_string(), "documented: {field}");
    }
    // The README's sample inputs are all BookingRequests.
    for (id, nights, amount) in [
        ("b-100", 2, 240),
        ("b-101", 0, 100),
        ("full-102", 3, 300),
        ("b-103", 2, 5000),
        ("b-106", 2, 0),
        ("flaky-104", 1, 80),
        ("wobbly-105", 1, 80),
    ] {
        let input = json!({"id": id, "nights": nights, "amount": amount,
                           "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"});
        let request: BookingRequest = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(&request).unwrap()["id"], id);
    }
    assert!(serde_json::from_value::<BookingRequest>(json!({"id": "b-1"})).is_err());
}

#[test]
fn effects_are_declared_where_the_functions_have_them() {
    let described = registry().describe();
    let props = |name: &str| {
        described
            .functions
            .iter()
            .find(|f| f.name == name)
            .unwrap()
            .properties
            .clone()
    };
    let payment = props("ProcessPayment");
    assert!(!payment.idempotent);
    assert_eq!(payment.retry_safe, ["PaymentGatewayTimeout"]);
    assert_eq!(payment.writes, ["payments"]);
    assert!(payment.reads.is_empty());
    let stores = |name: &str| {
        let p = props(name);
        (p.reads, p.writes, p.consistent_reads)
    };
    let reservations = || vec!["reservations".to_string()];
    assert_eq!(
        stores("ReserveAvailability"),
        (reservations(), reservations(), vec![])
    );
    assert_eq!(
        stores("ReleaseReservation"),
        (vec![], reservations(), vec![])
    );
    // It reads back the hold ReserveAvailability has just written.
    assert_eq!(
        stores("ConfirmReservation"),
        (reservations(), reservations(), reservations())
    );
    for pure in [
        "QuoteRate",
        "LookupLoyalty",
        "NotifyGuest",
        "TrackBooking",
        "RecordKo",
    ] {
        let p = props(pure);
        assert_eq!(
            (p.retry_safe.len(), p.reads.len(), p.writes.len()),
            (0, 0, 0),
            "{pure}"
        );
    }
}

/// An event as a subscription hands it over.
fn event(source: &str, event_type: &str, id: &str, key: &str, data: Value) -> Value {
    json!({"source": source, "type": event_type, "id": id, "key": key, "seq": 1,
           "accepted_at": "2026-12-06T22:10:03.123Z", "data": data})
}

/// Runs `TrackBooking` through the registry as the `ledger` subscription does.
async fn track(registry: &Registry, event: Value, state: &Value) -> Result<Value, Error> {
    registry
        .call("TrackBooking", json!({"event": event, "state": state}))
        .await
}

#[tokio::test]
async fn the_ledger_counts_each_event_once_and_keeps_the_last_statuses() {
    let registry = registry();
    let request = event(
        "booking-requests",
        "booking.requested",
        "req-1",
        "b-100",
        json!({"id": "b-100", "nights": 2, "amount": 240, "guest": "vip-ann"}),
    );
    let first = track(&registry, request.clone(), &Value::Null)
        .await
        .unwrap();
    assert_eq!(
        first,
        json!({"state": {"booking": "b-100", "events": 1, "by_source": {"booking-requests": 1},
                         "seen": ["booking-requests/req-1"], "guest": "vip-ann"},
               "duplicate": false})
    );
    let mut state = first["state"].clone();
    for (source, event_type, id, data) in [
        (
            "payments",
            "payment.captured",
            "pay-1",
            json!({"booking_id": "b-100", "amount": 240}),
        ),
        (
            "room-changes",
            "room.changed",
            "7",
            json!({"id": 7, "booking_id": "b-100", "room": 138, "status": "assigned"}),
        ),
        (
            "payments",
            "payment.refunded",
            "pay-2",
            json!({"booking_id": "b-100"}),
        ),
        (
            "room-changes",
            "room.changed",
            "8",
            json!({"id": 8, "booking_id": "b-100"}),
        ),
    ] {
        let answer = track(
            &registry,
            event(source, event_type, id, "b-100", data),
            &state,
        )
        .await
        .unwrap();
        state = answer["state"].clone();
    }
    assert_eq!(state["events"], 5);
    assert_eq!(
        state["by_source"],
        json!({"booking-requests": 1, "payments": 2, "room-changes": 2})
    );
    assert_eq!(state["payment"], "payment.refunded");
    // A row without a status or room is a change all the same.
    assert_eq!(state["room"], json!({"status": "changed"}));
    assert_eq!(state["guest"], "vip-ann");

    // A redelivered (replayed) event changes nothing.
    let again = track(&registry, request, &state).await.unwrap();
    assert_eq!(again, json!({"state": state, "duplicate": true}));
}

#[tokio::test]
async fn the_ledger_records_kos_and_refuses_unkeyed_or_foreign_events() {
    let registry = registry();
    let ko = event(
        "ko:book",
        "ko",
        "book/9",
        "b-103",
        json!({"error": "PaymentFailed", "attempts": 3, "subscription": "book"}),
    );
    let answer = track(&registry, ko, &Value::Null).await.unwrap();
    assert_eq!(answer["state"]["failed"], "PaymentFailed");
    assert_eq!(answer["state"]["by_source"], json!({"ko:book": 1}));

    let unkeyed = event("payments", "payment.captured", "pay-3", "", json!({}));
    let error = track(&registry, unkeyed, &Value::Null).await.unwrap_err();
    assert_eq!(error.name(), "NoBookingKey");
    let foreign = event("payments", "payment.captured", "pay-4", "b-200", json!({}));
    let error = track(&registry, foreign, &answer["state"])
        .await
        .unwrap_err();
    assert_eq!(error.name(), "WrongBooking");
}

#[tokio::test]
async fn a_ko_is_described_with_its_booking_and_error() {
    let registry = registry();
    let failed = event(
        "booking-requests",
        "booking.requested",
        "req-3",
        "b-103",
        json!({"id": "b-103", "amount": 5000}),
    );
    let ko = event(
        "ko:book",
        "ko",
        "book/12",
        "b-103",
        json!({"event": failed, "error": "PaymentFailed",
               "cause": "{\"errorType\":\"PaymentDeclined\"}", "attempts": 3, "subscription": "book"}),
    );
    let record = registry.call("RecordKo", ko.clone()).await.unwrap();
    assert_eq!(
        record,
        json!({
            "booking": "b-103",
            "subscription": "book",
            "event": "booking-requests/req-3",
            "error": "PaymentFailed",
            "cause": "{\"errorType\":\"PaymentDeclined\"}",
            "attempts": 3,
            "note": "booking b-103: booking-requests/req-3 failed in `book` with PaymentFailed after 3 attempt(s); if `book` parks, `flowctl events release book b-103` runs it again and `--skip` goes on with the booking's next event",
        })
    );
    assert_eq!(
        registry.call("RecordKo", ko).await.unwrap(),
        record,
        "the same KO gets the same record"
    );

    let mut nameless = failed.clone();
    nameless["data"] = json!({"event": failed, "error": "", "attempts": 1, "subscription": "book"});
    let error = registry.call("RecordKo", nameless).await.unwrap_err();
    assert_eq!(error.name(), "NotAKoEvent");
    // Not a KO event at all: the shim refuses the shape.
    let error = registry.call("RecordKo", failed).await.unwrap_err();
    assert_eq!(error.name(), "InvalidInput");
}
