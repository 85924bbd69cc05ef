//! Benchmark: lex + parse + check of a generated 5,000-line flow (the front-end's hot path for
//! `flowctl check`). Run: `cargo bench -p flowctl-lang --bench front_end`. Figures in BENCHMARKS.md.

#[path = "generated_flow.rs"]
mod generated_flow;

use flowctl_lang::flow::{check, parse, KnownFunctions};
use std::hint::black_box;
use std::time::{Duration, Instant};

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

fn main() {
    let src = generated_flow::generated_flow(5_000);
    let lines = src.lines().count();
    let known = KnownFunctions::new("bench", generated_flow::FUNCTIONS);
    let (file, diags) = parse(&src);
    assert!(diags.is_empty(), "generated flow does not parse: {diags:?}");
    let file = file.unwrap();
    assert!(
        check(&file, &known).1.is_empty(),
        "generated flow does not check"
    );

    let runs = 50;
    let (parse_median, parse_min) = measure(runs, || {
        black_box(parse(black_box(&src)));
    });
    let (check_median, check_min) = measure(runs, || {
        black_box(check(black_box(&file), &known));
    });
    let (total_median, total_min) = measure(runs, || {
        let (file, _) = parse(black_box(&src));
        black_box(check(&file.unwrap(), &known));
    });
    println!(
        "front_end: {lines} lines, {} bytes, {runs} runs each",
        src.len()
    );
    println!(
        "  lex+parse        median {:>8.2?}  min {:>8.2?}",
        parse_median, parse_min
    );
    println!(
        "  check            median {:>8.2?}  min {:>8.2?}",
        check_median, check_min
    );
    println!(
        "  lex+parse+check  median {:>8.2?}  min {:>8.2?}",
        total_median, total_min
    );
}
