//! The steps of a trip and their compensations. Stand-ins for real booking and payment
//! services: nothing is stored, and every answer follows from the input, so that sample
//! inputs can make the flow take each of its paths (the rules are in the project's README).

use flowctl_shim::Error;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What `BookFlight` is asked for.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FlightRequest {
    /// The trip's id.
    pub trip: String,
    pub from: String,
    pub to: String,
}

/// A held seat, which `CancelFlight` takes back as it is.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Flight {
    pub trip: String,
    pub from: String,
    pub to: String,
    /// What the airline calls this booking.
    pub reference: String,
}

/// What a cancellation answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Cancelled {
    pub reference: String,
    pub cancelled: bool,
}

/// Holds a seat; no flight goes to `Atlantis`, and a trip id with `busy` in it finds the
/// airline too busy every time (`ServiceUnavailable`, which the flow retries).
pub async fn book_flight(request: FlightRequest) -> Result<Flight, Error> {
    if request.trip.is_empty() {
        return Err(Error::new("InvalidTrip", "a trip needs an id"));
    }
    if request.trip.contains("busy") {
        return Err(Error::new(
            "ServiceUnavailable",
            "the airline is not answering; try again later",
        ));
    }
    if request.to.eq_ignore_ascii_case("atlantis") {
        return Err(Error::new(
            "NoSeats",
            format!("no flight from {} to {}", request.from, request.to),
        ));
    }
    Ok(Flight {
        reference: format!("FL-{}", request.trip),
        trip: request.trip,
        from: request.from,
        to: request.to,
    })
}

/// Gives the seat back.
pub async fn cancel_flight(flight: Flight) -> Result<Cancelled, Error> {
    Ok(Cancelled {
        reference: flight.reference,
        cancelled: true,
    })
}

/// What `BookHotel` is asked for.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HotelRequest {
    pub trip: String,
    pub city: String,
    pub nights: u32,
}

/// A held room, which `CancelHotel` takes back as it is.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Hotel {
    pub trip: String,
    pub city: String,
    pub nights: u32,
    /// What the hotel calls this booking.
    pub reference: String,
}

/// The longest stay a hotel takes.
const MAX_NIGHTS: u32 = 14;

/// Holds a room; no hotel takes a stay of more than 14 nights (`NoRooms`).
pub async fn book_hotel(request: HotelRequest) -> Result<Hotel, Error> {
    if request.nights == 0 {
        return Err(Error::new("InvalidStay", "a stay has at least one night"));
    }
    if request.nights > MAX_NIGHTS {
        return Err(Error::new(
            "NoRooms",
            format!(
                "no room in {} for {} nights (at most {MAX_NIGHTS})",
                request.city, request.nights
            ),
        ));
    }
    Ok(Hotel {
        reference: format!("HT-{}", request.trip),
        trip: request.trip,
        city: request.city,
        nights: request.nights,
    })
}

/// Gives the room back.
pub async fn cancel_hotel(hotel: Hotel) -> Result<Cancelled, Error> {
    Ok(Cancelled {
        reference: hotel.reference,
        cancelled: true,
    })
}

/// What `ChargeCard` is asked for.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Charge {
    pub trip: String,
    pub amount: f64,
}

/// A payment taken.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Payment {
    pub trip: String,
    pub amount: f64,
    /// From the `CURRENCY` environment variable (the manifest's `env`), EUR without it.
    pub currency: String,
    pub transaction: String,
}

/// The most a card pays.
const CARD_LIMIT: f64 = 5000.0;

/// Takes the money; declines over 5,000 (`PaymentDeclined`), and times out every time for a
/// trip id with `flaky` in it (`PaymentGatewayTimeout`, which the flow retries).
pub async fn charge_card(charge: Charge) -> Result<Payment, Error> {
    if charge.trip.contains("flaky") {
        return Err(Error::new(
            "PaymentGatewayTimeout",
            "the payment gateway did not answer in time",
        ));
    }
    if charge.amount <= 0.0 {
        return Err(Error::new(
            "InvalidAmount",
            format!("cannot charge {:.2}", charge.amount),
        ));
    }
    if charge.amount > CARD_LIMIT {
        return Err(Error::new(
            "PaymentDeclined",
            format!(
                "card refused: {:.2} is over the limit of {CARD_LIMIT:.0}",
                charge.amount
            ),
        ));
    }
    let cents = (charge.amount * 100.0).round() as u64;
    Ok(Payment {
        transaction: format!("TX-{}-{cents}", charge.trip),
        currency: std::env::var("CURRENCY").unwrap_or_else(|_| "EUR".to_string()),
        trip: charge.trip,
        amount: charge.amount,
    })
}

/// What `SendConfirmation` is asked for.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Confirmation {
    pub trip: String,
    pub traveller: String,
    /// The flight's reference.
    pub flight: String,
    /// The hotel's reference.
    pub hotel: String,
}

/// A message sent.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Sent {
    pub traveller: String,
    pub message: String,
}

/// Tells one traveller what was booked.
pub async fn send_confirmation(confirmation: Confirmation) -> Result<Sent, Error> {
    if confirmation.traveller.trim().is_empty() {
        return Err(Error::new("InvalidTraveller", "a traveller needs a name"));
    }
    Ok(Sent {
        message: format!(
            "{}: trip {} is booked (flight {}, hotel {})",
            confirmation.traveller, confirmation.trip, confirmation.flight, confirmation.hotel
        ),
        traveller: confirmation.traveller,
    })
}
