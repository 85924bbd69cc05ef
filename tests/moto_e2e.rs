//! End to end on moto: every corpus flow and every example flow is compiled, its unit
//! placeholders are replaced by the ARNs of Lambda functions created in moto, the state
//! machines are created, and each case runs as an execution with a unique name.
//!
//! moto's Lambda (without Docker) echoes its payload, or answers what a case queued in
//! `lambda_results`; it never fails, so `catch`/`retry` are shown only not to disturb the
//! happy path. Recorded divergences of moto from AWS are listed in the test output.

use flowctl_lang::asl;
use flowctl_tests::corpus::{self, Outcome};
use flowctl_tests::moto::Moto;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Instant;

/// Creates the Lambdas for `docs`' units, the machines, and runs `cases` (machine, case id,
/// input, lambda results); returns each case's outcome by id.
fn run_on_moto(
    region: &str,
    prefix: &str,
    docs: &[(String, Value)],
    cases: &[(String, String, Value, Vec<Value>)],
) -> Value {
    let moto = Moto::shared();
    let units: BTreeSet<String> = docs.iter().flat_map(|(_, d)| asl::units_of(d)).collect();
    let arns = moto.lambdas(region, prefix, &units);
    let machines: Vec<(String, String)> = docs
        .iter()
        .map(|(name, doc)| {
            let resolved = asl::resolve_units(doc, |u| arns.get(u).cloned())
                .unwrap_or_else(|u| panic!("{name}: no Lambda for unit {u}"));
            assert!(
                !asl::to_pretty_json(&resolved).contains("${unit:"),
                "{name}: a placeholder is left"
            );
            (format!("{prefix}-{name}"), asl::to_pretty_json(&resolved))
        })
        .collect();
    let executions: Vec<Value> = cases
        .iter()
        .map(|(machine, id, input, results)| {
            json!({ "id": id, "machine": format!("{prefix}-{machine}"), "input": input.to_string(), "lambda_results": results })
        })
        .collect();
    let answer = moto.run(region, &machines, &executions);
    let errors = &answer["machine_errors"];
    assert!(
        errors.as_object().is_none_or(|e| e.is_empty()),
        "moto rejected state machines: {errors:#}"
    );
    answer["executions"].clone()
}

#[test]
fn corpus_runs_on_moto() {
    let started = Instant::now();
    let flows = corpus::load();
    let docs: Vec<(String, Value)> = flows
        .iter()
        .map(|f| (f.name.clone(), f.compile()))
        .collect();
    let mut cases = Vec::new();
    for f in &flows {
        for c in &f.cases {
            cases.push((
                f.name.clone(),
                format!("{}/{}", f.name, c.name),
                c.input.clone(),
                c.lambda_results.clone(),
            ));
        }
    }
    let results = run_on_moto("us-east-1", "corpus", &docs, &cases);
    let mut failures = Vec::new();
    let mut divergences = Vec::new();
    let mut count = 0;
    for f in &flows {
        for c in &f.cases {
            count += 1;
            let id = format!("{}/{}", f.name, c.name);
            let got = Outcome::from_driver(&results[&id]);
            match corpus::judge(c, &got) {
                Ok(None) => {}
                Ok(Some(note)) => divergences.push(format!("{id}: {note}")),
                Err(e) => failures.push(format!("{id}: {e}\n    states entered: {:?}", got.states)),
            }
        }
    }
    eprintln!(
        "moto: {count} executions of {} flows in {:.1}s; {} recorded divergence(s) from AWS:",
        flows.len(),
        started.elapsed().as_secs_f64(),
        divergences.len()
    );
    for d in &divergences {
        eprintln!("  {d}");
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn example(name: &str) -> flowctl_tests::ExampleFlow {
    flowctl_tests::example_flows()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no example flow {name}"))
}

fn outcome(results: &Value, id: &str) -> Outcome {
    Outcome::from_driver(&results[id])
}

#[test]
fn booking_example_runs_on_moto() {
    let booking = example("Booking");
    let region = booking.region.clone().unwrap_or_else(|| "us-east-1".into());
    let doc = booking.compile();
    // moto's Lambdas answer these in the order the flow calls them.
    let rate = json!({"night": "2025-07-12", "currency": "EUR", "rate": 120.0});
    let tier = json!({"guest": "vip-ann", "tier": "gold", "discount": 0.15});
    let reservation = json!({"status": "available", "room": 12});
    let payment = json!({"paid": true, "amount": 180, "transaction": "txn-b-1-18000"});
    let confirmation = json!({"status": "confirmed", "reference": "conf-b-1"});
    let sent = json!({"sent": true});
    let input = json!({"id": "b-1", "nights": 2, "amount": 180, "arrival": "2025-07-12", "currency": "EUR", "guest": "vip-ann"});
    let cases = vec![
        (
            "Booking".to_string(),
            "available".to_string(),
            input.clone(),
            vec![
                rate.clone(),
                tier.clone(),
                reservation.clone(),
                payment.clone(),
                confirmation.clone(),
                sent,
            ],
        ),
        (
            "Booking".to_string(),
            "full".to_string(),
            input.clone(),
            vec![rate.clone(), tier.clone(), json!({"status": "full"})],
        ),
    ];
    let results = run_on_moto(&region, "booking", &[("Booking".into(), doc)], &cases);

    let ok = outcome(&results, "available");
    let expected = json!({"ok": true, "reservation": reservation, "payment": payment, "confirmation": confirmation, "rate": rate, "tier": tier});
    assert!(
        ok.matches(&corpus::Expect::Output(expected.clone())),
        "expected {expected}, got {ok:?}"
    );
    assert_eq!(
        ok.states,
        [
            "Start",
            "rate = QuoteRate",
            "tier = LookupLoyalty",
            "reservation = ReserveAvailability",
            "if reservation.status == 'available' and exists(reservation.room)",
            "payment = ProcessPayment",
            "confirmation = ConfirmReservation",
            "_ = NotifyGuest",
            "return {ok, reservation, payment, confirmation, rate, tier}"
        ]
    );

    let full = outcome(&results, "full");
    let expect = corpus::Expect::Failed {
        error: "NotAvailable".into(),
        cause: Some("no rooms for these dates".into()),
    };
    assert!(full.matches(&expect), "expected {expect:?}, got {full:?}");
    assert_eq!(
        full.states,
        [
            "Start",
            "rate = QuoteRate",
            "tier = LookupLoyalty",
            "reservation = ReserveAvailability",
            "if reservation.status == 'available' and exists(reservation.room)",
            "fail NotAvailable"
        ]
    );
}

#[test]
fn reprice_example_runs_on_moto() {
    let reprice = example("Reprice");
    let region = reprice.region.clone().unwrap_or_else(|| "us-east-1".into());
    let doc = reprice.compile();
    let input = |channel: &str| json!({"guest": "g-7", "nights": ["2024-03-01", "2024-03-02"], "currency": "EUR", "delay_seconds": 0, "channel": channel});
    let cases: Vec<_> = ["email", "sms", "post"]
        .iter()
        .map(|c| ("Reprice".to_string(), c.to_string(), input(c), vec![]))
        .collect();
    let results = run_on_moto(&region, "reprice", &[("Reprice".into(), doc)], &cases);
    // the Lambdas echo: the tier is the lookup's payload, each rate the quote's payload
    let quotes = json!([
        {"guest": "g-7"},
        [{"night": "2024-03-01", "currency": "EUR"}, {"night": "2024-03-02", "currency": "EUR"}]
    ]);
    for (channel, notified) in [("email", "email"), ("sms", "sms"), ("post", "none")] {
        let got = outcome(&results, channel);
        let expected = json!({"notified": notified, "quotes": quotes});
        assert!(
            got.matches(&corpus::Expect::Output(expected.clone())),
            "{channel}: expected {expected}, got {got:?}"
        );
    }
}
