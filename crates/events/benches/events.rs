//! The events runtime's throughput, with the durable log on (a SQLite log in a temp dir, WAL,
//! `synchronous=FULL`, as in production):
//!
//! 1. one ordered subscription with an in-process echo function (it answers at once), over 1
//!    key and over 1,000 keys: events submitted through `Intake::submit`, pipelined as a broker
//!    source does (up to `WINDOW` submits awaiting their commit), timed from the first submit
//!    until the last delivery is done in the log (`What::Done` reports), with the latency from
//!    submit to the invocation's start (`What::Started`, attempt 1);
//! 2. RabbitMQ's own rate through lapin (publish with confirms to a fresh durable queue, then
//!    consume with manual acks at the source's default prefetch), and in the same run the AMQP
//!    source (`source::amqp::run`) consuming another fresh queue into a subscription of 1,000
//!    keys; the ratio of the two.
//!
//! `cargo bench -p flowctl-events --bench events [-- --events N --events-one-key N --skip-intake --skip-raw --skip-amqp]`
//! (`FLOWCTL_BENCH_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/%2f`).

use flowctl_events::dispatch::{BoxFuture, Invocation, Invoke, Observe, Report, What};
use flowctl_events::source::{amqp, Notes};
use flowctl_events::{Incoming, Intake, Intook, Routes, Runtime};
use flowctl_lang::manifest::events::{SourceKind, Target};
use flowctl_lang::manifest::{self, Manifest};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// Submits awaiting their commit at once: the AMQP source's default prefetch.
const WINDOW: usize = amqp::DEFAULT_PREFETCH as usize;
/// Keys in flight for the subscription (the manifest allows up to 10,000).
const CONCURRENCY: usize = 1000;

/// Answers every invocation with its input, at once.
struct Echo;

impl Invoke for Echo {
    fn invoke<'a>(&'a self, _: &'a Target, input: Value) -> BoxFuture<'a, Invocation> {
        Box::pin(async move {
            Invocation {
                result: Ok(input),
                trace: None,
            }
        })
    }
}

/// Counts finished deliveries and stamps each first start (nanoseconds since `base`, by seq).
struct Counter {
    base: Instant,
    started: Vec<AtomicU64>,
    done: AtomicUsize,
    other: AtomicUsize,
    target: usize,
    all_done: Notify,
}

impl Counter {
    fn new(events: usize) -> Arc<Counter> {
        Arc::new(Counter {
            base: Instant::now(),
            started: (0..=events).map(|_| AtomicU64::new(0)).collect(),
            done: AtomicUsize::new(0),
            other: AtomicUsize::new(0),
            target: events,
            all_done: Notify::new(),
        })
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.duration_since(self.base).as_nanos() as u64
    }

    async fn wait(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.all_done.notified();
            if self.done.load(Ordering::Acquire) >= self.target {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                panic!(
                    "timed out: {} of {} deliveries done ({} failure reports)",
                    self.done.load(Ordering::Acquire),
                    self.target,
                    self.other.load(Ordering::Relaxed)
                );
            }
        }
    }
}

impl Observe for Counter {
    fn report(&self, report: Report) {
        match report.what {
            What::Started { attempt: 1 } => {
                if let Some(slot) = self.started.get(report.seq as usize) {
                    slot.store(self.nanos(Instant::now()), Ordering::Relaxed);
                }
            }
            What::Done { .. } => {
                if self.done.fetch_add(1, Ordering::AcqRel) + 1 >= self.target {
                    self.all_done.notify_one();
                }
            }
            What::Queued { .. } | What::Started { .. } => {}
            _ => {
                self.other.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn manifest(source: &str) -> Manifest {
    let yaml = format!(
        "project: bench\nfunctions:\n  Handle: {{ package: p }}\n\
         sources:\n  in:\n{source}    type: bench\n    key: $.key\n\
         subscriptions:\n  sub:\n    source: in\n    function: Handle\n    concurrency: {CONCURRENCY}\n"
    );
    let (manifest, diagnostics) = manifest::parse(&yaml);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    manifest.expect("the benchmark's manifest")
}

fn payload(i: usize, keys: usize) -> Value {
    json!({"id": format!("e-{i}"), "key": format!("k-{}", i % keys), "i": i, "amount": 42.5, "currency": "EUR"})
}

struct Throughput {
    events: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Throughput {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

/// One subscription, `events` submitted through the intake over `keys` keys.
async fn intake_run(dir: &Path, events: usize, keys: usize) -> Throughput {
    let m = manifest("    webhook: {}\n    id: $.id\n");
    let path = dir.join(format!("intake-{keys}.sqlite"));
    let counter = Counter::new(events);
    let runtime = Runtime::start(&path, Routes::new(&m), Arc::new(Echo), counter.clone())
        .expect("the log opens");
    let intake = Intake::new(runtime.log().clone(), m.sources.clone());
    // Built before the clock starts: the broker hands the source its messages ready-made.
    let payloads: Vec<Value> = (0..events).map(|i| payload(i, keys)).collect();
    let mut submitted = vec![0u64; events + 1];
    let started = Instant::now();
    let mut window = VecDeque::with_capacity(WINDOW);
    let mut seqs = Vec::with_capacity(events);
    for (i, payload) in payloads.into_iter().enumerate() {
        if window.len() == WINDOW {
            seqs.push(window.pop_front().unwrap().await);
        }
        // A fresh log numbers the events from 1 in submit order (checked below).
        submitted[i + 1] = counter.nanos(Instant::now());
        window.push_back(intake.submit("in", Incoming::new(payload)));
    }
    for wait in window {
        seqs.push(wait.await);
    }
    counter.wait(Duration::from_secs(120)).await;
    let seconds = started.elapsed().as_secs_f64();
    for (i, answer) in seqs.into_iter().enumerate() {
        match answer {
            Ok(Intook::Accepted(flowctl_events::Accepted::New { seq, deliveries: 1 })) => {
                assert_eq!(seq, i as i64 + 1, "events are numbered in submit order")
            }
            other => panic!("event {i}: {other:?}"),
        }
    }
    let mut latencies: Vec<f64> = (1..=events)
        .map(|seq| {
            let start = counter.started[seq].load(Ordering::Relaxed);
            start.saturating_sub(submitted[seq]) as f64 / 1e6
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    runtime.drain().await;
    Throughput {
        events,
        seconds,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    }
}

async fn amqp_connect(url: &str) -> Connection {
    let properties = flowctl_events::source::amqp::connection_properties();
    tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(url, properties),
    )
    .await
    .map_err(|_| "timed out".to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .unwrap_or_else(|e| {
        panic!("RabbitMQ is not reachable at {url} ({e}); start it with scripts/start-services.sh")
    })
}

/// Declares a fresh durable queue and publishes `events` persistent messages to it with
/// publisher confirms (all published, then every confirm awaited); answers the seconds taken.
async fn publish(connection: &Connection, queue: &str, events: usize, keys: usize) -> f64 {
    let channel = connection.create_channel().await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue, durable, FieldTable::default())
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let bodies: Vec<Vec<u8>> = (0..events)
        .map(|i| payload(i, keys).to_string().into_bytes())
        .collect();
    let started = Instant::now();
    let mut confirms = Vec::with_capacity(events);
    for (i, body) in bodies.iter().enumerate() {
        let properties = BasicProperties::default()
            .with_message_id(format!("m-{i}").into())
            .with_delivery_mode(2);
        confirms.push(
            channel
                .basic_publish("", queue, BasicPublishOptions::default(), body, properties)
                .await
                .unwrap(),
        );
    }
    for confirm in confirms {
        confirm.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = channel.close(200, "published").await;
    seconds
}

/// Consumes `events` messages with manual acks at the source's default prefetch, each body
/// read as JSON (as the source does); answers the seconds taken. `every`: one `basic.ack` per
/// message (awaited), or with `multiple` once per `every` messages (and at the end).
async fn consume_raw(connection: &Connection, queue: &str, events: usize, every: usize) -> f64 {
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_qos(amqp::DEFAULT_PREFETCH, BasicQosOptions::default())
        .await
        .unwrap();
    let started = Instant::now();
    let mut consumer = channel
        .basic_consume(
            queue,
            &format!("flowctl-bench-raw-{every}"),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut seen = 0;
    while seen < events {
        let delivery = tokio::time::timeout(Duration::from_secs(60), consumer.next())
            .await
            .expect("a message within 60 s")
            .expect("the consumer goes on")
            .expect("a delivery");
        let _: Value = serde_json::from_slice(&delivery.data).unwrap();
        seen += 1;
        if seen % every == 0 || seen == events {
            let multiple = every > 1;
            delivery
                .acker
                .ack(BasicAckOptions { multiple })
                .await
                .unwrap();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = channel.close(200, "consumed").await;
    seconds
}

/// The AMQP source consuming `queue` into a subscription over a durable log; answers the
/// seconds from its start until every delivery is done.
async fn consume_source(dir: &Path, url: &str, queue: &str, events: usize) -> f64 {
    let m = manifest(&format!("    amqp: {{ url: \"{url}\", queue: {queue} }}\n"));
    let path = dir.join("amqp.sqlite");
    let counter = Counter::new(events);
    let runtime = Runtime::start(&path, Routes::new(&m), Arc::new(Echo), counter.clone())
        .expect("the log opens");
    let intake = Intake::new(runtime.log().clone(), m.sources.clone());
    let config = match &m.sources["in"].kind {
        SourceKind::Amqp(config) => config.clone(),
        _ => unreachable!(),
    };
    let notes: Notes = Arc::new(|_| {});
    let (shutdown, stopped) = watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(amqp::run("in".into(), config, intake, notes, stopped));
    counter.wait(Duration::from_secs(120)).await;
    let seconds = started.elapsed().as_secs_f64();
    let _ = shutdown.send(true);
    task.await.unwrap().unwrap();
    runtime.drain().await;
    seconds
}

async fn delete_queue(connection: &Connection, queue: &str) -> u32 {
    let channel = connection.create_channel().await.unwrap();
    let deleted = channel
        .queue_delete(queue, QueueDeleteOptions::default())
        .await
        .unwrap();
    let _ = channel.close(200, "deleted").await;
    deleted
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the list of benchmarks
    }
    let events: usize = arg("--events").map_or(50_000, |n| n.parse().expect("--events N"));
    // One key runs one event at a time, each after the previous outcome's commit (an fsync):
    // fewer events keep the run short.
    let one_key: usize =
        arg("--events-one-key").map_or(5_000, |n| n.parse().expect("--events-one-key N"));
    let skip_amqp = args.iter().any(|a| a == "--skip-amqp");
    let url = std::env::var("FLOWCTL_BENCH_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        println!(
            "events benchmark: {events} events per run ({one_key} with one key), durable log (SQLite, WAL, synchronous=FULL) in {}, \
             in-process echo, concurrency {CONCURRENCY}, {WINDOW} submits in flight",
            dir.path().display()
        );
        println!();
        println!("| run | events | seconds | events/s | submit → start p50 | p99 |");
        println!("|---|---|---|---|---|---|");
        let mut keyed = 0.0;
        let runs: &[usize] = if args.iter().any(|a| a == "--skip-intake") { &[] } else { &[1, 1000] };
        for &keys in runs {
            let n = if keys == 1 { one_key.min(events) } else { events };
            let t = intake_run(dir.path(), n, keys).await;
            println!(
                "| intake, 1 subscription, {keys} key{} | {} | {:.2} | **{:.0}** | {:.1} ms | {:.1} ms |",
                if keys == 1 { "" } else { "s" },
                t.events,
                t.seconds,
                t.per_second(),
                t.p50_ms,
                t.p99_ms
            );
            if keys == 1000 {
                keyed = t.per_second();
            }
        }
        if skip_amqp {
            return;
        }
        let connection = amqp_connect(&url).await;
        let stamp = std::process::id();
        let (raw_queue, source_queue) = (
            format!("flowctl-bench-raw-{stamp}"),
            format!("flowctl-bench-source-{stamp}"),
        );
        // RabbitMQ alone, twice: one ack per message, then one multiple-ack per 100 messages
        // (the source acknowledges the commits that landed together with one multiple-ack);
        // the faster is compared.
        let mut raw = Vec::new();
        let raws: &[usize] = if args.iter().any(|a| a == "--skip-raw") { &[] } else { &[1, 100] };
        for &every in raws {
            let queue = format!("{raw_queue}-{every}");
            let p = publish(&connection, &queue, events, 1000).await;
            let c = consume_raw(&connection, &queue, events, every).await;
            delete_queue(&connection, &queue).await;
            raw.push((every, p, c));
        }
        let source_publish = publish(&connection, &source_queue, events, 1000).await;
        let source_consume = consume_source(dir.path(), &url, &source_queue, events).await;
        let left = delete_queue(&connection, &source_queue).await;
        let _ = connection.close(200, "done").await;
        let n = events as f64;
        println!();
        println!(
            "RabbitMQ through lapin, {events} persistent messages to a fresh durable queue (publisher confirms), \
             consumed with manual acks at prefetch {}; 1,000 keys:",
            amqp::DEFAULT_PREFETCH
        );
        println!();
        println!("| run | publish msgs/s | consume msgs/s | publish + consume msgs/s |");
        println!("|---|---|---|---|");
        for (every, p, c) in &raw {
            println!(
                "| RabbitMQ raw, {} | {:.0} | {:.0} | {:.0} |",
                if *every == 1 { "one ack per message".to_string() } else { format!("one multiple-ack per {every} messages") },
                n / p,
                n / c,
                n / (p + c)
            );
        }
        println!(
            "| AMQP source → durable log → subscription (echo), every delivery done | {:.0} | {:.0} | {:.0} |",
            n / source_publish,
            n / source_consume,
            n / (source_publish + source_consume)
        );
        let (_, raw_publish, raw_consume) = raw
            .iter()
            .copied()
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .unwrap_or((0, f64::NAN, f64::NAN));
        let ratio_consume = raw_consume / source_consume;
        let ratio_total = (raw_publish + raw_consume) / (source_publish + source_consume);
        println!();
        let ratio_brief = (raw_publish + raw_consume) / source_consume;
        println!(
            "subscriber / raw (the faster raw consumer): {ratio_consume:.2} consuming alone (both sides \
             consume a full queue); {ratio_total:.2} publishing + consuming on both sides; \
             {ratio_brief:.2} the subscriber's consuming against RabbitMQ's publish + consume + ack; \
             queues deleted (messages left in the source's: {left})"
        );
        println!();
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        println!(
            "goals: ≥ 20,000 events/s durable with 1,000 keys: {} ({keyed:.0}/s); subscriber ≥ 50% of \
             RabbitMQ's raw rate: {} consuming alone ({:.0}%), {} publishing + consuming ({:.0}%), {} against \
             RabbitMQ's publish + consume + ack ({:.0}%)",
            verdict(keyed >= 20_000.0),
            verdict(ratio_consume >= 0.5),
            ratio_consume * 100.0,
            verdict(ratio_total >= 0.5),
            ratio_total * 100.0,
            verdict(ratio_brief >= 0.5),
            ratio_brief * 100.0
        );
    });
}
