//! The benchmark's generated 5,000-line flow is itself valid (so the benchmark measures a
//! clean check, not error recovery).

#[path = "../benches/generated_flow.rs"]
mod generated_flow;

use flowctl_lang::flow::{check, parse, KnownFunctions};

#[test]
fn the_generated_benchmark_flow_checks_clean() {
    let src = generated_flow::generated_flow(5_000);
    assert!(src.lines().count() > 4_900);
    let (file, diags) = parse(&src);
    assert!(diags.is_empty(), "{diags:?}");
    let (ir, diags) = check(
        &file.unwrap(),
        &KnownFunctions::new("bench", generated_flow::FUNCTIONS),
    );
    assert!(diags.is_empty() && ir.is_some(), "{diags:?}");
}
