#!/usr/bin/env bash
# Benchmarks flowctl's local-process invoker against `cargo lambda watch` (issue #5), side by
# side in one run, on an echo function:
#
#   1. warm invocation: flowctl's LocalProcesses (its Lambda Runtime API emulator and a warm
#      process) against `cargo lambda watch` over HTTP (POST
#      /2015-03-31/functions/<name>/invocations on a kept-alive connection, the same payload);
#   2. first invocation after start: a fresh flowctl invoker's first call (spawn, init, call)
#      against `cargo lambda watch` from its launch to the first answer (the function already
#      built), and the first request alone once its server listens;
#   3. the whole command: `flowctl invoke --asl` of a one-Task document calling the echo
#      (process start, engine, a cold function process, exit), timed by hyperfine.
#
# cargo-lambda is measured as users run it (`cargo lambda watch`: a debug build) and with
# `--release`. flowctl runs three echo binaries: the echo on flowctl-shim built by `flowctl
# build` (release, Lambda's settings), and the very lambda_runtime binaries the two
# `cargo lambda watch` runs start (debug and release), so the transport is also compared on
# identical bytes.
#
# cargo-lambda comes from PyPI into a throwaway virtualenv under $work (default under /tmp,
# never the repository's .venv); `cargo lambda new` needs the internet, so the echo projects
# are written here by hand. Prints a Markdown report on stdout; the raw figures stay in $work.
#
# Environment: BENCH_DIR (default /tmp/flowctl-bench-invoke), CALLS (default 1000), STARTS
# (flowctl, default 20), WATCH_STARTS (cargo-lambda, default 5), CARGO_LAMBDA_VERSION
# (default 1.9.2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${BENCH_DIR:-/tmp/flowctl-bench-invoke}"
calls="${CALLS:-1000}"
starts="${STARTS:-20}"
watch_starts="${WATCH_STARTS:-5}"
cargo_lambda_version="${CARGO_LAMBDA_VERSION:-1.9.2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$work"
log="$work/bench.log"
: >"$log"
say() { echo "bench-invoke: $*" >&2; }

# ---- cargo-lambda, from PyPI, in a throwaway virtualenv -------------------------------------
venv="$work/cargo-lambda-venv"
if [[ ! -x "$venv/bin/cargo-lambda" ]] || ! "$venv/bin/cargo-lambda" lambda --version | grep -q " $cargo_lambda_version "; then
  say "installing cargo-lambda $cargo_lambda_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$cargo_lambda_version"
fi
export PATH="$venv/bin:$PATH"
cargo_lambda="$(cargo lambda --version)"

# ---- flowctl, in release ----------------------------------------------------------------------
say "building flowctl (release)"
cargo build --quiet --release -p flowctl --bin flowctl --manifest-path "$root/Cargo.toml"
flowctl="$CARGO_TARGET_DIR/release/flowctl"

# ---- the echo projects, by hand -----------------------------------------------------------------
# cargo-lambda's echo: lambda_runtime, the handler returns its payload.
lambda_echo="$work/echo-lambda"
mkdir -p "$lambda_echo/src"
cat >"$lambda_echo/Cargo.toml" <<'EOF'
[workspace]

[package]
name = "bench-invoke-echo-lambda"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
lambda_runtime = "0.14"
serde_json = "1"
tokio = { version = "1", features = ["macros"] }
EOF
cat >"$lambda_echo/src/main.rs" <<'EOF'
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
EOF

# flowctl's echo: the same function registered through flowctl-shim.
shim_echo="$work/echo-shim"
mkdir -p "$shim_echo/src" "$shim_echo/flows"
cat >"$shim_echo/Cargo.toml" <<EOF
[workspace]

[package]
name = "bench-invoke-echo-shim"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
flowctl-shim = { path = "$root/lambda-shim" }
serde_json = "1"
tokio = { version = "1", features = ["macros", "rt"] }
EOF
cat >"$shim_echo/src/main.rs" <<'EOF'
use flowctl_shim::{Error, Registry};

async fn echo(value: serde_json::Value) -> Result<serde_json::Value, Error> {
    Ok(value)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    Registry::new().function("Echo", echo).run().await;
}
EOF
cat >"$shim_echo/flowctl.yaml" <<'EOF'
project: bench-invoke-echo-shim
functions:
  Echo:
    package: bench-invoke-echo-shim
EOF
# One Task calling the echo, as flowctl compiles a call, for the whole-command timing.
cat >"$work/echo.asl.json" <<'EOF'
{
  "StartAt": "Echo",
  "States": {
    "Echo": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "Echo", "Payload.$": "$"},
      "OutputPath": "$.Payload",
      "End": true
    }
  }
}
EOF
# The workspace's versions, so nothing new is resolved.
cp "$root/Cargo.lock" "$lambda_echo/Cargo.lock"
cp "$root/Cargo.lock" "$shim_echo/Cargo.lock"

# ---- builds (not timed) -----------------------------------------------------------------------------
say "building the echo functions (output in $log)"
"$flowctl" -m "$shim_echo" build >>"$log" 2>&1
shim_bootstrap="$CARGO_TARGET_DIR/flowctl/bench-invoke-echo-shim/units/Echo/bootstrap"
# What `cargo lambda watch` runs: `cargo run` of the debug build (`--release`: the release one).
(cd "$lambda_echo" && cargo build --quiet && cargo build --quiet --release) >>"$log" 2>&1
lambda_debug="$CARGO_TARGET_DIR/debug/bench-invoke-echo-lambda"
lambda_release="$CARGO_TARGET_DIR/release/bench-invoke-echo-lambda"

# ---- 1 and 2: the invokers ------------------------------------------------------------------------
say "measuring: $calls warm calls each, $starts flowctl starts, $watch_starts cargo lambda watch starts"
(cd "$root" && cargo bench --quiet -p flowctl --bench invoke -- \
  --binary "flowctl-shim echo (release, built by flowctl)=$shim_bootstrap" \
  --binary "lambda_runtime echo (debug: what cargo lambda watch runs)=$lambda_debug" \
  --binary "lambda_runtime echo (release: what cargo lambda watch --release runs)=$lambda_release" \
  --cargo-lambda "$lambda_echo" --cargo-lambda-release "$lambda_echo" \
  --calls "$calls" --starts "$starts" --watch-starts "$watch_starts" --json) 2>>"$log" | tee -a "$log" | tail -n 1 >"$work/invoke.json"

# ---- 3: the whole command ---------------------------------------------------------------------------
whole=""
if command -v hyperfine >/dev/null; then
  payload='{"order": {"id": "o-1042", "customer": "c-7", "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}}'
  hyperfine -N --style none --warmup 3 --runs 30 --export-json "$work/whole.json" \
    -n "flowctl invoke --asl (one echo Task)" \
    "$flowctl invoke --asl $work/echo.asl.json --function-binary Echo=$shim_bootstrap --input '$payload'" \
    >>"$log" 2>&1
  whole="$work/whole.json"
else
  say "hyperfine not found (apt-get install -y hyperfine): skipping the whole-command timing"
fi

python3 - "$work/invoke.json" "$whole" "$cargo_lambda" "$(rustc --version)" "$calls" <<'EOF'
import json, sys
figures_path, whole_path, cargo_lambda, rustc, calls = sys.argv[1:]
f = json.load(open(figures_path))
watches = {k: f.pop(k) for k in list(f) if k.startswith("cargo lambda watch")}
flowctl = {k.removeprefix("flowctl "): v for k, v in f.items()}
print(f"{cargo_lambda}, {rustc}; {calls} warm calls per row after 100 untimed; the same payload (a 100-byte JSON object).\n")
print("Warm invocation (one call after another to a running process):\n")
print("| invoker | function binary | median | p90 | p99 | mean |")
print("|---|---|---|---|---|---|")
def row(who, binary, s):
    print(f"| {who} | {binary} | {s['median_ms']:.3f} ms | {s['p90_ms']:.3f} ms | {s['p99_ms']:.3f} ms | {s['mean_ms']:.3f} ms |")
for label, v in flowctl.items():
    row("flowctl (LocalProcesses)", label, v["warm"])
for label, v in watches.items():
    row(f"`{label}`, over HTTP", "lambda_runtime echo, " + ("release" if "release" in label else "debug"), v["warm"])
print("\nFirst invocation after start:\n")
print("| invoker | what is timed | median | min | runs |")
print("|---|---|---|---|---|")
def row2(who, what, s):
    print(f"| {who} | {what} | {s['median_ms']:.1f} ms | {s['min_ms']:.1f} ms | {s['n']} |")
for label, v in flowctl.items():
    row2("flowctl (LocalProcesses)", f"{label}: spawn, init, first call", v["first_after_start"])
for label, v in watches.items():
    row2(f"`{label}`", "launch to first answer", v["launch_to_first_answer"])
    row2(f"`{label}`", "first request alone, once it listens", v["first_request"])
if whole_path:
    r = json.load(open(whole_path))["results"][0]
    print(f"\nThe whole command, `flowctl invoke --asl` of one echo Task on the flowctl-shim echo (flowctl's start, the engine, a cold function process, exit): "
          f"mean {r['mean']*1000:.1f} ms, median {r['median']*1000:.1f} ms, min {r['min']*1000:.1f} ms (hyperfine -N, {len(r['times'])} runs).")
shim = next(v for k, v in flowctl.items() if "flowctl-shim" in k)
same = lambda profile: next(v for k, v in flowctl.items() if k.startswith("lambda_runtime") and profile in k)
print()
for label, w in watches.items():
    profile = "release" if "release" in label else "debug"
    print(f"- `{label}` ÷ flowctl, warm median: {w['warm']['median_ms']/shim['warm']['median_ms']:.1f}× against the shim echo, "
          f"{w['warm']['median_ms']/same(profile)['warm']['median_ms']:.1f}× on the same {profile} binary; "
          f"first invocation: {w['launch_to_first_answer']['median_ms']/shim['first_after_start']['median_ms']:.0f}× from launch, "
          f"{w['first_request']['median_ms']/shim['first_after_start']['median_ms']:.0f}× for the first request alone (against the shim echo).")
watch = watches["cargo lambda watch"]
print(f"\nTargets: warm median under 1 ms: {'met' if shim['warm']['median_ms'] < 1 else 'MISSED'} ({shim['warm']['median_ms']:.3f} ms on the shim echo; "
      f"slowest flowctl row {max(v['warm']['median_ms'] for v in flowctl.values()):.3f} ms); "
      f"first invocation at or below cargo lambda watch's: {'met' if shim['first_after_start']['median_ms'] <= watch['first_request']['median_ms'] else 'MISSED'} "
      f"({shim['first_after_start']['median_ms']:.1f} ms against {watch['launch_to_first_answer']['median_ms']:.1f} ms from launch "
      f"and {watch['first_request']['median_ms']:.1f} ms for its first request alone).")
EOF
