#!/usr/bin/env bash
# The hot-path benchmark: OPM's resolve (plain label and sticky 50/50 split) and render against a minimal axum server that returns the
# same bytes, side by side in one run, on loopback, with wrk (installed from Debian if missing).
#
#   bench/resolve-render.sh            # 10 s per point, 3 runs, medians with min–max
#   bench/resolve-render.sh --quick    # 2 s per point, 1 run (CI: keeps the harness from rotting)
#
# The server under test is pinned to core 0 and wrk to core 1 (2-core machine): wrk's own cost
# does not eat the server's core. Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=10; RUNS=3; PROMPTS=1000; CONNECTIONS="1 10 50"
if [ "${1:-}" = "--quick" ]; then DURATION=2; RUNS=1; PROMPTS=200; CONNECTIONS="10"; fi

. bench/lib.sh
ensure_wrk
# BENCH_PROFILE=dev (CI's --quick run) measures debug binaries: the harness is exercised without a release build; the numbers mean nothing.
BIN_DIR=${BENCH_PROFILE:-release}; BIN_DIR=${BIN_DIR/#dev/debug}
cargo build --profile "${BENCH_PROFILE:-release}" -q -p opm-cli -p opm-bench-baseline
OPM=target/${BIN_DIR}/opm; BASELINE=target/${BIN_DIR}/opm-bench-baseline

bench_workdir resolve-render

key="opm_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
opm_port=$(free_port)
OPM_BOOTSTRAP_ADMIN_KEY=$key RUST_LOG=warn taskset -c 0 "$OPM" serve --addr "127.0.0.1:$opm_port" --data-dir "$work/data" >"$work/opm.log" 2>&1 &
pids+=($!)
opm="http://127.0.0.1:$opm_port"
wait_up "$opm/healthz"
python3 bench/seed.py "$opm" "$key" "$PROMPTS" >&2

# The baseline answers with exactly OPM's bytes for one prompt.
curl -sf -H "authorization: Bearer $key" "$opm/api/v1/prompts/bench-00000/resolve?label=production" >"$work/get.json"
curl -sf -H "authorization: Bearer $key" -H 'content-type: application/json' \
  -d '{"label":"production","variables":{"customer":"Ada","product":"OPM"}}' \
  "$opm/api/v1/prompts/bench-00000/render" >"$work/post.json"
base_port=$(free_port)
taskset -c 0 "$BASELINE" "127.0.0.1:$base_port" "$work/get.json" "$work/post.json" >/dev/null &
pids+=($!)
base="http://127.0.0.1:$base_port"
wait_up "$base/x"

export OPM_BENCH_KEY=$key OPM_BENCH_PROMPTS=$PROMPTS
# Prints "rps p50_ms p99_ms errors" for one wrk run.
measure() {
  wrk_measure "$1" "$2" "$3" "$DURATION"
}

summarize() { python3 -c '
import statistics, sys
runs = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
cols = list(zip(*runs))
def fmt(values, digits):
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})" if len(values) > 1 else f"{med:.{digits}f}"
print("|".join([fmt(cols[0], 0), fmt(cols[1], 3), fmt(cols[2], 3), str(int(sum(cols[3]))), str(statistics.median(cols[0]))]))'; }

mkdir -p bench/results
out="bench/results/resolve-render-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# resolve/render vs bare axum — $(date -u +%F), $(nproc) cores, $(uname -m), $DURATION s × $RUNS runs, $PROMPTS prompts"
  echo
  echo "| path | connections | OPM req/s | baseline req/s | OPM/baseline throughput | OPM p50 ms | baseline p50 ms | OPM p99 ms | baseline p99 ms | errors (OPM/base) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} | tee "$out"
for path in resolve resolve-split render; do
  for conns in $CONNECTIONS; do
    opm_runs=""; base_runs=""
    for _ in $(seq "$RUNS"); do
      opm_runs+="$(measure "$opm" "$path.lua" "$conns")"$'\n'
      base_runs+="$(measure "$base" "$path.lua" "$conns")"$'\n'
    done
    IFS='|' read -r o_rps o_p50 o_p99 o_err o_med <<<"$(printf '%s' "$opm_runs" | summarize)"
    IFS='|' read -r b_rps b_p50 b_p99 b_err b_med <<<"$(printf '%s' "$base_runs" | summarize)"
    ratio=$(python3 -c "print(f'{$o_med / $b_med:.2f}')")
    echo "| $path | $conns | $o_rps | $b_rps | $ratio | $o_p50 | $b_p50 | $o_p99 | $b_p99 | $o_err/$b_err |" | tee -a "$out"
  done
done
echo
echo "results: $out"
