#!/usr/bin/env bash
# What the embedded web UI costs the API: the same release binary serving the same seeded store
# with the UI (default) and without it (`--no-ui`), side by side in one run: startup time to a
# healthy /healthz, RSS, and resolve throughput/latency with wrk (runs interleaved); plus the
# UI's own prompt page (signed in) for scale.
#
#   bench/ui.sh            # 10 s per point, 3 interleaved runs, startup × 5
#   bench/ui.sh --quick    # 2 s per point, 1 run, startup × 2 (CI: keeps the harness from rotting)
#
# Servers are pinned to core 0 and wrk to core 1. Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=10; RUNS=3; PROMPTS=1000; STARTS=5; CONNS=10
if [ "${1:-}" = "--quick" ]; then DURATION=2; RUNS=1; PROMPTS=200; STARTS=2; fi

. bench/lib.sh
ensure_wrk
# BENCH_PROFILE=dev (CI's --quick run) measures debug binaries: the harness is exercised without a release build; the numbers mean nothing.
BIN_DIR=${BENCH_PROFILE:-release}; BIN_DIR=${BIN_DIR/#dev/debug}
cargo build --profile "${BENCH_PROFILE:-release}" -q -p opm-cli
OPM=target/${BIN_DIR}/opm
bench_workdir ui

key="opm_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export OPM_BOOTSTRAP_ADMIN_KEY=$key RUST_LOG=warn OPM_BENCH_KEY=$key OPM_BENCH_PROMPTS=$PROMPTS

# Seed one store, then give each mode its own copy (both start from identical bytes).
port=$(free_port)
"$OPM" serve --addr "127.0.0.1:$port" --data-dir "$work/seed" >"$work/seed.log" 2>&1 &
seed_pid=$!
wait_up "http://127.0.0.1:$port/healthz"
python3 bench/seed.py "http://127.0.0.1:$port" "$key" "$PROMPTS" >&2
kill "$seed_pid"; wait "$seed_pid" 2>/dev/null || true
cp -r "$work/seed" "$work/ui"; cp -r "$work/seed" "$work/api"

flag() { [ "$1" = api ] && echo "--no-ui" || true; }

# Startup: exec to the first healthy /healthz, in ms (medians over STARTS, modes alternating).
startup() {
  local mode=$1 p t0 pid
  p=$(free_port)
  t0=$(date +%s%N)
  taskset -c 0 "$OPM" serve --addr "127.0.0.1:$p" --data-dir "$work/$mode" $(flag "$mode") >>"$work/$mode.log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$p/healthz" >/dev/null 2>&1; do sleep 0.005; done
  echo $((($(date +%s%N) - t0) / 1000000))
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
declare -A starts=([ui]="" [api]="")
for _ in $(seq "$STARTS"); do
  for mode in api ui; do starts[$mode]+="$(startup "$mode") "; done
done

declare -A url
for mode in api ui; do
  p=$(free_port)
  taskset -c 0 "$OPM" serve --addr "127.0.0.1:$p" --data-dir "$work/$mode" $(flag "$mode") >>"$work/$mode.log" 2>&1 &
  pids+=($!)
  url[$mode]="http://127.0.0.1:$p"
  wait_up "${url[$mode]}/healthz"
done
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$(pgrep -f "serve --addr ${url[$1]#http://}" | head -1)/status"; }

# wrk → "rps p50_ms p99_ms errors"
measure() {
  wrk_measure "$1" "$2" "$CONNS" "$DURATION"
}
median() { python3 -c 'import statistics, sys; v = [float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.3f}".rstrip("0").rstrip("."))' "$@"; }

declare -A rps p50 p99 errs
for _ in $(seq "$RUNS"); do
  for mode in api ui; do
    read -r r a b e <<<"$(measure "${url[$mode]}" resolve.lua)"
    [[ -n $e ]] || { echo "the wrk run against $mode failed" >&2; exit 1; }
    rps[$mode]+="$r "; p50[$mode]+="$a "; p99[$mode]+="$b "; errs[$mode]=$(( ${errs[$mode]:-0} + e ))
  done
done

# The UI page itself, signed in (curl does the form: login CSRF cookie + token, then the session cookie).
jar="$work/cookies"
token=$(curl -sf -c "$jar" "${url[ui]}/ui/login" | python3 -c 'import re,sys; print(re.search(r"name=\"csrf\" value=\"([0-9a-f]+)\"", sys.stdin.read()).group(1))')
curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$token" --data-urlencode "key=$key" --data-urlencode "next=/ui/" "${url[ui]}/ui/login"
export OPM_BENCH_COOKIE=$(awk '$6 == "opm_session" {print $7}' "$jar")
[ -n "$OPM_BENCH_COOKIE" ] || { echo "could not sign in to the UI" >&2; exit 1; }
read -r page_rps page_p50 page_p99 page_err <<<"$(measure "${url[ui]}" ui-page.lua)"
[[ -n $page_err ]] || { echo "the wrk run against the UI page failed" >&2; exit 1; }

mkdir -p bench/results
out="bench/results/ui-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# the web UI's cost to the API — $(date -u +%F), $(nproc) cores, $DURATION s × $RUNS runs (interleaved), $PROMPTS prompts, $CONNS connections"
  echo
  echo "| server | startup ms (median of $STARTS) | RSS after the runs, MB | resolve req/s | resolve p50 ms | resolve p99 ms | errors |"
  echo "|---|---|---|---|---|---|---|"
  for mode in api ui; do
    name=$([ "$mode" = api ] && echo "opm serve --no-ui" || echo "opm serve (UI on)")
    echo "| $name | $(median ${starts[$mode]}) | $(rss "$mode") | $(median ${rps[$mode]}) | $(median ${p50[$mode]}) | $(median ${p99[$mode]}) | ${errs[$mode]} |"
  done
  echo
  echo "resolve throughput with the UI / without: $(python3 -c "import statistics as s; a=[float(x) for x in '${rps[ui]}'.split()]; b=[float(x) for x in '${rps[api]}'.split()]; print(f'{s.median(a)/s.median(b):.3f}')")"
  echo "UI prompt page (signed in): $page_rps req/s, p50 $page_p50 ms, p99 $page_p99 ms, $page_err errors"
} | tee "$out"
echo
echo "results: $out"
