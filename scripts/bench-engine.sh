#!/usr/bin/env bash
# The local engine's performance beside two other ASL interpreters, in one run, on the same
# two documents (a 10-state Pass chain and a 5-Task chain of echo Lambdas, written by the
# benchmark itself; a third, the Task chain in JSONata, runs on the engine only: moto's
# JSONata needs LocalStack's Java bridge, and aws-local-stepfunctions has none): executions
# per second on
#   - flowctl's engine      cargo bench -p flowctl --bench engine (release; history on and off)
#   - moto's interpreter    through its server: StartExecution + DescribeExecution until done,
#                           MOTO_IN_FLIGHT (8) at a time, MOTO_EXECUTIONS (200) per document
#   - aws-local-stepfunctions  in Node, ALSF_EXECUTIONS (20000) per document, one at a time
#                           and ALSF_IN_FLIGHT (64) at a time; the better figure is compared
# and prints one table with the ratios (targets: ≥ 100× moto, ≥ 20× aws-local-stepfunctions),
# the overhead per state transition, and the memory of 10,000 executions held in a Wait.
# Needs the test tools: bash scripts/install-test-tools.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${FLOWCTL_TEST_PYTHON:-$root/.venv/bin/python}"
[[ -x "$python" ]] || { echo "bench-engine: $python is missing; run bash scripts/install-test-tools.sh" >&2; exit 2; }
command -v node >/dev/null || { echo "bench-engine: node is required" >&2; exit 2; }
[[ -d tests/.tools/node_modules/aws-local-stepfunctions ]] || { echo "bench-engine: aws-local-stepfunctions is missing; run bash scripts/install-test-tools.sh" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "bench-engine: building and running the engine benchmark (release)" >&2
cargo bench -q -p flowctl --bench engine -- --documents "$work" >/dev/null
cargo bench -q -p flowctl --bench engine -- --json ${BENCH_QUICK:+--quick} | tee "$work/engine.txt" >&2
tail -n 1 "$work/engine.txt" >"$work/engine.json"

echo "bench-engine: moto" >&2
"$python" tests/support/moto_bench.py "$work" pass10 task5 \
  --executions "${MOTO_EXECUTIONS:-200}" --in-flight "${MOTO_IN_FLIGHT:-8}" >"$work/moto.json"
cat "$work/moto.json" >&2

echo "bench-engine: aws-local-stepfunctions" >&2
for doc in pass10 task5; do
  for in_flight in 1 "${ALSF_IN_FLIGHT:-64}"; do
    "$python" -c 'import json,sys; d=sys.argv[1]; print(json.dumps({"definition": json.load(open(d+"/"+sys.argv[2]+".asl.json")), "input": json.load(open(d+"/input.json")), "executions": int(sys.argv[3]), "in_flight": int(sys.argv[4])}))' \
      "$work" "$doc" "${ALSF_EXECUTIONS:-20000}" "$in_flight" \
      | node tests/support/alsf_driver.mjs bench >"$work/alsf-$doc-$in_flight.json"
    cat "$work/alsf-$doc-$in_flight.json" >&2
    echo >&2
  done
done

"$python" - "$work" "${ALSF_IN_FLIGHT:-64}" <<'PY'
import datetime, json, sys
work, alsf_k = sys.argv[1], sys.argv[2]
engine = json.load(open(f"{work}/engine.json"))
moto = json.load(open(f"{work}/moto.json"))
alsf_version = json.load(open("tests/.tools/node_modules/aws-local-stepfunctions/package.json"))["version"]
print(f"\nengine benchmark, {datetime.date.today()}: moto {moto['moto']}, aws-local-stepfunctions {alsf_version}\n")
print("| document | moto exec/s | aws-local-stepfunctions exec/s | engine exec/s, history on | engine exec/s, history off | µs per transition (on / off) | × moto (on / off) | × aws-local-stepfunctions (on / off) |")
print("|---|---|---|---|---|---|---|---|")
verdicts = []
peers = {}
for doc, label in [("pass10", "10 Pass states"), ("task5", "5 echo Tasks")]:
    m = moto[doc]["per_second"]
    runs = {k: json.load(open(f"{work}/alsf-{doc}-{k}.json"))["per_second"] for k in ("1", alsf_k)}
    best_k = max(runs, key=runs.get)
    a = runs[best_k]
    on, off = engine[doc]["history_on"], engine[doc]["history_off"]
    e_on, e_off = on["per_second"], off["per_second"]
    print(f"| {label} | {m:,.1f} | {a:,.0f} ({best_k} in flight; {runs['1']:,.0f} one at a time) | {e_on:,.0f} | {e_off:,.0f} | "
          f"{on['us_per_transition']:.2f} / {off['us_per_transition']:.2f} | {e_on/m:,.0f}× / {e_off/m:,.0f}× | {e_on/a:.1f}× / {e_off/a:.1f}× |")
    for hist, e in (("history on", e_on), ("history off", e_off)):
        verdicts.append(f"{label}, {hist}: ≥ 100× moto {'met' if e >= 100 * m else 'MISSED'} ({e/m:,.0f}×), "
                        f"≥ 20× aws-local-stepfunctions {'met' if e >= 20 * a else 'MISSED'} ({e/a:.1f}×)")
    peers[doc] = (m, a)
# The JSONata chain: the engine only; beside it, the peers' figures on the same chain in JSONPath.
on, off = engine["jsonata5"]["history_on"], engine["jsonata5"]["history_off"]
m, a = peers["task5"]
print(f"| 5 echo Tasks, JSONata (peers: the JSONPath chain) | — | — | {on['per_second']:,.0f} | {off['per_second']:,.0f} | "
      f"{on['us_per_transition']:.2f} / {off['us_per_transition']:.2f} | {on['per_second']/m:,.0f}× / {off['per_second']/m:,.0f}× | {on['per_second']/a:.1f}× / {off['per_second']/a:.1f}× |")
c = {d: engine[d]["concurrent"] for d in ("pass10", "task5", "jsonata5")}
print(f"\nengine with {c['pass10']['in_flight']} in flight on {c['pass10']['threads']} threads (history on): "
      f"10 Pass states {c['pass10']['per_second']:,.0f} exec/s, 5 echo Tasks {c['task5']['per_second']:,.0f} exec/s, "
      f"in JSONata {c['jsonata5']['per_second']:,.0f} exec/s")
mem = engine["memory"]
grown = mem["rss_suspended"] - mem["rss_before"]
print(f"{mem['executions']:,} executions suspended in a Wait at once (history on): RSS {mem['rss_suspended']/1e6:.0f} MB "
      f"({grown/1e6:.0f} MB for them, {grown/1e3/mem['executions']:.1f} kB each); under 500 MB: {'met' if mem['rss_suspended'] < 500e6 else 'MISSED'}")
print("\ntargets:")
for v in verdicts:
    print(f"- {v}")
PY
