//! The example flows end to end, across the compiler and the engine: `examples/booking/flows/*.flow` parsed, checked, compiled to
//! ASL, their unit placeholders resolved to plain names, and run here with in-process
//! functions standing in for the Lambda units.

use flowctl_engine::{
    execute, load, EventKind, ExecutionOptions, InProcess, StateMachine, Status, TaskError,
};
use flowctl_lang::asl::{compile, resolve_units, CompileOptions};
use flowctl_lang::flow::KnownFunctions;
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

/// The flow's ASL, with each `${unit:NAME}` replaced by `NAME` (one unit per function, so the
/// names are the function keys and payloads are not wrapped).
fn compiled(source: &str, path: &str) -> StateMachine {
    let (_, flow, diags) =
        flowctl_lang::flow::parse_and_check(source, &KnownFunctions::new("booking", FUNCTIONS));
    assert!(diags.is_empty(), "{diags:#?}");
    let flow = flow.expect("checked");
    let opts = CompileOptions::one_unit_per_function(FUNCTIONS.map(String::from), path);
    let doc = compile(&flow, &opts).unwrap_or_else(|d| panic!("{d:#?}"));
    let doc = resolve_units(&doc, |unit| Some(unit.to_string())).unwrap();
    load(&doc).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn booking() -> StateMachine {
    compiled(
        include_str!("../../examples/booking/flows/booking.flow"),
        "flows/booking.flow",
    )
}

/// Calls made: (function, payload).
type CallLog = Arc<Mutex<Vec<(String, Value)>>>;

/// The hotel's functions, each logging its calls. `rooms` decides availability;
/// `payment_fails` makes every payment attempt time out at the gateway.
fn hotel(rooms: bool, payment_fails: bool) -> (InProcess, CallLog) {
    let log: CallLog = Arc::new(Mutex::new(Vec::new()));
    type Answer = fn(&Value) -> Result<Value, TaskError>;
    let pay: Answer = if payment_fails {
        |_| {
            Err(TaskError::from_lambda(
                "PaymentGatewayTimeout",
                "the gateway did not answer",
            ))
        }
    } else {
        |p| Ok(json!({"charged": p["amount"], "transaction": "t-1"}))
    };
    let reserve: Answer = if rooms {
        |p| Ok(json!({"status": "available", "id": p["id"], "room": 12}))
    } else {
        |p| Ok(json!({"status": "full", "id": p["id"]}))
    };
    let answers: [(&str, Answer); 7] = [
        ("QuoteRate", |p| {
            Ok(json!({"night": p["night"], "rate": 120}))
        }),
        ("LookupLoyalty", |_| Ok(json!({"tier": "gold"}))),
        ("ReserveAvailability", reserve),
        ("ProcessPayment", pay),
        ("ReleaseReservation", |_| Ok(json!({"released": true}))),
        ("ConfirmReservation", |_| {
            Ok(json!({"status": "confirmed", "reference": "c-1"}))
        }),
        ("NotifyGuest", |_| Ok(json!({"sent": true}))),
    ];
    let mut invoker = InProcess::new();
    for (name, answer) in answers {
        let log = log.clone();
        invoker = invoker.sync(name, move |p| {
            log.lock()
                .unwrap()
                .push((name.to_string(), Value::clone(&p)));
            answer(&p)
        });
    }
    (invoker, log)
}

/// The functions called, in order.
fn called(log: &Mutex<Vec<(String, Value)>>) -> Vec<String> {
    log.lock().unwrap().iter().map(|(f, _)| f.clone()).collect()
}

fn calls(log: &Mutex<Vec<(String, Value)>>, function: &str) -> Vec<Value> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(f, _)| f == function)
        .map(|(_, p)| p.clone())
        .collect()
}

const BOOKING_INPUT: &str = r#"{"id": "b-7", "nights": 3, "amount": 450, "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"}"#;

#[tokio::test(start_paused = true)]
async fn booking_when_a_room_is_available() {
    let (invoker, log) = hotel(true, false);
    let e = execute(
        &booking(),
        serde_json::from_str(BOOKING_INPUT).unwrap(),
        &invoker,
        &ExecutionOptions::default(),
    )
    .await;
    assert_eq!(e.status, Status::Succeeded, "{:?}", e.error);
    assert_eq!(
        *e.output.unwrap(),
        json!({
            "ok": true,
            "reservation": {"status": "available", "id": "b-7", "room": 12},
            "payment": {"charged": 450, "transaction": "t-1"},
            "confirmation": {"status": "confirmed", "reference": "c-1"},
            "rate": {"night": "2025-07-12", "rate": 120},
            "tier": {"tier": "gold"},
        })
    );
    assert_eq!(
        called(&log),
        [
            "QuoteRate",
            "LookupLoyalty",
            "ReserveAvailability",
            "ProcessPayment",
            "ConfirmReservation",
            "NotifyGuest"
        ]
    );
    assert_eq!(
        calls(&log, "QuoteRate"),
        [json!({"night": "2025-07-12", "currency": "EUR"})]
    );
    assert_eq!(calls(&log, "LookupLoyalty"), [json!({"guest": "vip-ann"})]);
    assert_eq!(
        calls(&log, "ReserveAvailability"),
        [json!({"id": "b-7", "nights": 3})]
    );
    assert_eq!(
        calls(&log, "ProcessPayment"),
        [json!({"id": "b-7", "amount": 450})]
    );
    // The confirmation takes the held room and the payment's transaction; the guest is told
    // about the confirmation.
    assert_eq!(
        calls(&log, "ConfirmReservation"),
        [json!({"id": "b-7", "room": 12, "transaction": "t-1"})]
    );
    assert_eq!(
        calls(&log, "NotifyGuest"),
        [
            json!({"guest": "vip-ann", "via": "email", "quotes": {"status": "confirmed", "reference": "c-1"}})
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn booking_when_no_room_is_available() {
    let (invoker, log) = hotel(false, false);
    let e = execute(
        &booking(),
        serde_json::from_str(BOOKING_INPUT).unwrap(),
        &invoker,
        &ExecutionOptions::default(),
    )
    .await;
    assert_eq!(e.status, Status::Failed);
    assert_eq!(
        e.error.unwrap(),
        TaskError::new("NotAvailable", "no rooms for these dates")
    );
    assert_eq!(
        called(&log),
        ["QuoteRate", "LookupLoyalty", "ReserveAvailability"]
    );
    assert_eq!(e.failed_state.as_deref(), Some("fail NotAvailable"));
}

#[tokio::test(start_paused = true)]
async fn booking_when_payment_fails_after_retries() {
    let (invoker, log) = hotel(true, true);
    let e = execute(
        &booking(),
        serde_json::from_str(BOOKING_INPUT).unwrap(),
        &invoker,
        &ExecutionOptions::default(),
    )
    .await;
    assert_eq!(e.status, Status::Failed);
    let error = e.error.clone().unwrap();
    assert_eq!(error.error, "PaymentFailed");
    // The cause is the caught error's cause: the Lambda error object as JSON text.
    assert_eq!(
        serde_json::from_str::<Value>(&error.cause).unwrap(),
        json!({"errorType": "PaymentGatewayTimeout", "errorMessage": "the gateway did not answer"})
    );
    // 1 attempt + 3 retries, 1 s, 2 s and 4 s apart on the virtual clock.
    assert_eq!(calls(&log, "ProcessPayment").len(), 4);
    let failed: Vec<_> = e
        .history
        .iter()
        .filter(|ev| ev.kind == EventKind::TaskFailed)
        .collect();
    let scheduled: Vec<_> = e
        .history
        .iter()
        .filter(|ev| {
            ev.kind == EventKind::TaskScheduled
                && ev.state.as_deref() == Some("payment = ProcessPayment")
        })
        .collect();
    assert_eq!((failed.len(), scheduled.len()), (4, 4));
    let delays: Vec<Duration> = failed
        .iter()
        .zip(&scheduled[1..])
        .map(|(f, s)| s.timestamp.duration_since(f.timestamp).unwrap())
        .collect();
    assert_eq!(delays, [1, 2, 4].map(Duration::from_secs));
    // The catch path released the reservation it had made.
    assert_eq!(
        calls(&log, "ReleaseReservation"),
        [json!({"status": "available", "id": "b-7", "room": 12})]
    );
    let entered = e.entered_states();
    assert_eq!(
        entered[entered.len() - 2..],
        ["_ = ReleaseReservation", "fail PaymentFailed"]
    );
    assert!(calls(&log, "ConfirmReservation").is_empty());
    assert!(calls(&log, "NotifyGuest").is_empty());
}

#[tokio::test(start_paused = true)]
async fn reprice_quotes_in_parallel_waits_and_notifies() {
    let machine = compiled(
        include_str!("../../examples/booking/flows/reprice.flow"),
        "flows/reprice.flow",
    );
    let notified = Arc::new(Mutex::new(Vec::new()));
    let seen = notified.clone();
    let invoker = InProcess::new()
        .sync("LookupLoyalty", |p| {
            Ok(json!({"guest": p["guest"], "tier": "gold"}))
        })
        .function("QuoteRate", |p| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(json!({"night": p["night"], "price": 100, "currency": p["currency"]}))
        })
        .sync("NotifyGuest", move |p| {
            seen.lock().unwrap().push(p);
            Ok(json!(null))
        });
    let input = json!({"guest": "g-1", "nights": ["n1", "n2", "n3", "n4", "n5", "n6", "n7"], "currency": "EUR", "delay_seconds": 30, "channel": "email"});
    let e = execute(&machine, input, &invoker, &ExecutionOptions::default()).await;
    assert_eq!(
        e.status,
        Status::Succeeded,
        "{:?} at {:?}",
        e.error,
        e.failed_state
    );
    let out = e.output.unwrap();
    assert_eq!(out["notified"], json!("email"));
    let quotes = &out["quotes"];
    assert_eq!(quotes[0], json!({"guest": "g-1", "tier": "gold"}));
    assert_eq!(quotes[1].as_array().unwrap().len(), 7);
    assert_eq!(
        quotes[1][6],
        json!({"night": "n7", "price": 100, "currency": "EUR"})
    );
    assert_eq!(notified.lock().unwrap().len(), 1);
    assert_eq!(notified.lock().unwrap()[0]["via"], json!("email"));
    // 7 quotes, at most 5 at once, 1 s each: 2 s; then the 30 s wait.
    let elapsed = e
        .history
        .last()
        .unwrap()
        .timestamp
        .duration_since(e.history[0].timestamp)
        .unwrap();
    assert_eq!(elapsed, Duration::from_secs(32));
}
