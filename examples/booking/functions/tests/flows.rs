//! The example's flows, compiled by flowctl, run on flowctl's engine against these functions:
//! in-process (through the shim's envelope dispatch, on a paused clock so retries take no
//! time), and as the real unit binary served through flowctl's Lambda Runtime API emulator
//! (one shared unit hosting all seven functions, so every call is an envelope). Each path the
//! README documents is taken here.

use flowctl::local::{LocalOptions, LocalProcesses, UnitConfig};
use flowctl_engine::{
    execute, load, BoxFuture, ExecutionOptions, Invoker, StateMachine, Status, TaskError,
};
use flowctl_lang::asl::{compile, resolve_units, CompileOptions};
use flowctl_lang::flow::{check, parse, KnownFunctions};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FUNCTIONS: [&str; 7] = [
    "ReserveAvailability",
    "ProcessPayment",
    "ReleaseReservation",
    "ConfirmReservation",
    "QuoteRate",
    "LookupLoyalty",
    "NotifyGuest",
];

fn compiled(source: &str, path: &str) -> StateMachine {
    let (file, diags) = parse(source);
    assert!(diags.is_empty(), "{diags:#?}");
    let (flow, diags) = check(&file.unwrap(), &KnownFunctions::new("booking", FUNCTIONS));
    assert!(diags.is_empty(), "{diags:#?}");
    let opts = CompileOptions::one_unit_per_function(FUNCTIONS.map(String::from), path);
    let doc = compile(&flow.unwrap(), &opts).unwrap_or_else(|d| panic!("{d:#?}"));
    let doc = resolve_units(&doc, |unit| Some(unit.to_string())).unwrap();
    load(&doc).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn booking() -> StateMachine {
    compiled(
        include_str!("../../flows/booking.flow"),
        "flows/booking.flow",
    )
}

fn reprice() -> StateMachine {
    compiled(
        include_str!("../../flows/reprice.flow"),
        "flows/reprice.flow",
    )
}

/// The registry behind the engine: each call is wrapped in the shared-unit envelope and
/// dispatched by the shim; failures reach the flow as Lambda errors do. Calls are logged.
struct Hotel {
    registry: flowctl_shim::Registry,
    calls: Mutex<Vec<String>>,
}

impl Hotel {
    fn new() -> Hotel {
        Hotel {
            registry: booking_functions::registry(),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self, function: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|f| *f == function)
            .count()
    }

    /// Every call, in order.
    fn log(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Invoker for Hotel {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        self.calls.lock().unwrap().push(function.to_string());
        Box::pin(async move {
            // The registry takes its envelope by value: the payload is copied only if the
            // engine's history still holds it.
            let payload = Arc::unwrap_or_clone(payload);
            self.registry
                .handle(json!({"function": function, "payload": payload}))
                .await
                .map(Arc::new)
                .map_err(|e| TaskError::from_lambda(e.name(), e.message()))
        })
    }
}

async fn run(
    machine: &StateMachine,
    input: Value,
    invoker: &dyn Invoker,
) -> flowctl_engine::Execution {
    let options = ExecutionOptions {
        virtual_time: true,
        ..ExecutionOptions::default()
    };
    execute(machine, input, invoker, &options).await
}

/// A Booking input: the README's sample guest, arriving on 2025-07-12, paying in euros.
fn booking_input(id: &str, nights: u32, amount: u32) -> Value {
    json!({"id": id, "nights": nights, "amount": amount, "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"})
}

#[tokio::test(start_paused = true)]
async fn booking_succeeds() {
    let hotel = Hotel::new();
    let e = run(&booking(), booking_input("b-100", 2, 240), &hotel).await;
    assert_eq!(e.status, Status::Succeeded, "{:?}", e.error);
    assert_eq!(
        *e.output.unwrap(),
        json!({
            "ok": true,
            "reservation": {"id": "b-100", "nights": 2, "status": "available", "room": 138, "hold": "hold-b-100"},
            "payment": {"id": "b-100", "amount": 240.0, "status": "charged", "transaction": "txn-b-100-24000"},
            "confirmation": {"id": "b-100", "room": 138, "transaction": "txn-b-100-24000", "status": "confirmed", "reference": "conf-b-100"},
            "rate": {"night": "2025-07-12", "currency": "EUR", "rate": 120.0},
            "tier": {"guest": "vip-ann", "tier": "gold", "discount": 0.15},
        })
    );
    assert_eq!(
        hotel.log(),
        [
            "QuoteRate",
            "LookupLoyalty",
            "ReserveAvailability",
            "ProcessPayment",
            "ConfirmReservation",
            "NotifyGuest",
        ],
        "each function once, in the flow's order"
    );
}

#[tokio::test(start_paused = true)]
async fn booking_without_a_room_fails_not_available() {
    for input in [
        booking_input("b-101", 0, 100),
        booking_input("full-102", 3, 300),
    ] {
        let hotel = Hotel::new();
        let e = run(&booking(), input, &hotel).await;
        assert_eq!(e.status, Status::Failed);
        assert_eq!(
            e.error.unwrap(),
            TaskError::new("NotAvailable", "no rooms for these dates")
        );
        assert_eq!(
            hotel.log(),
            ["QuoteRate", "LookupLoyalty", "ReserveAvailability"],
            "no payment, no confirmation, no message"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_declined_payment_releases_the_room() {
    let hotel = Hotel::new();
    let e = run(&booking(), booking_input("b-103", 2, 5000), &hotel).await;
    assert_eq!(e.status, Status::Failed);
    let error = e.error.unwrap();
    assert_eq!(error.error, "PaymentFailed");
    let cause: Value = serde_json::from_str(&error.cause).unwrap();
    assert_eq!(
        cause,
        json!({"errorType": "PaymentDeclined", "errorMessage": "card refused: 5000.00 is over the limit of 1000"})
    );
    assert_eq!(hotel.calls("ProcessPayment"), 1, "declines are not retried");
    assert_eq!(hotel.calls("ReleaseReservation"), 1);
    assert_eq!(hotel.calls("ConfirmReservation"), 0);
    assert_eq!(hotel.calls("NotifyGuest"), 0, "the guest is not told");
}

#[tokio::test(start_paused = true)]
async fn an_invalid_amount_releases_the_room() {
    let hotel = Hotel::new();
    let e = run(&booking(), booking_input("b-106", 2, 0), &hotel).await;
    let error = e.error.unwrap();
    assert_eq!(error.error, "PaymentFailed");
    assert!(error.cause.contains("InvalidAmount"), "{}", error.cause);
    assert_eq!(hotel.calls("ReleaseReservation"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_gateway_that_keeps_timing_out_is_retried_then_caught() {
    let hotel = Hotel::new();
    let e = run(&booking(), booking_input("flaky-104", 1, 80), &hotel).await;
    assert_eq!(e.status, Status::Failed);
    let error = e.error.unwrap();
    assert_eq!(error.error, "PaymentFailed");
    assert!(
        error.cause.contains("PaymentGatewayTimeout"),
        "{}",
        error.cause
    );
    assert_eq!(
        hotel.calls("ProcessPayment"),
        4,
        "the first attempt and 3 retries"
    );
    assert_eq!(hotel.calls("ReleaseReservation"), 1);
    assert_eq!(hotel.calls("ConfirmReservation"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_gateway_that_times_out_once_is_retried_into_success() {
    let hotel = Hotel::new();
    let e = run(&booking(), booking_input("wobbly-105", 1, 80), &hotel).await;
    assert_eq!(e.status, Status::Succeeded, "{:?}", e.error);
    let output = e.output.unwrap();
    assert_eq!(output["payment"]["transaction"], "txn-wobbly-105-8000");
    assert_eq!(output["confirmation"]["reference"], "conf-wobbly-105");
    assert_eq!(hotel.calls("ProcessPayment"), 2);
    assert_eq!(hotel.calls("ReleaseReservation"), 0);
    assert_eq!(hotel.calls("ConfirmReservation"), 1);
    assert_eq!(hotel.calls("NotifyGuest"), 1);
}

const NIGHTS: [&str; 2] = ["2025-07-10", "2025-07-11"];

fn reprice_input(guest: &str, currency: &str, channel: &str, delay: u64) -> Value {
    json!({"guest": guest, "nights": NIGHTS, "currency": currency, "delay_seconds": delay, "channel": channel})
}

#[tokio::test(start_paused = true)]
async fn reprice_notifies_by_email_or_sms_or_not_at_all() {
    let expected_quotes = json!([
        {"guest": "vip-ann", "tier": "gold", "discount": 0.15},
        [
            {"night": "2025-07-10", "currency": "EUR", "rate": 100.0},
            {"night": "2025-07-11", "currency": "EUR", "rate": 110.0},
        ],
    ]);
    for (channel, delay, notified, notifications) in [
        ("email", 0, "email", 1),
        ("sms", 30, "sms", 1),
        ("post", 0, "none", 0),
    ] {
        let hotel = Hotel::new();
        let e = run(
            &reprice(),
            reprice_input("vip-ann", "EUR", channel, delay),
            &hotel,
        )
        .await;
        assert_eq!(e.status, Status::Succeeded, "{channel}: {:?}", e.error);
        assert_eq!(
            *e.output.unwrap(),
            json!({"notified": notified, "quotes": expected_quotes}),
            "{channel}"
        );
        assert_eq!(hotel.calls("QuoteRate"), 2);
        assert_eq!(hotel.calls("NotifyGuest"), notifications, "{channel}");
    }
}

#[tokio::test(start_paused = true)]
async fn reprice_fails_with_the_functions_own_error() {
    let hotel = Hotel::new();
    let e = run(
        &reprice(),
        reprice_input("vip-ann", "JPY", "email", 0),
        &hotel,
    )
    .await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.error.unwrap().error, "UnsupportedCurrency");

    let e = run(&reprice(), reprice_input("", "EUR", "email", 0), &hotel).await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.error.unwrap().error, "GuestNotFound");
}

/// The built binary as one shared unit hosting every function, served through the emulator:
/// the compiler's envelope, the real `lambda_runtime`, the shim's dispatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unit_binary_runs_the_flows() {
    let unit = UnitConfig::new("booking", env!("CARGO_BIN_EXE_booking-functions"))
        .functions(FUNCTIONS)
        .env("FLOWCTL_FUNCTIONS", FUNCTIONS.join(","))
        .timeout(Duration::from_secs(10));
    let processes = LocalProcesses::with_options(LocalOptions {
        forward_output: false,
        ..LocalOptions::default()
    })
    .unit(unit);

    let e = run(&booking(), booking_input("b-100", 2, 240), &processes).await;
    assert_eq!(e.status, Status::Succeeded, "{:?}", e.error);
    let output = e.output.unwrap();
    assert_eq!(output["payment"]["transaction"], "txn-b-100-24000");
    assert_eq!(output["confirmation"]["reference"], "conf-b-100");
    assert_eq!(output["rate"]["rate"], 120.0);
    assert_eq!(output["tier"]["tier"], "gold");

    let e = run(&booking(), booking_input("b-103", 2, 5000), &processes).await;
    assert_eq!(e.status, Status::Failed);
    let error = e.error.unwrap();
    assert_eq!(error.error, "PaymentFailed");
    assert!(error.cause.contains("PaymentDeclined"), "{}", error.cause);

    let e = run(
        &reprice(),
        reprice_input("member-bo", "USD", "sms", 0),
        &processes,
    )
    .await;
    assert_eq!(e.status, Status::Succeeded, "{:?}", e.error);
    let output = e.output.unwrap();
    assert_eq!(output["notified"], "sms");
    assert_eq!(output["quotes"][0]["tier"], "silver");
    assert_eq!(output["quotes"][1][1]["rate"], 121.0);

    // A fused chain (what the colocation planner will send), addressed to the unit itself.
    let fused = processes
        .invoke(
            "booking",
            Arc::new(json!({
                "chain": [
                    {"function": "LookupLoyalty", "payload": {"guest": {"$var": ["input", "guest"]}}, "bind": "tier"},
                    {"function": "QuoteRate", "payload": {"night": {"$var": ["input", "nights", 0]}, "currency": "GBP"}, "bind": "rate"},
                    {"function": "NotifyGuest", "payload": {"guest": {"$var": ["tier", "guest"]}, "via": "email", "quotes": [{"$var": "tier"}, {"$var": "rate"}]}, "bind": "sent"},
                ],
                "vars": {"input": {"guest": "vip-ann", "nights": ["2025-07-12"]}},
            })),
        )
        .await
        .unwrap();
    assert_eq!(fused["complete"], true);
    assert_eq!(fused["results"]["tier"]["tier"], "gold");
    assert_eq!(fused["results"]["rate"]["rate"], 102.0);
    assert_eq!(fused["results"]["sent"]["sent"], true);

    processes.shutdown().await;
}
