#!/usr/bin/env bash
# The events runtime's throughput, with the durable log on (SQLite in a temp dir, WAL,
# synchronous=FULL), in one run (crates/events/benches/events.rs, release):
#   - one ordered subscription, in-process echo function, concurrency 1,000: events/s and
#     submit → start latency (p50, p99) over 1 key (EVENTS_ONE_KEY, 5,000 events: one at a
#     time, each after the previous outcome's commit) and over 1,000 keys (EVENTS, 50,000);
#   - RabbitMQ's own rate through lapin (persistent messages with publisher confirms into a
#     fresh durable queue, then consumed with manual acks at the source's prefetch, 1,000; one
#     ack per message, and one multiple-ack per 100), beside the AMQP source consuming another
#     fresh queue into a subscription of 1,000 keys until every delivery is done; the ratio.
# Targets (issue): >= 20,000 events/s durable with 1,000 keys; the subscriber consuming from
# RabbitMQ at >= 50% of RabbitMQ's raw rate. Needs RabbitMQ on 127.0.0.1:5672 (guest/guest; or
# FLOWCTL_BENCH_AMQP_URL): bash scripts/start-services.sh. About a minute once built.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ -z "${FLOWCTL_BENCH_AMQP_URL:-}" ]]; then
  bash scripts/start-services.sh >&2
fi

echo "bench-events: building the benchmark (release)" >&2
cargo bench -q -p flowctl-events --bench events --no-run
echo "bench-events: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench -q -p flowctl-events --bench events -- \
  --events "${EVENTS:-50000}" --events-one-key "${EVENTS_ONE_KEY:-5000}"
echo "bench-events: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
