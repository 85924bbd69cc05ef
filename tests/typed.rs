//! Typed flows end to end on the booking example: `check` is untyped (and says so) until a
//! build has described the functions; after it, a typo in a result field fails `check` with
//! the near field named, and `invoke` refuses an input that does not fit the flow's declared
//! type before anything runs. The functions are built in release into the workspace's
//! target directory, shared with tests/build.rs and tests/deploy.rs (cargo builds them once).

use flowctl_tests::{booking_copy, flowctl_bin, target_dir};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const PROJECT: &str = "booking-typed";

fn flowctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(flowctl_bin())
        .args(["-m", dir.to_str().unwrap(), "--color", "never"])
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("flowctl runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("flowctl exited")
}

#[test]
fn the_booking_example_is_checked_against_its_functions_types() {
    let dir = booking_copy(PROJECT);
    let _ = std::fs::remove_dir_all(target_dir().join("flowctl").join(PROJECT));

    // Before any build: checked untyped, and it says so once.
    let out = flowctl(&dir, &["check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
    assert_eq!(
        stderr.matches("without the functions' types").count(),
        1,
        "{stderr}"
    );

    let out = flowctl(&dir, &["build"]);
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let cache = target_dir()
        .join("flowctl")
        .join(PROJECT)
        .join("registry.json");
    let cache: Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    let functions = &cache["packages"]["booking-functions"]["describe"]["functions"];
    let payment = functions
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ProcessPayment")
        .unwrap();
    assert_eq!(
        payment["properties"]["retry_safe"],
        serde_json::json!(["PaymentGatewayTimeout"])
    );

    // After it: typed, and the example passes every check, warnings included.
    let out = flowctl(&dir, &["--output", "json", "--deny-warnings", "check"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(code(&out), 0, "{report:#}");
    assert_eq!(
        (report["typed"].clone(), report["warnings"].clone()),
        (Value::Bool(true), 0.into()),
        "{report:#}"
    );

    // The flow's schemas are the registry's.
    let out = flowctl(&dir, &["schema", "--flow", "Booking"]);
    let schemas: Value = serde_json::from_slice(&out.stdout).unwrap();
    let required = &schemas["input"]["definitions"]["BookingRequest"]["required"];
    for field in ["id", "guest", "arrival", "currency", "nights", "amount"] {
        assert!(
            required.as_array().unwrap().iter().any(|f| f == field),
            "{schemas:#}"
        );
    }

    // An input that does not fit: exit 1, every problem listed by pointer, nothing run.
    let out = flowctl(
        &dir,
        &[
            "invoke",
            "Booking",
            "--trace",
            "--input",
            r#"{"id": "b-1"}"#,
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 1, "{stdout}{stderr}");
    for pointer in ["/guest", "/arrival", "/currency", "/nights", "/amount"] {
        assert!(
            stderr.contains(&format!("  {pointer}: missing required field")),
            "{pointer} in {stderr}"
        );
    }
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert!(
        !stderr.contains("ExecutionStarted") && stdout.is_empty(),
        "{stdout}{stderr}"
    );
    let out = flowctl(
        &dir,
        &[
            "--output",
            "json",
            "invoke",
            "Booking",
            "--input",
            r#"{"id": "b-1", "guest": "g", "arrival": "2026-07-14", "currency": "EUR", "nights": "two", "amount": 120}"#,
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(code(&out), 1, "{report:#}");
    assert_eq!(report["status"], "INVALID_INPUT");
    assert_eq!(report["problems"][0]["pointer"], "/nights", "{report:#}");

    // A good input runs.
    let out = flowctl(
        &dir,
        &[
            "invoke",
            "Booking",
            "--input",
            r#"{"id": "b-1", "guest": "g", "arrival": "2026-07-14", "currency": "EUR", "nights": 2, "amount": 120}"#,
        ],
    );
    assert_eq!(code(&out), 0, "{:?}", text(&out));

    // A typo in a result field fails check, naming it and the field meant.
    let flow = dir.join("flows/booking.flow");
    let source = std::fs::read_to_string(&flow).unwrap();
    assert!(source.contains("reservation.room,"));
    std::fs::write(
        &flow,
        source.replace("reservation.room,", "reservation.roomm,"),
    )
    .unwrap();
    let out = flowctl(&dir, &["check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("error[C020]: `reservation` has no field `roomm`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `room`?"), "{stderr}");
    assert!(stderr.contains("booking.flow:"), "{stderr}");
}
