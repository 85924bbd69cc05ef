#!/usr/bin/env bash
# Runs every test: installs the test tools into the repository (moto in .venv, asl-validator in
# tests/.tools; idempotent), then the whole workspace's tests in the dev profile, one build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install-test-tools.sh
cargo test --workspace --locked "$@"
