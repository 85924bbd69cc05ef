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
    assert_eq!(reservation.status, "available");
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
        assert_eq!(reservation.status, "unavailable");
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
        status: "unavailable".into(),
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

/// The manifest's `functions:` entries: each key with its `idempotent` flag.
fn manifest_functions() -> Vec<(String, bool)> {
    let manifest: serde_yaml::Value = serde_yaml::from_str(include_str!("../../flowctl.yaml"))
        .expect("examples/booking/flowctl.yaml parses");
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

#[test]
fn the_registry_is_the_manifest() {
    let registry = registry();
    assert_eq!(registry.problems(), Vec::<String>::new());
    let described: Vec<(String, bool)> = registry
        .describe()
        .functions
        .into_iter()
        .map(|f| (f.name, f.properties.idempotent))
        .collect();
    assert_eq!(described, manifest_functions());
}
