//! The polyglot example (examples/polyglot: `QuoteRate` in Rust, `AddTax` in Python,
//! `FormatReceipt` in Node.js, one flow) run all-local, deployed to moto, run there, and run
//! hybrid with `AddTax` on its deployed Lambda: the same output every way.
//!
//! What each side proves. Locally the Python and Node handlers really run, under AWS's own
//! runtime interface clients on flowctl's Runtime API: that is where the functions' answers
//! and errors come from. On moto, the Lambdas exist with their managed runtimes, handlers and
//! the zips the build made (`CodeSha256` read back), and the state machine runs on moto's Step
//! Functions; moto's Lambda runs no code without Docker, so each answers what the local run's
//! function answered for the same payload (queued, keyed by Lambda and payload). So the moto
//! run proves the deployment (names, runtimes, handlers, packages, the compiled document's
//! wiring and payloads), not the handlers' behaviour on Lambda's own images.

use super::hybrid::{invoke_json, recorded_answers};
use super::{build_record, deployed, flowctl, flowctl_command, ok, queue_lambda_answers, show};
use flowctl_tests::example_tree_copy;
use flowctl_tests::moto::Moto;
use serde_json::{json, Value};

const PROJECT: &str = "polyglote2e";

fn checkout(country: &str) -> String {
    json!({"arrival": "2025-07-12", "currency": "EUR", "country": country, "guest": "ann"})
        .to_string()
}

#[test]
fn the_polyglot_example_gives_the_same_output_locally_on_moto_and_hybrid() {
    let moto = Moto::shared();
    let dir = example_tree_copy("polyglot", PROJECT);
    let at = moto.endpoint.as_str();

    // All local: Rust, Python and Node as local Lambda processes.
    let (succeeded, local) = invoke_json(&dir, None, "Checkout", &[], &checkout("FR"));
    assert!(succeeded, "{local:#}");
    assert_eq!(
        local["output"],
        json!({
            "quote": {"night": "2025-07-12", "currency": "EUR", "rate": 120.0},
            "tax": {"country": "FR", "net": 120.0, "rate": 0.2, "vat": 24.0, "gross": 144.0},
            "receipt": {
                "guest": "ann",
                "lines": ["net 120.00 EUR", "VAT 24.00 EUR", "total 144.00 EUR"],
                "text": "Dear ann, your night costs 144.00 EUR, VAT included."
            }
        })
    );
    // A Python exception is the error a flow catches, by its class name.
    let (failed, unknown) = invoke_json(&dir, None, "Checkout", &[], &checkout("XX"));
    assert!(!failed);
    assert_eq!(unknown["error"], "NoTax", "{unknown:#}");
    let cause: Value = serde_json::from_str(unknown["cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorType"], "UnknownCountry", "{cause:#}");
    assert!(
        cause["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("no VAT rate for 'XX'"),
        "{cause:#}"
    );

    // Deployed: each function in its own Lambda, on its runtime, with the build's package.
    ok(flowctl(&dir, at, &["deploy"]));
    let state = deployed(moto, PROJECT);
    let record = build_record(PROJECT);
    for (unit, runtime, handler) in [
        ("AddTax", "python3.12", "tax.handler"),
        ("FormatReceipt", "nodejs22.x", "receipt.handler"),
        ("QuoteRate", "provided.al2023", "bootstrap"),
    ] {
        let f = &state["functions"][format!("{PROJECT}-{unit}")];
        assert_eq!(f["runtime"], runtime, "{unit}: {f:#}");
        assert_eq!(f["handler"], handler, "{unit}: {f:#}");
        let built = record["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == unit)
            .unwrap_or_else(|| panic!("{unit} in build.json: {record:#}"));
        assert_eq!(f["code_sha256"], built["code_sha256"], "{unit}");
    }

    // On moto's Step Functions, each Lambda answering as the local run's function did.
    queue_lambda_answers(
        moto,
        &recorded_answers(&local["history"], PROJECT, &|_| true),
    );
    let remote = ok(flowctl(
        &dir,
        at,
        &[
            "--output",
            "json",
            "invoke",
            "Checkout",
            "--input",
            &checkout("FR"),
        ],
    ));
    let remote: Value = serde_json::from_slice(&remote.stdout).unwrap();
    assert_eq!(remote["status"], "SUCCEEDED", "{remote:#}");
    assert_eq!(remote["output"], local["output"]);

    // Hybrid: AddTax on its deployed Lambda, Rust and Node here.
    let is_tax = |unit: &str| unit == "AddTax";
    queue_lambda_answers(moto, &recorded_answers(&local["history"], PROJECT, &is_tax));
    let (succeeded, hybrid) = invoke_json(
        &dir,
        Some(at),
        "Checkout",
        &["--remote", "AddTax"],
        &checkout("FR"),
    );
    assert!(succeeded, "{hybrid:#}");
    assert_eq!(hybrid["output"], local["output"]);
    let ran: Vec<(&str, &str)> = hybrid["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            Some((
                e["details"]["parameters"]["FunctionName"].as_str()?,
                e["ran"].as_str()?,
            ))
        })
        .collect();
    let tax_lambda = format!("lambda {PROJECT}-AddTax");
    assert_eq!(
        ran,
        [
            ("QuoteRate", "local"),
            ("AddTax", tax_lambda.as_str()),
            ("FormatReceipt", "local")
        ],
        "{}",
        show_history(&hybrid)
    );
}

fn show_history(report: &Value) -> String {
    serde_json::to_string_pretty(&report["history"]).unwrap()
}

#[test]
fn check_locates_bad_runtimes_handlers_and_sources_in_the_manifest() {
    let dir = example_tree_copy("polyglot", "polyglotcheck");
    let manifest = dir.join("flowctl.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    // Each mistake, on its own: an unknown runtime leaves no manifest to look for files with.
    for (from, to, code, line) in [
        ("runtime: python3.12", "runtime: python2.7", "M052", 15),
        (
            "handler: receipt.handler",
            "handler: receipts.handler",
            "M056",
            36,
        ),
        (
            "source: functions/python",
            "source: functions/ruby",
            "M055",
            17,
        ),
    ] {
        std::fs::write(&manifest, text.replace(from, to)).unwrap();
        let out = flowctl_command(&dir, None, &["check"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{to}: {}", show(&out));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(&format!("error[{code}]")), "{to}: {said}");
        assert!(
            said.contains(&format!("flowctl.yaml:{line}:")),
            "{to} is located at line {line}: {said}"
        );
    }
}
