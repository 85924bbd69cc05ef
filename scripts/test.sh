#!/usr/bin/env bash
# Runs every test: installs the test tools into the repository (moto in .venv, asl-validator in
# tests/.tools; idempotent), starts the brokers the events tests use (RabbitMQ, PostgreSQL,
# NATS; scripts/start-services.sh), then the whole workspace's tests in the dev profile, one build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install-test-tools.sh
bash scripts/start-services.sh
cargo test --workspace --locked "$@"
