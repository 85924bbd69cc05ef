//! The booking example's functions: a hotel that reserves rooms, takes payments, confirms
//! reservations, quotes nightly rates, knows its guests' loyalty tiers and notifies them. Deterministic stand-ins,
//! driven by their input so that the example flows can be made to take every path (the rules
//! are listed in `examples/booking/README.md`). `main.rs` serves [`registry`] as a Lambda unit.

use flowctl_shim::{Error, Props, Registry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Mutex;

/// Every function of the example, with the properties the manifest declares.
pub fn registry() -> Registry {
    let props = |idempotent: bool, description: &str| Props {
        idempotent,
        description: Some(description.to_string()),
    };
    Registry::new()
        .function_with(
            "ReserveAvailability",
            reserve_availability,
            props(true, "Holds a room for the nights asked, if one is free"),
        )
        .function_with(
            "ProcessPayment",
            process_payment,
            props(false, "Charges the guest's card"),
        )
        .function_with(
            "ReleaseReservation",
            release_reservation,
            props(true, "Gives a held room back"),
        )
        .function_with(
            "ConfirmReservation",
            confirm_reservation,
            props(true, "Confirms a paid reservation and gives its reference"),
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
}

/// What `ReserveAvailability` is asked for.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Stay {
    /// The booking's id.
    pub id: String,
    /// How many nights.
    pub nights: u32,
}

/// A reservation: a held room, or none (`status` is then `unavailable`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reservation {
    pub id: String,
    pub nights: u32,
    /// `available` (a room is held) or `unavailable`.
    pub status: String,
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
            "available"
        } else {
            "unavailable"
        }
        .to_string(),
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
        released: reservation.status == "available" && reservation.room.is_some(),
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

#[cfg(test)]
mod tests;
