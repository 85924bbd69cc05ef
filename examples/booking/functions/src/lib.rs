//! The booking example's functions: a hotel that reserves rooms, takes payments, confirms
//! reservations, quotes nightly rates, knows its guests' loyalty tiers and notifies them. Deterministic stand-ins,
//! driven by their input so that the example flows can be made to take every path (the rules
//! are listed in `examples/booking/README.md`). `main.rs` serves [`registry`] as a Lambda unit.
//!
//! `TrackBooking` and `RecordKo` are the event handlers of `examples/booking-events`: they
//! take events as a subscription hands them over (`docs/events.md`), not a flow's calls.

use flowctl_shim::{Error, Props, Registry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

/// Every function of the example, with the properties the manifest declares, and the
/// Booking flow's input type.
///
/// The stores are what the functions stand for (a hotel's reservations table, its payments
/// ledger), not what these stand-ins touch: they store nothing (see the README).
pub fn registry() -> Registry {
    let props = |idempotent: bool, description: &str| Props {
        idempotent,
        description: Some(description.to_string()),
        ..Props::default()
    };
    let reservations = || vec!["reservations".to_string()];
    Registry::new()
        .function_with(
            "ReserveAvailability",
            reserve_availability,
            Props {
                // Looks for a free room, then places a hold on it.
                reads: reservations(),
                writes: reservations(),
                ..props(true, "Holds a room for the nights asked, if one is free")
            },
        )
        .function_with(
            "ProcessPayment",
            process_payment,
            Props {
                // Honest here: `process_payment` raises PaymentGatewayTimeout before it
                // charges anything (the gateway never accepted the charge), so a retry on it
                // cannot charge twice, although the function is not idempotent.
                retry_safe: vec!["PaymentGatewayTimeout".to_string()],
                writes: vec!["payments".to_string()],
                ..props(false, "Charges the guest's card")
            },
        )
        .function_with(
            "ReleaseReservation",
            release_reservation,
            Props {
                // Drops the hold it is given; it needs to look nothing up.
                writes: reservations(),
                ..props(true, "Gives a held room back")
            },
        )
        .function_with(
            "ConfirmReservation",
            confirm_reservation,
            Props {
                // Finds the held room, then marks it confirmed. The hold was placed moments
                // before (by ReserveAvailability, in the same booking), so it reads it with a
                // strongly consistent read: an eventual one could miss it and refuse a good
                // booking.
                reads: reservations(),
                writes: reservations(),
                consistent_reads: reservations(),
                ..props(true, "Confirms a paid reservation and gives its reference")
            },
        )
        .function_with(
            "QuoteRate",
            quote_rate,
            props(true, "The price of one night in a currency"),
        )
        .function_with(
            "LookupLoyalty",
            lookup_loyalty,
            props(true, "A guest's loyalty tier and discount"),
        )
        .function_with(
            "NotifyGuest",
            notify_guest,
            props(true, "Sends the guest a message by email or SMS"),
        )
        .function_with(
            "TrackBooking",
            track_booking,
            props(
                true,
                "Keeps a booking's ledger: the events seen, the last payment and room status",
            ),
        )
        .function_with(
            "RecordKo",
            record_ko,
            props(
                true,
                "Describes a booking event that failed for good (a KO)",
            ),
        )
        .named_type::<BookingRequest>()
}

/// What the Booking flow is started with (`flow Booking(input: BookingRequest)`): one
/// booking, its guest, its first night and its payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BookingRequest {
    /// The booking's id. A room is held unless it starts with `full`; the payment gateway
    /// times out on every attempt when it contains `flaky`, on the first when `wobbly`.
    pub id: String,
    /// Who books: their loyalty tier is looked up (`vip…` gold, `member…` silver, else
    /// bronze) and they are emailed the confirmation. Not empty.
    pub guest: String,
    /// The first night, `YYYY-MM-DD`, whose rate is quoted.
    pub arrival: String,
    /// The currency of the quote and the payment: `EUR`, `USD` or `GBP`.
    pub currency: String,
    /// How many nights to hold a room for; 0 holds none (the booking is not available).
    pub nights: u32,
    /// What to charge, in `currency`: above 0, at most 1000 (above is declined).
    pub amount: f64,
}

/// What `ReserveAvailability` is asked for.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Stay {
    /// The booking's id.
    pub id: String,
    /// How many nights.
    pub nights: u32,
}

/// Whether a room is held: `available` (one is) or `unavailable` (none is), in JSON.
// The variants carry no doc comment, so that the JSON Schema is one `enum` of the two
// strings (schemars writes documented variants as a `oneOf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    Available,
    Unavailable,
}

/// A reservation: a held room, or none (`status` is then `unavailable`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reservation {
    pub id: String,
    pub nights: u32,
    /// `available` (a room is held) or `unavailable`.
    pub status: Availability,
    /// The held room's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<u32>,
    /// The hold to release if the booking does not go through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
}

/// A room is free unless the stay has no night or the id starts with `full`.
pub async fn reserve_availability(stay: Stay) -> Result<Reservation, Error> {
    if stay.id.is_empty() {
        return Err(Error::new("InvalidBooking", "a booking needs an id"));
    }
    let available = stay.nights > 0 && !stay.id.starts_with("full");
    Ok(Reservation {
        status: if available {
            Availability::Available
        } else {
            Availability::Unavailable
        },
        room: available.then(|| room_for(&stay.id)),
        hold: available.then(|| format!("hold-{}", stay.id)),
        id: stay.id,
        nights: stay.nights,
    })
}

/// Rooms 100 to 149, chosen by the booking id.
fn room_for(id: &str) -> u32 {
    100 + id.bytes().map(u32::from).sum::<u32>() % 50
}

/// What `ProcessPayment` is asked to charge.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Charge {
    pub id: String,
    /// In the booking's currency; at most 1000.
    pub amount: f64,
}

/// A successful charge.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Receipt {
    pub id: String,
    pub amount: f64,
    /// Always `charged`.
    pub status: String,
    pub transaction: String,
}

/// Booking ids (with `wobbly`) whose first attempt has already timed out in this process.
static WOBBLED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Fails with `PaymentGatewayTimeout` when the id contains `flaky` (every attempt) or
/// `wobbly` (the first attempt per id in this process), `PaymentDeclined` above 1000,
/// `InvalidAmount` at 0 or below; charges otherwise.
pub async fn process_payment(charge: Charge) -> Result<Receipt, Error> {
    if charge.id.contains("flaky") {
        return Err(Error::new(
            "PaymentGatewayTimeout",
            "the payment gateway did not answer in time",
        ));
    }
    if charge.id.contains("wobbly") && first_attempt(&charge.id) {
        return Err(Error::new(
            "PaymentGatewayTimeout",
            "the payment gateway did not answer in time (first attempt)",
        ));
    }
    if !charge.amount.is_finite() || charge.amount <= 0.0 {
        return Err(Error::new(
            "InvalidAmount",
            format!("cannot charge {}", charge.amount),
        ));
    }
    if charge.amount > 1000.0 {
        return Err(Error::new(
            "PaymentDeclined",
            format!(
                "card refused: {:.2} is over the limit of 1000",
                charge.amount
            ),
        ));
    }
    let cents = (charge.amount * 100.0).round() as u64;
    Ok(Receipt {
        transaction: format!("txn-{}-{cents}", charge.id),
        id: charge.id,
        amount: charge.amount,
        status: "charged".to_string(),
    })
}

/// True the first time an id is seen by this process.
fn first_attempt(id: &str) -> bool {
    let mut seen = WOBBLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    seen.get_or_insert_with(HashSet::new).insert(id.to_string())
}

/// What `ReleaseReservation` answers.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Release {
    pub id: String,
    /// Whether a room was held (and is now free again).
    pub released: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<u32>,
}

/// Takes a reservation as `ReserveAvailability` returned it; releasing one that holds no
/// room is not an error (releasing is idempotent).
pub async fn release_reservation(reservation: Reservation) -> Result<Release, Error> {
    Ok(Release {
        released: reservation.status == Availability::Available && reservation.room.is_some(),
        room: reservation.room,
        id: reservation.id,
    })
}

/// What `ConfirmReservation` is asked for: the booking, its held room and the payment's
/// transaction.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct PaidReservation {
    pub id: String,
    /// The held room; a booking without one cannot be confirmed.
    #[serde(default)]
    pub room: Option<u32>,
    /// The transaction `ProcessPayment` answered.
    pub transaction: String,
}

/// A confirmed booking.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Confirmation {
    pub id: String,
    pub room: u32,
    pub transaction: String,
    /// Always `confirmed`.
    pub status: String,
    /// `conf-<id>`: the same booking always gets the same reference.
    pub reference: String,
}

/// Confirms a booking. The reference is derived from the id alone, so confirming twice (a
/// retry, a re-run chain) answers the same confirmation: the function is idempotent. An
/// empty id or a missing room is `InvalidBooking`.
pub async fn confirm_reservation(paid: PaidReservation) -> Result<Confirmation, Error> {
    if paid.id.is_empty() {
        return Err(Error::new("InvalidBooking", "a booking needs an id"));
    }
    let Some(room) = paid.room else {
        return Err(Error::new(
            "InvalidBooking",
            format!("booking `{}` holds no room to confirm", paid.id),
        ));
    };
    Ok(Confirmation {
        reference: format!("conf-{}", paid.id),
        id: paid.id,
        room,
        transaction: paid.transaction,
        status: "confirmed".to_string(),
    })
}

/// What `QuoteRate` is asked for.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct NightQuery {
    /// The night, `YYYY-MM-DD`.
    pub night: String,
    /// `EUR`, `USD` or `GBP`.
    pub currency: String,
}

/// One night's price.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Quote {
    pub night: String,
    pub currency: String,
    pub rate: f64,
}

/// 100 EUR, plus 10 for each step of the day of the month modulo 5, converted at fixed rates
/// (USD 1.1, GBP 0.85). An unknown currency is `UnsupportedCurrency`, a malformed night
/// `InvalidNight`.
pub async fn quote_rate(query: NightQuery) -> Result<Quote, Error> {
    let day = day_of_month(&query.night).ok_or_else(|| {
        Error::new(
            "InvalidNight",
            format!("`{}` is not a date like 2025-07-14", query.night),
        )
    })?;
    let factor = match query.currency.as_str() {
        "EUR" => 1.0,
        "USD" => 1.1,
        "GBP" => 0.85,
        other => {
            return Err(Error::new(
                "UnsupportedCurrency",
                format!("no rates in `{other}` (EUR, USD, GBP)"),
            ))
        }
    };
    let euros = 100.0 + 10.0 * f64::from(day % 5);
    Ok(Quote {
        rate: (euros * factor * 100.0).round() / 100.0,
        night: query.night,
        currency: query.currency,
    })
}

/// The day of a `YYYY-MM-DD` date, if it is one (months of 31 days are good enough here).
fn day_of_month(date: &str) -> Option<u32> {
    let parts: Vec<&str> = date.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return None;
    };
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return None;
    }
    let month: u32 = month.parse().ok()?;
    let day: u32 = day.parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(day)
}

/// Whose tier `LookupLoyalty` is asked for.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Guest {
    pub guest: String,
}

/// A guest's loyalty standing.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Loyalty {
    pub guest: String,
    /// `gold`, `silver` or `bronze`.
    pub tier: String,
    /// The share taken off rates, 0 to 1.
    pub discount: f64,
}

/// `vip…` guests are gold (15 % off), `member…` silver (5 %), others bronze; an empty name is
/// `GuestNotFound`.
pub async fn lookup_loyalty(guest: Guest) -> Result<Loyalty, Error> {
    if guest.guest.is_empty() {
        return Err(Error::new("GuestNotFound", "no guest has an empty name"));
    }
    let (tier, discount) = if guest.guest.starts_with("vip") {
        ("gold", 0.15)
    } else if guest.guest.starts_with("member") {
        ("silver", 0.05)
    } else {
        ("bronze", 0.0)
    };
    Ok(Loyalty {
        guest: guest.guest,
        tier: tier.to_string(),
        discount,
    })
}

/// What `NotifyGuest` is asked to send.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Notice {
    pub guest: String,
    /// `email` or `sms`.
    pub via: String,
    /// What the message is about (any JSON): the Reprice flow sends its quotes, the Booking
    /// flow its confirmation.
    #[serde(default)]
    pub quotes: Value,
}

/// A sent message.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Sent {
    pub guest: String,
    pub via: String,
    pub sent: bool,
    pub message: String,
}

/// Sends by `email` or `sms` (anything else is `UnsupportedChannel`); an empty guest is
/// `GuestNotFound`. The message names the booking when `quotes` is a confirmation (as
/// `ConfirmReservation` answers it), else it is about updated rates.
pub async fn notify_guest(notice: Notice) -> Result<Sent, Error> {
    if notice.guest.is_empty() {
        return Err(Error::new("GuestNotFound", "no guest has an empty name"));
    }
    if notice.via != "email" && notice.via != "sms" {
        return Err(Error::new(
            "UnsupportedChannel",
            format!("cannot send by `{}` (email, sms)", notice.via),
        ));
    }
    let message = match confirmed_booking(&notice.quotes) {
        Some((reference, room)) => format!(
            "Dear {}, your booking {reference} is confirmed: room {room}.",
            notice.guest
        ),
        None => format!(
            "Dear {}, your nightly rates have been updated.",
            notice.guest
        ),
    };
    Ok(Sent {
        message,
        guest: notice.guest,
        via: notice.via,
        sent: true,
    })
}

/// The reference and room of a confirmation, if `about` is one.
fn confirmed_booking(about: &Value) -> Option<(&str, u64)> {
    if about["status"] != "confirmed" {
        return None;
    }
    Some((about["reference"].as_str()?, about["room"].as_u64()?))
}

/// An event as a subscription hands it to its flow or function (`docs/events.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event<Data = Value> {
    /// The source's name, or `ko:<subscription>` for a KO event.
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Unique within the source.
    pub id: String,
    /// The ordering key: here, the booking's id.
    pub key: String,
    /// The log's sequence number.
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub accepted_at: String,
    /// The payload, as the source received it.
    pub data: Data,
}

/// What a subscription with `state: true` hands `TrackBooking`: the event and the booking's
/// ledger so far (`null` for its first event).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Tracked {
    pub event: Event,
    #[serde(default)]
    pub state: Option<Ledger>,
}

/// One booking's ledger, the per-key state of the `ledger` subscription.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Ledger {
    /// The booking's id (the events' key).
    pub booking: String,
    /// How many distinct events were seen.
    pub events: u32,
    /// Of those, how many came from each source.
    pub by_source: BTreeMap<String, u32>,
    /// `source/id` of every event seen, in order (a replayed event is not counted twice).
    pub seen: Vec<String>,
    /// The guest of the last booking request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<String>,
    /// The type of the last payment event (`payment.captured`, `payment.refunded`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<String>,
    /// The last room change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<RoomStatus>,
    /// The error of the last KO of this booking's request (`ko:book` events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// A room change as the `booking_room_changes` outbox rows carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoomStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<u32>,
    /// `assigned`, `changed`, `cleaned`, … as the row says (`changed` when it says nothing).
    pub status: String,
}

/// What `TrackBooking` answers: the new ledger as the subscription's `state`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Tracking {
    pub state: Ledger,
    /// True when the event had been seen already (the ledger is unchanged).
    pub duplicate: bool,
}

/// Adds an event to its booking's ledger: counts it (once per `source/id`, so a replay
/// changes nothing) and keeps, by the event's type, the guest of a `booking.requested`, the
/// type of a `payment.*`, the room and status of a `room.changed`, the error of a `ko`.
/// An event without a key is `NoBookingKey`; a ledger of another booking `WrongBooking`.
pub async fn track_booking(tracked: Tracked) -> Result<Tracking, Error> {
    let Tracked { event, state } = tracked;
    if event.key.is_empty() {
        return Err(Error::new(
            "NoBookingKey",
            format!(
                "event {}/{} has no key: its source must key events by booking id",
                event.source, event.id
            ),
        ));
    }
    let mut ledger = state.unwrap_or_else(|| Ledger {
        booking: event.key.clone(),
        ..Ledger::default()
    });
    if ledger.booking != event.key {
        return Err(Error::new(
            "WrongBooking",
            format!(
                "event {}/{} is about booking `{}`, the ledger about `{}`",
                event.source, event.id, event.key, ledger.booking
            ),
        ));
    }
    let seen = format!("{}/{}", event.source, event.id);
    if ledger.seen.contains(&seen) {
        return Ok(Tracking {
            state: ledger,
            duplicate: true,
        });
    }
    ledger.events += 1;
    *ledger.by_source.entry(event.source.clone()).or_default() += 1;
    ledger.seen.push(seen);
    let text = |field: &str| event.data[field].as_str().map(str::to_string);
    match event.event_type.as_str() {
        "booking.requested" => ledger.guest = text("guest").or(ledger.guest),
        "room.changed" => {
            ledger.room = Some(RoomStatus {
                room: event.data["room"]
                    .as_u64()
                    .and_then(|r| u32::try_from(r).ok()),
                status: text("status").unwrap_or_else(|| "changed".to_string()),
            })
        }
        "ko" => ledger.failed = text("error"),
        payment if payment.starts_with("payment.") => ledger.payment = Some(payment.to_string()),
        _ => {}
    }
    Ok(Tracking {
        state: ledger,
        duplicate: false,
    })
}

/// What a KO event carries (`docs/events.md`): the event that failed, how, how often, where.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Ko {
    /// The event whose delivery failed for good.
    pub event: Event,
    pub error: String,
    #[serde(default)]
    pub cause: String,
    pub attempts: u32,
    /// The subscription whose retries ran out.
    pub subscription: String,
}

/// What `RecordKo` answers: the failure, for the log and whoever reads it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct KoRecord {
    pub booking: String,
    pub subscription: String,
    /// `source/id` of the event that failed.
    pub event: String,
    pub error: String,
    pub cause: String,
    pub attempts: u32,
    /// One line for a person: what failed and what to do.
    pub note: String,
}

/// Describes a KO event (the `ko` handler of the `book` subscription). Anything but a KO
/// event is `InvalidInput` (the shim's answer to input of the wrong shape); a KO without an
/// error name is `NotAKoEvent`.
pub async fn record_ko(ko: Event<Ko>) -> Result<KoRecord, Error> {
    let Event { key, data, .. } = ko;
    if data.error.is_empty() {
        return Err(Error::new(
            "NotAKoEvent",
            "a KO event names the error its event failed with",
        ));
    }
    let failed = format!("{}/{}", data.event.source, data.event.id);
    let note = format!(
        "booking {key}: {failed} failed in `{sub}` with {} after {} attempt(s); \
         if `{sub}` parks, `flowctl events release {sub} {key}` runs it again \
         and `--skip` goes on with the booking's next event",
        data.error,
        data.attempts,
        sub = data.subscription,
    );
    Ok(KoRecord {
        booking: key,
        subscription: data.subscription,
        event: failed,
        error: data.error,
        cause: data.cause,
        attempts: data.attempts,
        note,
    })
}

#[cfg(test)]
mod tests;
