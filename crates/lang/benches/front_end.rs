//! Benchmark: the front-end's hot path for `flowctl check`, in one run:
//!
//! - lex + parse + check of a generated 5,000-line flow, untyped (no registry) and typed
//!   (against a registry that types every argument, field and comparison of it:
//!   `typed_registry.rs`);
//! - the whole `flowctl check` of the booking example with its cached registry: parse
//!   flowctl.yaml, read the cached `describe` document (`booking_registry.json`, captured
//!   from `cargo run -q -p booking-functions -- describe`), assemble the registry, parse and
//!   check both flows. When the example's functions change, capture the file again.
//!
//! Run: `cargo bench -p flowctl-lang --bench front_end`. Figures in BENCHMARKS.md.

#[path = "generated_flow.rs"]
mod generated_flow;
#[path = "typed_registry.rs"]
mod typed_registry;

use flowctl_lang::diagnostic::Severity;
use flowctl_lang::flow::{check, parse, parse_and_check, KnownFunctions};
use flowctl_lang::registry::{assemble, Cache, Inputs};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BOOKING_MANIFEST: &str = include_str!("../../../examples/booking/flowctl.yaml");
const BOOKING_FLOWS: [(&str, &str); 2] = [
    (
        "Booking",
        include_str!("../../../examples/booking/flows/booking.flow"),
    ),
    (
        "Reprice",
        include_str!("../../../examples/booking/flows/reprice.flow"),
    ),
];
/// `describe` of the booking example's functions, as a build caches it in registry.json.
const BOOKING_REGISTRY: &str = include_str!("booking_registry.json");

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..3 {
        f(); // warm-up
    }
    let samples: Vec<_> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    let min = *samples.iter().min().unwrap();
    (median(samples), min)
}

/// What `flowctl check -m examples/booking` does after a build, without the file reads:
/// parse the manifest, read the cached registry, assemble it, parse and check each flow.
/// Returns the number of diagnostics of each severity (errors, warnings).
fn check_booking() -> (usize, usize) {
    let (manifest, diags) = flowctl_lang::manifest::parse(BOOKING_MANIFEST);
    let mut counts = count(&diags);
    let manifest = manifest.expect("the booking manifest parses");
    let describe: serde_json::Value =
        serde_json::from_str(BOOKING_REGISTRY).expect("booking_registry.json is JSON");
    let cache = Cache::holding([("booking-functions".to_string(), describe)]);
    let (registry, diags) = assemble(&Inputs {
        manifest: &manifest,
        manifest_text: BOOKING_MANIFEST,
        cache: Some(&cache),
        schema_files: &BTreeMap::new(),
    });
    add(&mut counts, count(&diags));
    let registry = Arc::new(registry);
    for (name, source) in BOOKING_FLOWS {
        let mut known = manifest.known_functions(name);
        known.registry = Some(registry.clone());
        let (_, ir, diags) = parse_and_check(source, &known);
        add(&mut counts, count(&diags));
        black_box(ir);
    }
    counts
}

fn count(diags: &[flowctl_lang::diagnostic::Diagnostic]) -> (usize, usize) {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, diags.len() - errors)
}

fn add(into: &mut (usize, usize), (errors, warnings): (usize, usize)) {
    into.0 += errors;
    into.1 += warnings;
}

fn main() {
    let src = generated_flow::generated_flow(5_000);
    let lines = src.lines().count();
    let untyped = KnownFunctions::new("bench", generated_flow::FUNCTIONS);
    let mut typed = untyped.clone();
    typed.registry = Some(Arc::new(typed_registry::registry()));
    let (file, diags) = parse(&src);
    assert!(diags.is_empty(), "generated flow does not parse: {diags:?}");
    let file = file.unwrap();
    for (what, known) in [("untyped", &untyped), ("typed", &typed)] {
        let (ir, diags) = check(&file, known);
        assert!(
            diags.is_empty() && ir.is_some(),
            "the generated flow does not check {what}: {diags:?}"
        );
    }
    // The typed check knows the types: the flow returns `v0`, a `Record` (`F`'s output).
    let output = check(&file, &typed).0.unwrap().output;
    let types = &typed.registry.as_ref().unwrap().types;
    assert_eq!(
        types.field(&output, "first").map(|(ty, _)| ty.show()),
        Ok("Record".to_string())
    );

    let (errors, warnings) = check_booking();
    assert_eq!(errors, 0, "the booking example does not check");

    let runs = 50;
    let (parse_median, parse_min) = measure(runs, || {
        black_box(parse(black_box(&src)));
    });
    let mut rows = Vec::new();
    for known in [&untyped, &typed] {
        let check_only = measure(runs, || {
            black_box(check(black_box(&file), known));
        });
        let total = measure(runs, || {
            let (file, _) = parse(black_box(&src));
            black_box(check(&file.unwrap(), known));
        });
        rows.push((check_only, total));
    }
    let registry = measure(runs, || {
        black_box(typed_registry::registry());
    });
    let booking = measure(runs, || {
        black_box(check_booking());
    });

    let cell = |(median, min): (Duration, Duration)| format!("{median:>9.2?} {min:>9.2?}");
    println!(
        "front_end: {lines} lines, {} bytes, {runs} runs each (median, min)",
        src.len()
    );
    println!("                       untyped                 typed");
    println!("  lex+parse        {}", cell((parse_median, parse_min)));
    println!(
        "  check            {}   {}",
        cell(rows[0].0),
        cell(rows[1].0)
    );
    println!(
        "  lex+parse+check  {}   {}",
        cell(rows[0].1),
        cell(rows[1].1)
    );
    println!(
        "  assemble the typed registry of F and G        {}",
        cell(registry)
    );
    println!(
        "booking example, flowctl check with the cached registry ({} bytes of describe; {warnings} warnings):",
        BOOKING_REGISTRY.len()
    );
    println!(
        "  manifest + registry + parse & check 2 flows  {}",
        cell(booking)
    );
}
