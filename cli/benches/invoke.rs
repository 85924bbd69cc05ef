//! Benchmark of flowctl's local-process invoker (`local::LocalProcesses` and its Lambda
//! Runtime API emulator) on an echo function, beside `cargo lambda watch` invoked over HTTP:
//!
//! - **warm**: one call after another to a process that is already running (median, p90, p99
//!   of each call's round trip, after a warm-up);
//! - **first invocation after start**: flowctl: a fresh invoker's first call (spawning the
//!   process, its init, the call); cargo-lambda: from launching `cargo lambda watch` to the
//!   first answer (its server's start, then `cargo run` of the already built function, its
//!   init, the call), and the first call alone once the server accepts connections.
//!
//! Run: `cargo bench -p flowctl --bench invoke` (measures flowctl alone, on an echo built with
//! flowctl-shim by `flowctl::build`), or `scripts/bench-invoke.sh` for the side-by-side run
//! (figures in BENCHMARKS.md). After `--`:
//! - `--binary LABEL=PATH` (repeatable): measure that Lambda binary instead of building one;
//! - `--cargo-lambda DIR`: also measure `cargo lambda watch` of the single-binary package in
//!   DIR (cargo-lambda on PATH); `--cargo-lambda-release DIR`: `cargo lambda watch --release`;
//! - `--calls N` warm calls (default 1000), `--starts N` flowctl starts (default 20),
//!   `--watch-starts N` cargo-lambda starts (default 5);
//! - `--json`: every figure as one JSON object on the last line.

use flowctl::local::{LocalOptions, LocalProcesses, UnitConfig};
use flowctl_engine::Invoker;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The payload every call sends (the engine benchmark's input).
fn payload() -> Value {
    json!({"order": {"id": "o-1042", "customer": "c-7", "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}})
}

/// Summary of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Stats {
    median: f64,
    p90: f64,
    p99: f64,
    mean: f64,
    min: f64,
    n: usize,
}

impl Stats {
    fn of(samples: &[Duration]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        Stats {
            median: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            mean: ms.iter().sum::<f64>() / ms.len() as f64,
            min: ms[0],
            n: ms.len(),
        }
    }

    fn json(&self) -> Value {
        json!({"median_ms": self.median, "p90_ms": self.p90, "p99_ms": self.p99, "mean_ms": self.mean, "min_ms": self.min, "n": self.n})
    }

    fn line(&self) -> String {
        format!(
            "median {:>8.3} ms  p90 {:>8.3} ms  p99 {:>8.3} ms  mean {:>8.3} ms  min {:>8.3} ms  (n = {})",
            self.median, self.p90, self.p99, self.mean, self.min, self.n
        )
    }
}

struct Settings {
    calls: usize,
    starts: usize,
    watch_starts: usize,
}

// ---- flowctl ---------------------------------------------------------------------------------

fn invoker(binary: &Path) -> LocalProcesses {
    let options = LocalOptions {
        forward_output: false,
        ..LocalOptions::default()
    };
    let unit = UnitConfig::new("Echo", binary)
        .functions(["Echo"])
        .timeout(Duration::from_secs(10))
        .max_processes(1);
    LocalProcesses::with_options(options).unit(unit)
}

async fn echo_once(local: &LocalProcesses, payload: &Arc<Value>) -> Duration {
    let start = Instant::now();
    let answer = local.invoke("Echo", payload.clone()).await;
    let elapsed = start.elapsed();
    assert_eq!(answer.as_ref(), Ok(payload), "the echo did not echo");
    elapsed
}

/// Warm calls and first calls after start through `LocalProcesses`.
fn measure_flowctl(binary: &Path, settings: &Settings) -> (Stats, Stats) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let payload = Arc::new(payload());
        let mut firsts = Vec::new();
        for _ in 0..settings.starts {
            let local = invoker(binary);
            firsts.push(echo_once(&local, &payload).await);
            local.shutdown().await;
        }
        let local = invoker(binary);
        for _ in 0..100 {
            echo_once(&local, &payload).await;
        }
        let mut warm = Vec::with_capacity(settings.calls);
        for _ in 0..settings.calls {
            warm.push(echo_once(&local, &payload).await);
        }
        local.shutdown().await;
        (Stats::of(&warm), Stats::of(&firsts))
    })
}

/// The echo function on flowctl-shim, built by `flowctl::build` as `flowctl build` does
/// (release, Lambda's settings) in `<target>/bench-invoke/echo-shim`.
fn build_shim_echo() -> PathBuf {
    // Canonical, so that flowctl-shim is the same package (and build) as in the workspace.
    let repo = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap();
    let repo = repo.as_path();
    let target = flowctl::build::target_dir(repo);
    let dir = target.join("bench-invoke/echo-shim");
    let files = [
        (
            "Cargo.toml",
            format!(
                "[workspace]\n\n[package]\nname = \"bench-invoke-echo\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nflowctl-shim = {{ path = {:?} }}\nserde_json = \"1\"\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n",
                repo.join("lambda-shim")
            ),
        ),
        ("src/main.rs", SHIM_ECHO.to_string()),
        (
            "flowctl.yaml",
            "project: bench-invoke-echo\nfunctions:\n  Echo:\n    package: bench-invoke-echo\n".to_string(),
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).unwrap();
        }
    }
    // The workspace's versions, so nothing new is resolved.
    std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let loaded = flowctl::project::load(&dir.join("flowctl.yaml")).unwrap();
    let project = loaded.project.expect("the echo project loads");
    let out_dir = flowctl::build::out_dir(&target, &project.manifest.project);
    let architecture = match std::env::consts::ARCH {
        "aarch64" => flowctl_lang::manifest::Architecture::Arm64,
        _ => flowctl_lang::manifest::Architecture::X86_64,
    };
    let options = flowctl::build::Options {
        architecture,
        out_dir: out_dir.clone(),
        color: "never",
    };
    eprintln!(
        "building the flowctl-shim echo (release) in {}",
        dir.display()
    );
    let records = flowctl::build::build_units(&project, &options, &mut |_| {})
        .unwrap_or_else(|e| panic!("cannot build the echo: {e}"));
    flowctl::build::record::BuildRecord::resolve(
        &out_dir,
        records[0].bootstrap.as_deref().unwrap_or_default(),
    )
}

const SHIM_ECHO: &str = r#"use flowctl_shim::{Error, Registry};

async fn echo(value: serde_json::Value) -> Result<serde_json::Value, Error> {
    Ok(value)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    Registry::new().function("Echo", echo).run().await;
}
"#;

// ---- cargo lambda watch ------------------------------------------------------------------------

/// A minimal HTTP/1.1 client on one kept-alive connection (reconnecting when the server
/// closes it), so the client costs next to nothing beside the server it measures.
struct Http {
    address: String,
    path: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Http {
    fn new(port: u16, function: &str) -> Http {
        Http {
            address: format!("127.0.0.1:{port}"),
            path: format!("/2015-03-31/functions/{function}/invocations"),
            stream: None,
        }
    }

    /// POSTs `body`; the status and the response body.
    fn post(&mut self, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.address)?;
            stream.set_nodelay(true)?;
            self.stream = Some(BufReader::new(stream));
        }
        let reader = self.stream.as_mut().unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.path,
            self.address,
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        let result = Self::exchange(reader, &request);
        match result {
            Ok((status, body, keep)) => {
                if !keep {
                    self.stream = None;
                }
                Ok((status, body))
            }
            Err(err) => {
                self.stream = None;
                Err(err)
            }
        }
    }

    fn exchange(
        reader: &mut BufReader<TcpStream>,
        request: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>, bool)> {
        reader.get_mut().write_all(request)?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP status line: {line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        let mut keep = true;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => keep = !value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        } else {
            reader.read_to_end(&mut body)?;
            keep = false;
        }
        Ok((status, body, keep))
    }

    /// One echo call, checked.
    fn echo(&mut self, payload: &[u8], expected: &Value) -> Duration {
        let start = Instant::now();
        let (status, body) = self.post(payload).expect("cargo lambda watch answers");
        let elapsed = start.elapsed();
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert!(
            status == 200 && &answer == expected,
            "cargo lambda watch answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        elapsed
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `cargo lambda watch` of the package in `dir`, in its own process group (it runs cargo,
/// which runs the function); stopped with the whole group.
struct Watch {
    child: Child,
}

impl Watch {
    fn start(dir: &Path, port: u16, release: bool) -> Watch {
        let mut command = Command::new("cargo");
        command.args(["lambda", "watch", "--quiet", "--ignore-changes"]);
        if release {
            command.arg("--release");
        }
        let child = command
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("cargo lambda runs (is cargo-lambda on PATH?)");
        Watch { child }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
        // Anything that ignored TERM.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
    }
}

/// The first answer after launching `cargo lambda watch`: POSTs until one is an echo (a
/// refused connection means the server is not listening yet). Returns the time from the
/// launch, and the time of the request that got the answer.
fn first_answer(
    watch_dir: &Path,
    release: bool,
    function: &str,
    payload: &[u8],
    expected: &Value,
) -> (Duration, Duration) {
    let port = free_port();
    let launched = Instant::now();
    let _watch = Watch::start(watch_dir, port, release);
    let mut http = Http::new(port, function);
    loop {
        if launched.elapsed() > Duration::from_secs(120) {
            panic!("cargo lambda watch did not answer within 2 minutes");
        }
        let sent = Instant::now();
        match http.post(payload) {
            Ok((200, body))
                if serde_json::from_slice::<Value>(&body).ok().as_ref() == Some(expected) =>
            {
                return (launched.elapsed(), sent.elapsed());
            }
            Ok((status, body)) => panic!(
                "cargo lambda watch answered {status}: {}",
                String::from_utf8_lossy(&body)
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

struct WatchFigures {
    warm: Stats,
    launch_to_answer: Stats,
    first_request: Stats,
}

fn measure_watch(dir: &Path, release: bool, settings: &Settings) -> WatchFigures {
    let function = package_name(dir);
    let payload = payload();
    let body = payload.to_string().into_bytes();
    // Once untimed: builds the function if it is not built yet.
    eprintln!("cargo lambda watch: first start (builds the function if needed)");
    first_answer(dir, release, &function, &body, &payload);
    let mut launch = Vec::new();
    let mut first = Vec::new();
    for _ in 0..settings.watch_starts {
        let (from_launch, request) = first_answer(dir, release, &function, &body, &payload);
        launch.push(from_launch);
        first.push(request);
    }
    let port = free_port();
    let _watch = Watch::start(dir, port, release);
    let mut http = Http::new(port, &function);
    let started = Instant::now();
    while http.post(&body).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "cargo lambda watch did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..100 {
        http.echo(&body, &payload);
    }
    let warm: Vec<Duration> = (0..settings.calls)
        .map(|_| http.echo(&body, &payload))
        .collect();
    WatchFigures {
        warm: Stats::of(&warm),
        launch_to_answer: Stats::of(&launch),
        first_request: Stats::of(&first),
    }
}

/// The `name` of the `[package]` in `dir/Cargo.toml` (cargo-lambda serves a function under
/// its binary's name, which for a lone `src/main.rs` is the package's).
fn package_name(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("Cargo.toml"))
        .expect("a Cargo.toml in --cargo-lambda DIR");
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if let Some(value) = line
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|l| l.strip_prefix('='))
        {
            if in_package {
                return value.trim().trim_matches('"').to_string();
            }
        }
    }
    panic!("no [package] name in {}", dir.join("Cargo.toml").display());
}

// ---- main --------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| -> Vec<String> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .collect()
    };
    let number = |flag: &str, default: usize| -> usize {
        value(flag)
            .last()
            .map(|n| {
                n.parse()
                    .unwrap_or_else(|_| panic!("{flag} takes a number"))
            })
            .unwrap_or(default)
    };
    let settings = Settings {
        calls: number("--calls", 1000),
        starts: number("--starts", 20),
        watch_starts: number("--watch-starts", 5),
    };
    let mut binaries: Vec<(String, PathBuf)> = value("--binary")
        .iter()
        .map(|b| {
            let (label, path) = b.split_once('=').expect("--binary LABEL=PATH");
            (label.to_string(), PathBuf::from(path))
        })
        .collect();
    if binaries.is_empty() {
        binaries.push(("flowctl-shim echo".to_string(), build_shim_echo()));
    }

    let mut figures = serde_json::Map::new();
    println!(
        "flowctl LocalProcesses: {} warm calls (after 100 untimed), {} first calls after start",
        settings.calls, settings.starts
    );
    for (label, binary) in &binaries {
        let (warm, first) = measure_flowctl(binary, &settings);
        println!("  {label}");
        println!("    warm               {}", warm.line());
        println!("    first after start  {}", first.line());
        figures.insert(
            format!("flowctl {label}"),
            json!({"binary": binary, "warm": warm.json(), "first_after_start": first.json()}),
        );
    }
    for (flag, release, label) in [
        ("--cargo-lambda", false, "cargo lambda watch"),
        (
            "--cargo-lambda-release",
            true,
            "cargo lambda watch --release",
        ),
    ] {
        let Some(dir) = value(flag).last().cloned() else {
            continue;
        };
        let watch = measure_watch(Path::new(&dir), release, &settings);
        println!(
            "{label} over HTTP: {} warm calls (after 100 untimed), {} starts",
            settings.calls, settings.watch_starts
        );
        println!("    warm               {}", watch.warm.line());
        println!("    launch to answer   {}", watch.launch_to_answer.line());
        println!("    first request      {}", watch.first_request.line());
        figures.insert(
            label.to_string(),
            json!({
                "warm": watch.warm.json(),
                "launch_to_first_answer": watch.launch_to_answer.json(),
                "first_request": watch.first_request.json(),
            }),
        );
    }
    if args.iter().any(|a| a == "--json") {
        println!("{}", Value::Object(figures));
    }
}
