#!/usr/bin/env bash
# Benchmarks `flowctl build` against cargo-lambda (issue #5), side by side in one run:
#
#   1. a no-op rebuild: `flowctl build` of examples/booking (6 units, 2 flows) against
#      `cargo lambda build --release` of the same package, with plain cargo as the floor
#      (the exact cargo command flowctl runs, and `cargo build --release`);
#   2. the release zip of an echo function: cargo-lambda's (on lambda_runtime) against
#      flowctl's, for the same echo on flowctl-shim and for cargo-lambda's crate itself.
#
# cargo-lambda comes from PyPI into a throwaway virtualenv under $work (never the
# repository's .venv); `cargo lambda new` needs the internet, so the echo projects are
# written here by hand. Timing is hyperfine's (apt-get install hyperfine). flowctl itself is
# built in release first. Prints a Markdown report on stdout; hyperfine's JSON stays in $work.
#
# Environment: BENCH_DIR (default target/bench-build), RUNS (default 30),
# CARGO_LAMBDA_VERSION (default 1.9.2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${BENCH_DIR:-$root/target/bench-build}"
runs="${RUNS:-30}"
cargo_lambda_version="${CARGO_LAMBDA_VERSION:-1.9.2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$work"
log="$work/bench.log"
: >"$log"
say() { echo "bench-build: $*" >&2; }

command -v hyperfine >/dev/null || { say "hyperfine is required (apt-get install -y hyperfine)"; exit 2; }

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
name = "bench-echo-lambda"
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
# flowctl builds that same crate too (the apples-to-apples size).
cat >"$lambda_echo/flowctl.yaml" <<'EOF'
project: bench-echo-lambda
functions:
  Echo:
    package: bench-echo-lambda
EOF

# flowctl's echo: the same function registered through flowctl-shim.
shim_echo="$work/echo-shim"
mkdir -p "$shim_echo/src"
cat >"$shim_echo/Cargo.toml" <<EOF
[workspace]

[package]
name = "bench-echo-shim"
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
project: bench-echo-shim
functions:
  Echo:
    package: bench-echo-shim
EOF
# The workspace's versions, so nothing new is resolved.
cp "$root/Cargo.lock" "$lambda_echo/Cargo.lock"
cp "$root/Cargo.lock" "$shim_echo/Cargo.lock"

# ---- first builds (not timed) ---------------------------------------------------------------------
say "first builds (release; minutes on a cold target directory; output in $log)"
"$flowctl" -m "$root/examples/booking" build >>"$log" 2>&1
(cd "$root" && cargo lambda build --release -p booking-functions) >>"$log" 2>&1
(cd "$lambda_echo" && cargo lambda build --release --output-format zip) >>"$log" 2>&1
"$flowctl" -m "$lambda_echo" build >>"$log" 2>&1
"$flowctl" -m "$shim_echo" build >>"$log" 2>&1

# The exact cargo command flowctl runs for the booking example (its release settings included).
flowctl_cargo="env CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_OPT_LEVEL=s cargo build --release --message-format=json-render-diagnostics -p booking-functions"

# ---- 1. no-op rebuilds --------------------------------------------------------------------------
say "timing no-op rebuilds ($runs runs each)"
cd "$root"
hyperfine --style none --warmup 3 --runs "$runs" --export-json "$work/noop.json" \
  -n "flowctl build (examples/booking)" "$flowctl -m examples/booking build" \
  -n "cargo lambda build --release -p booking-functions" "cargo lambda build --release -p booking-functions" \
  -n "flowctl's cargo command alone" "$flowctl_cargo" \
  -n "cargo build --release -p booking-functions" "cargo build --release -p booking-functions" \
  >>"$log" 2>&1

# ---- 2. zip sizes ---------------------------------------------------------------------------------
lambda_zip="$CARGO_TARGET_DIR/lambda/bench-echo-lambda/bootstrap.zip"
flowctl_lambda_zip="$CARGO_TARGET_DIR/flowctl/bench-echo-lambda/units/Echo/Echo.zip"
flowctl_shim_zip="$CARGO_TARGET_DIR/flowctl/bench-echo-shim/units/Echo/Echo.zip"

python3 - "$work/noop.json" "$lambda_zip" "$flowctl_lambda_zip" "$flowctl_shim_zip" "$cargo_lambda" "$(rustc --version)" <<'EOF'
import json, os, sys
noop, lambda_zip, flowctl_lambda_zip, flowctl_shim_zip, cargo_lambda, rustc = sys.argv[1:]
results = json.load(open(noop))["results"]
ms = lambda r, k: r[k] * 1000
by_name = {r["command"]: r for r in results}
print(f"{cargo_lambda}, {rustc}, hyperfine {len(results[0]['times'])} runs after 3 warm-ups.\n")
print("No-op rebuild (everything already built):\n")
print("| command | mean | median | min | σ |")
print("|---|---|---|---|---|")
for r in results:
    print(f"| `{r['command']}` | {ms(r,'mean'):.0f} ms | {ms(r,'median'):.0f} ms | {ms(r,'min'):.0f} ms | {ms(r,'stddev'):.0f} ms |")
f = by_name["flowctl build (examples/booking)"]
c = by_name["cargo lambda build --release -p booking-functions"]
own = by_name["flowctl's cargo command alone"]
print(f"\nflowctl / cargo-lambda (mean): {f['mean']/c['mean']:.2f} (cargo-lambda is {c['mean']/f['mean']:.1f}× slower); "
      f"flowctl beyond its own cargo command: {ms(f,'mean') - ms(own,'mean'):.0f} ms.\n")
print("Release zip of the echo function:\n")
print("| build | zip |")
print("|---|---|")
size = lambda p: os.path.getsize(p)
rows = [
    ("cargo-lambda: `cargo lambda build --release --output-format zip` (lambda_runtime echo)", lambda_zip),
    ("flowctl: the same lambda_runtime crate", flowctl_lambda_zip),
    ("flowctl: the echo on flowctl-shim", flowctl_shim_zip),
]
for label, path in rows:
    print(f"| {label} | {size(path):,} bytes ({size(path)/1000:.0f} KB) |")
print(f"\nflowctl (shim) / cargo-lambda: {size(flowctl_shim_zip)/size(lambda_zip):.2f}; "
      f"flowctl (same crate) / cargo-lambda: {size(flowctl_lambda_zip)/size(lambda_zip):.2f}.")
EOF
