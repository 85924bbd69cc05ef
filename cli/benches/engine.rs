//! Benchmark of the local engine: executions per second of a 10-state Pass chain and of a
//! 5-Task chain with in-process echo functions, the same chain in JSONata (history on and off, one execution after
//! another on one thread, and many in flight on the multi-threaded runtime), the overhead per
//! state transition, and the memory of 10,000 executions suspended in a `Wait` at once.
//!
//! Run: `cargo bench -p flowctl --bench engine` (figures in BENCHMARKS.md). After `--`:
//! `--json` prints the figures as one JSON object on the last line; `--documents DIR` writes
//! the benchmark documents and their input there (`pass10.asl.json`, `task5.asl.json`,
//! `jsonata5.asl.json`, `input.json`), so that `scripts/bench-engine.sh` runs the same bytes on moto and on
//! aws-local-stepfunctions; `--quick` measures for less time; `--repeat DOC on|off N` runs N
//! executions of one document (`pass10`, `task5`, `jsonata5`) and nothing else, for a profiler
//! (`valgrind --tool=callgrind` counts instructions repeatably on a busy machine).

use flowctl_engine::{self as engine, ExecutionOptions, InProcess, StateMachine};
use serde_json::{json, Value};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The echo function's ARN: the name moto gives `bench-echo` in its default account and
/// region, so the document runs unchanged there.
const ECHO_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench-echo";

fn pass_chain(states: usize) -> Value {
    let mut map = serde_json::Map::new();
    for i in 0..states {
        let state = if i + 1 < states {
            json!({"Type": "Pass", "Next": format!("Step {}", i + 1)})
        } else {
            json!({"Type": "Pass", "End": true})
        };
        map.insert(format!("Step {i}"), state);
    }
    json!({"Comment": format!("{states} Pass states in a row"), "StartAt": "Step 0", "States": map})
}

/// Tasks as flowctl compiles calls: `lambda:invoke`, the payload selected from the result.
fn task_chain(tasks: usize) -> Value {
    let mut map = serde_json::Map::new();
    for i in 0..tasks {
        let mut state = json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": ECHO_ARN, "Payload.$": "$"},
            "OutputPath": "$.Payload"
        });
        if i + 1 < tasks {
            state["Next"] = json!(format!("Call {}", i + 1));
        } else {
            state["End"] = json!(true);
        }
        map.insert(format!("Call {i}"), state);
    }
    json!({"Comment": format!("{tasks} echo Tasks in a row"), "StartAt": "Call 0", "States": map})
}

/// The same chain in JSONata, as AWS's documentation writes a Lambda call: `Arguments` with
/// the state input as the payload, `Output` the function's answer.
fn jsonata_task_chain(tasks: usize) -> Value {
    let mut map = serde_json::Map::new();
    for i in 0..tasks {
        let mut state = json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": ECHO_ARN, "Payload": "{% $states.input %}"},
            "Output": "{% $states.result.Payload %}"
        });
        if i + 1 < tasks {
            state["Next"] = json!(format!("Call {}", i + 1));
        } else {
            state["End"] = json!(true);
        }
        map.insert(format!("Call {i}"), state);
    }
    json!({"Comment": format!("{tasks} echo Tasks in a row, in JSONata"), "QueryLanguage": "JSONata", "StartAt": "Call 0", "States": map})
}

/// The benchmark's documents by name.
fn documents() -> [(&'static str, Value); 3] {
    [
        ("pass10", pass_chain(10)),
        ("task5", task_chain(5)),
        ("jsonata5", jsonata_task_chain(5)),
    ]
}

fn input() -> Value {
    json!({"order": {"id": "o-1042", "customer": "c-7", "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}})
}

fn echo() -> InProcess {
    InProcess::new().sync("bench-echo", Ok)
}

fn load(doc: &Value) -> StateMachine {
    engine::load(doc).unwrap_or_else(|e| panic!("the benchmark document does not load: {e:?}"))
}

struct Rate {
    per_second: f64,
    transitions: u64,
}

impl Rate {
    fn micros_per_transition(&self) -> f64 {
        1e6 / (self.per_second * self.transitions as f64)
    }
}

/// One execution after another on a current-thread runtime: the median rate of `samples`
/// runs of about `sample` each, after a warm-up.
fn sequential(
    machine: &StateMachine,
    invoker: &InProcess,
    history: bool,
    sample: Duration,
    samples: usize,
) -> Rate {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let options = ExecutionOptions {
        name: "bench".into(),
        history,
        virtual_time: false,
    };
    // Shared, as a service that starts many executions with one input would hold it: the
    // engine copies only what a state changes.
    let input = Arc::new(input());
    runtime.block_on(async {
        let first = engine::execute_shared(machine, input.clone(), invoker, &options).await;
        assert_eq!(
            first.status,
            engine::Status::Succeeded,
            "the benchmark document fails: {:?}",
            first.error
        );
        let transitions = first.transitions;
        let run_for = |budget: Duration| {
            let input = input.clone();
            let options = options.clone();
            async move {
                let start = Instant::now();
                let mut count = 0u64;
                while start.elapsed() < budget {
                    for _ in 0..100 {
                        black_box(
                            engine::execute_shared(machine, input.clone(), invoker, &options).await,
                        );
                    }
                    count += 100;
                }
                count as f64 / start.elapsed().as_secs_f64()
            }
        };
        run_for(sample / 2).await; // warm-up
        let mut rates = Vec::new();
        for _ in 0..samples {
            rates.push(run_for(sample).await);
        }
        rates.sort_by(f64::total_cmp);
        Rate {
            per_second: rates[rates.len() / 2],
            transitions,
        }
    })
}

/// `in_flight` executions at a time on the multi-threaded runtime (one worker per core).
fn concurrent(
    machine: Arc<StateMachine>,
    invoker: Arc<InProcess>,
    in_flight: usize,
    total: usize,
) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let options = ExecutionOptions {
        name: "bench".into(),
        history: true,
        virtual_time: false,
    };
    let run = |total: usize| {
        let remaining = Arc::new(AtomicUsize::new(total));
        let start = Instant::now();
        runtime.block_on(async {
            let workers: Vec<_> = (0..in_flight)
                .map(|_| {
                    let (machine, invoker, options, remaining) = (
                        machine.clone(),
                        invoker.clone(),
                        options.clone(),
                        remaining.clone(),
                    );
                    tokio::spawn(async move {
                        let input = Arc::new(input());
                        while remaining
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                                n.checked_sub(1)
                            })
                            .is_ok()
                        {
                            black_box(
                                engine::execute_shared(
                                    &machine,
                                    input.clone(),
                                    &*invoker,
                                    &options,
                                )
                                .await,
                            );
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.expect("a worker");
            }
        });
        total as f64 / start.elapsed().as_secs_f64()
    };
    run(total / 10); // warm-up
    run(total)
}

/// Resident memory of this process, from /proc/self/status (kB → bytes).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

struct Memory {
    executions: usize,
    before: u64,
    suspended: u64,
}

/// Starts `executions` executions that each call a function (counting arrivals) and then wait
/// an hour; once all have arrived and none has finished, they are all suspended in the Wait.
fn suspended_in_wait(executions: usize) -> Memory {
    let doc = json!({
        "StartAt": "Arrive",
        "States": {
            "Arrive": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "arrive", "Payload.$": "$"},
                "ResultSelector": {"arrived.$": "$.Payload"},
                "ResultPath": "$.call",
                "Next": "Hold"
            },
            "Hold": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }
    });
    let machine = Arc::new(load(&doc));
    let arrived = Arc::new(AtomicUsize::new(0));
    let counter = arrived.clone();
    let invoker = Arc::new(InProcess::new().sync("arrive", move |v| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(v)
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let before = rss_bytes().unwrap_or(0);
    let handles: Vec<_> = (0..executions)
        .map(|i| {
            let (machine, invoker) = (machine.clone(), invoker.clone());
            let options = ExecutionOptions {
                name: format!("held-{i}"),
                history: true,
                virtual_time: false,
            };
            runtime
                .spawn(async move { engine::execute(&machine, input(), &*invoker, &options).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrived.load(Ordering::SeqCst) < executions {
        assert!(
            Instant::now() < deadline,
            "only {} executions arrived",
            arrived.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300)); // let the last ones reach the Wait
    assert!(
        handles.iter().all(|h| !h.is_finished()),
        "an execution finished instead of waiting"
    );
    let suspended = rss_bytes().unwrap_or(0);
    for h in &handles {
        h.abort();
    }
    runtime.shutdown_background();
    Memory {
        executions,
        before,
        suspended,
    }
}

/// `count` executions one after another, nothing measured: a workload for a profiler.
fn repeat(machine: &StateMachine, history: bool, count: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let options = ExecutionOptions {
        name: "bench".into(),
        history,
        virtual_time: false,
    };
    let (input, invoker) = (Arc::new(input()), echo());
    runtime.block_on(async {
        for _ in 0..count {
            let e = engine::execute_shared(machine, input.clone(), &invoker, &options).await;
            assert_eq!(e.status, engine::Status::Succeeded, "{:?}", e.error);
            black_box(e);
        }
    });
}

fn write_documents(dir: &str) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let files = documents()
        .into_iter()
        .map(|(name, doc)| (format!("{name}.asl.json"), doc))
        .chain([("input.json".to_string(), input())]);
    for (name, doc) in files {
        let path = std::path::Path::new(dir).join(name);
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--documents") {
        let dir = args.get(i + 1).expect("--documents DIR");
        write_documents(dir);
        println!(
            "wrote pass10.asl.json, task5.asl.json, jsonata5.asl.json and input.json to {dir}"
        );
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--repeat") {
        let usage = "--repeat pass10|task5|jsonata5 on|off N";
        let wanted = args.get(i + 1).map(String::as_str);
        let (_, doc) = documents()
            .into_iter()
            .find(|(name, _)| Some(*name) == wanted)
            .expect(usage);
        let history = args.get(i + 2).expect(usage) == "on";
        let count: u64 = args.get(i + 3).and_then(|n| n.parse().ok()).expect(usage);
        repeat(&load(&doc), history, count);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (sample, samples) = if quick {
        (Duration::from_millis(300), 3)
    } else {
        (Duration::from_secs(1), 5)
    };

    let machines: Vec<(&str, StateMachine)> = documents()
        .iter()
        .map(|(name, doc)| (*name, load(doc)))
        .collect();
    let invoker = echo();
    let mut figures = serde_json::Map::new();
    println!("engine: one execution after another on one thread (median of {samples} samples of {sample:?})");
    for (name, machine) in &machines {
        let mut entry = serde_json::Map::new();
        for history in [true, false] {
            let rate = sequential(machine, &invoker, history, sample, samples);
            let name = *name;
            println!(
                "  {name:<7} history {:<3}  {:>10.0} executions/s  {:>6.3} µs per transition ({} transitions)",
                if history { "on" } else { "off" },
                rate.per_second,
                rate.micros_per_transition(),
                rate.transitions
            );
            entry.insert(
                format!("history_{}", if history { "on" } else { "off" }),
                json!({"per_second": rate.per_second, "us_per_transition": rate.micros_per_transition(), "transitions": rate.transitions}),
            );
        }
        figures.insert(name.to_string(), Value::Object(entry));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "engine: 256 in flight on the multi-threaded runtime ({cores} worker threads, history on)"
    );
    for (name, doc) in documents() {
        let total = if quick { 50_000 } else { 200_000 };
        let rate = concurrent(Arc::new(load(&doc)), Arc::new(echo()), 256, total);
        println!("  {name:<7} {rate:>10.0} executions/s");
        figures[name]["concurrent"] =
            json!({"per_second": rate, "in_flight": 256, "threads": cores});
    }

    let memory = suspended_in_wait(10_000);
    let mb = |b: u64| b as f64 / 1e6;
    let grown = memory.suspended.saturating_sub(memory.before);
    println!(
        "engine: {} executions suspended in a Wait at once (history on): RSS {:.1} MB before, {:.1} MB with them ({:.1} MB more, {:.1} kB each); target under 500 MB: {}",
        memory.executions,
        mb(memory.before),
        mb(memory.suspended),
        mb(grown),
        grown as f64 / 1e3 / memory.executions as f64,
        if memory.suspended < 500_000_000 { "met" } else { "MISSED" }
    );
    figures.insert(
        "memory".into(),
        json!({"executions": memory.executions, "rss_before": memory.before, "rss_suspended": memory.suspended}),
    );
    if args.iter().any(|a| a == "--json") {
        println!("{}", Value::Object(figures));
    }
}
