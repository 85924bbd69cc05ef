//! What the crate's tests share: the booking example's functions and its Booking flow compiled
//! (placeholders resolved to unit names, as the CLI runs it).

use flowctl_lang::asl::{self, CompileOptions};
use flowctl_lang::flow::{self, KnownFunctions};
use serde_json::Value;

/// The booking example's functions, in manifest order.
pub const BOOKING_FUNCTIONS: [&str; 7] = [
    "ReserveAvailability",
    "ProcessPayment",
    "ReleaseReservation",
    "ConfirmReservation",
    "QuoteRate",
    "LookupLoyalty",
    "NotifyGuest",
];

pub fn booking_functions() -> Vec<String> {
    BOOKING_FUNCTIONS.map(String::from).to_vec()
}

/// examples/booking/flows/booking.flow compiled with `options`, `${unit:…}` resolved to the
/// unit names.
pub fn booking_with(options: &CompileOptions) -> Value {
    let source = include_str!("../../../examples/booking/flows/booking.flow");
    let known = KnownFunctions::new("booking", BOOKING_FUNCTIONS);
    let (_, ir, diagnostics) = flow::parse_and_check(source, &known);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let doc = asl::compile(&ir.expect("the booking flow checks"), options).expect("it compiles");
    asl::resolve_units(&doc, |unit| Some(unit.to_string())).expect("units resolve")
}

/// The booking flow as `flowctl compile --no-fuse` would write it with one unit per function.
pub fn booking() -> Value {
    booking_with(&CompileOptions::one_unit_per_function(
        booking_functions(),
        "flows/booking.flow",
    ))
}
