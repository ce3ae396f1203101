#!/usr/bin/env bash
# Every benchmark in one command, one after another (never two at once: they share 2 cores):
#   1. resolve and render (plain label, sticky split) against a bare axum server   bench/resolve-render.sh
#   2. gateway added latency: the mock directly, OPM, and the LiteLLM proxy           bench/gateway.sh
#   3. scale: startup and memory with 100,000 versions, resolve at 10 vs 100,000 prompts  bench/scale.sh
#   4. writes: version creation and label moves per second, SQLite and PostgreSQL     bench/writes.sh
#   5. the generation pipeline into SQLite against a direct batched insert           recorder_bench
#   6. the web UI's cost to the API: the same binary with and without it             bench/ui.sh
#   7. the Python SDK: cached get_prompt + render vs HTTP, label move to visible      bench/sdk.sh
#   8. streaming: one write per SSE event vs coalesced writes, same binary             bench/stream-coalesce.sh
#   9. the low-rate tail: 50 vs 500 req/s with core 0 idling or kept busy             bench/low-rate.sh
#
#   bench/run-all.sh            # full: medians of several runs, about 30–40 minutes
#   bench/run-all.sh --quick    # every part for a few seconds (CI: the harness must not rot; numbers not judged)
#
# Results: stdout and bench/results/*.md; the published readings are in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
started=$(date +%s)
echo "# OPM benchmarks — $(date -u '+%F %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)"
echo "# $(rustc --version)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
part() { echo; echo "== $1 ($(($(date +%s) - started)) s in)"; }
part "resolve and render";  bench/resolve-render.sh $mode
part "gateway overhead";    bench/gateway.sh $mode
part "scale";               bench/scale.sh $mode
part "writes";              bench/writes.sh $mode
part "generation pipeline"
if [ "$mode" = "--quick" ]; then
  cargo run -q --profile "${BENCH_PROFILE:-release}" -p opm-server --example recorder_bench -- --seconds 2
else
  cargo run -q --profile "${BENCH_PROFILE:-release}" -p opm-server --example recorder_bench -- --rate 25000 --seconds 10
fi
part "web UI cost";         bench/ui.sh $mode
part "python SDK";          bench/sdk.sh $mode
part "stream coalescing";   bench/stream-coalesce.sh $mode
part "low-rate tail";       bench/low-rate.sh $mode
echo
echo "all benchmarks done in $(($(date +%s) - started)) s"
