//! `flowctl plan` on the booking example, as a user reads it: the units, the fused chains,
//! and the happy path's savings against one Lambda per function (issue #7's targets: at
//! least 30% fewer state transitions and 40% fewer Lambda invocations).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn booking() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/booking/flowctl.yaml")
}

fn plan(args: &[&str]) -> (String, String, i32) {
    let manifest = booking();
    let out = Command::new(env!("CARGO_BIN_EXE_flowctl"))
        .arg("-m")
        .arg(&manifest)
        .arg("plan")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("flowctl runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn report() -> Value {
    let (stdout, stderr, code) = plan(&["--output", "json"]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("JSON on stdout")
}

#[test]
fn booking_units_and_fused_chains() {
    let r = report();
    let units: Vec<(String, Vec<String>)> = r["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap().to_string(),
                serde_json::from_value(u["functions"].clone()).unwrap(),
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        units,
        [
            (
                "reservations".to_string(),
                s(&[
                    "ReserveAvailability",
                    "ReleaseReservation",
                    "ConfirmReservation",
                    "QuoteRate",
                    "LookupLoyalty",
                    "NotifyGuest"
                ])
            ),
            ("ProcessPayment".to_string(), s(&["ProcessPayment"])),
        ]
    );
    let chains: Vec<Vec<String>> = r["fused_chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::from_value(c["functions"].clone()).unwrap())
        .collect();
    assert!(chains.contains(&s(&["QuoteRate", "LookupLoyalty", "ReserveAvailability"])));
    assert!(chains.contains(&s(&["ConfirmReservation", "NotifyGuest"])));
    assert!(
        !chains.iter().flatten().any(|f| f == "ProcessPayment"),
        "a function that is not idempotent never fuses"
    );
}

#[test]
fn booking_happy_path_meets_the_savings_targets() {
    let r = report();
    let booking = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == "Booking")
        .expect("the Booking flow");
    let happy: Vec<&Value> = booking["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["outcome"] == "succeeds" && p["caught"] == false)
        .collect();
    assert_eq!(happy.len(), 1, "one happy path: {booking:#}");
    let happy = happy[0];
    let n = |side: &str, what: &str| happy[side][what].as_u64().unwrap();
    let (tb, ta) = (n("before", "transitions"), n("after", "transitions"));
    let (ib, ia) = (n("before", "invocations"), n("after", "invocations"));
    // Start, 3 calls, the choice, payment, 2 calls, return → Start, 1 fused Task, the
    // choice, payment, 1 fused Task, return.
    assert_eq!((tb, ta), (9, 6));
    assert_eq!((ib, ia), (6, 3));
    assert!(ta as f64 <= 0.7 * tb as f64, "≥30% fewer transitions");
    assert!(ia as f64 <= 0.6 * ib as f64, "≥40% fewer invocations");
    let usd = |side: &str| happy[side]["usd_per_million"].as_f64().unwrap();
    assert!((usd("before") - (9.0 * 25.0 + 6.0 * 0.2)).abs() < 1e-6);
    assert!((usd("after") - (6.0 * 25.0 + 3.0 * 0.2)).abs() < 1e-6);
}

#[test]
fn prices_can_be_overridden_and_explain_says_why() {
    let (stdout, stderr, code) = plan(&[
        "--explain",
        "--transition-price",
        "0.0001",
        "--request-price",
        "0",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("`isolate: true`: never shares a Lambda"),
        "{stdout}"
    );
    assert!(
        stdout.contains("QuoteRate → LookupLoyalty: called one after the other"),
        "{stdout}"
    );
    assert!(
        stdout.contains("QuoteRate → LookupLoyalty → ReserveAvailability"),
        "{stdout}"
    );
    // 9 → 6 transitions at $0.0001 each, per million executions.
    assert!(stdout.contains("$900.00 → $600.00"), "{stdout}");

    let (_, stderr, code) = plan(&["--request-price=-1"]);
    assert_eq!(code, 2, "a bad price is a usage error");
    assert!(stderr.contains("non-negative"), "{stderr}");
}
