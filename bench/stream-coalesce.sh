#!/usr/bin/env bash
# Streaming with and without SSE write coalescing (issue #17): the same `opm` binary twice, once
# writing each event on its own (OPM_STREAM_COALESCE_FRAMES=1, how every stream was written before
# coalescing) and once as shipped (events the upstream delivered together leave in one write, at
# most 64), both in front of one opm-mock-llm (20 ms, then the whole stream at once), against the
# mock directly. oha sends a constant rate of streamed `/v1/chat/completions` calls (latency
# correction on); runs interleave direct, per-event and coalesced, and added latency is the OPM
# run minus the direct run, percentile by percentile, run by run.
#
#   bench/stream-coalesce.sh           # 2000 and 5000 req/s, 10 s per point, 3 runs
#   bench/stream-coalesce.sh --quick   # 500 req/s, 3 s, 1 run (keeps the harness from rotting)
#   BENCH_RATES="2000" bench/stream-coalesce.sh
#   BENCH_BIN_DIR=DIR bench/stream-coalesce.sh   # the opm and opm-mock-llm already in DIR, no build
#
# Servers on core 0, oha on core 1 (2-core machine), as in bench/gateway.sh. OPM with SQLite,
# stored generations and metrics on, RUST_LOG=warn. Also printed: each server's CPU per request and
# its resident memory after the runs. Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
OHA_VERSION=1.16.0
UPSTREAM_MS=20
DURATION=10; RUNS=3; RATES="2000 5000"
if [ "${1:-}" = "--quick" ]; then DURATION=3; RUNS=1; RATES="500"; fi
if [ -n "${BENCH_RATES:-}" ]; then RATES=$BENCH_RATES; fi

. bench/lib.sh
bench_binaries
bench_workdir stream-coalesce
start_bench_mock
start_bench_opm each OPM_STREAM_COALESCE_FRAMES=1
start_bench_opm coalesced OPM_STREAM_COALESCE_FRAMES=64

messages='[{"role": "system", "content": "You help with OPM."}, {"role": "user", "content": "Question about OPM"}]'
echo "{\"model\": \"gpt-4o-mini\", \"messages\": $messages, \"stream\": true, \"stream_options\": {\"include_usage\": true}}" >"$work/direct-stream.json"
echo '{"model": "opm:bench-chat", "prompt_variables": {"product": "OPM"}, "stream": true}' >"$work/each-stream.json"
cp "$work/each-stream.json" "$work/coalesced-stream.json"
url_of() { case $1 in direct) echo "$mock" ;; each) echo "$each_url" ;; coalesced) echo "$coalesced_url" ;; esac; }
pid_of() { case $1 in direct) echo "$mock_pid" ;; each) echo "$each_pid" ;; coalesced) echo "$coalesced_pid" ;; esac; }
key_of() { echo "$key"; }

# Both OPMs stream the mock's reply to the end.
for target in each coalesced; do
  body=$(curl -sf -H "authorization: Bearer $key" -H 'content-type: application/json' \
    -d @"$work/$target-stream.json" "$(url_of "$target")/v1/chat/completions")
  grep -q 'data: \[DONE\]' <<<"$body" || { echo "$target did not stream to [DONE]: $body" >&2; exit 1; }
done

results=bench/results/stream-coalesce-$(date -u +%Y%m%dT%H%M%SZ).md
{
  echo "# Streaming: one write per event vs coalesced, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
  echo
  echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg). ${DURATION} s per point, ${RUNS} run(s), medians (min–max). Latencies in ms."
  echo
  echo "| rate | direct p50 | direct p99 | per-event added p50 | per-event added p99 | coalesced added p50 | coalesced added p99 | added p99 ratio (per-event / coalesced) | CPU µs/req per-event / coalesced | errors per-event / coalesced |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} | tee "$results"

for rate in $RATES; do
  for target in each coalesced; do
    # Warm-up at the point's rate.
    oha_run "$target" stream "$rate" 2 >/dev/null
  done
  : >"$work/direct.txt"; : >"$work/each.txt"; : >"$work/coalesced.txt"
  for _ in $(seq "$RUNS"); do
    for target in direct each coalesced; do
      oha_run "$target" stream "$rate" "$DURATION" >>"$work/$target.txt"
    done
  done
  python3 - "$rate" "$work/direct.txt" "$work/each.txt" "$work/coalesced.txt" <<'PY' | tee -a "$results"
import statistics, sys
rate = sys.argv[1]
load = lambda path: [list(map(float, line.split())) for line in open(path) if line.strip()]
direct, each, coalesced = map(load, sys.argv[2:5])
def spread(values, digits=3):
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})" if len(values) > 1 else f"{med:.{digits}f}"
added = lambda runs, i: [g[i] - d[i] for d, g in zip(direct, runs)]
col = lambda runs, i: [r[i] for r in runs]
each_p99, coalesced_p99 = statistics.median(added(each, 1)), statistics.median(added(coalesced, 1))
ratio = f"{each_p99 / coalesced_p99:.2f}" if coalesced_p99 > 0 else "— (coalesced added p99 ≤ 0)"
errors = f"{int(sum(col(each, 4)))} / {int(sum(col(coalesced, 4)))}"
cells = [rate, spread(col(direct, 0)), spread(col(direct, 1)), spread(added(each, 0)), f"**{spread(added(each, 1))}**",
         spread(added(coalesced, 0)), f"**{spread(added(coalesced, 1))}**", ratio,
         f"{spread(col(each, 6), 0)} / {spread(col(coalesced, 6), 0)}", errors]
print("| " + " | ".join(cells) + " |")
PY
done
{
  echo
  echo "Resident memory after the runs: per-event $(tree_rss_mb "$each_pid") MB, coalesced $(tree_rss_mb "$coalesced_pid") MB, mock $(tree_rss_mb "$mock_pid") MB."
} | tee -a "$results"
echo "results: $results" >&2
