#!/usr/bin/env bash
# The gateway-overhead benchmark: what OPM adds to an LLM call. opm-mock-llm answers after a fixed
# 20 ms; oha sends a constant request rate (with latency correction, so a server that falls behind
# shows it) to (a) the mock directly and (b) OPM's `/v1/chat/completions` with a managed prompt, which
# renders it and calls the same mock. Added latency = OPM minus direct, percentile by percentile.
#
#   bench/gateway.sh            # 500, 1000, 2000 (and 5000 if all those held) req/s, 10 s per point, 3 runs
#   bench/gateway.sh --quick    # 500 req/s, 3 s per point, 1 run (CI: keeps the harness from rotting)
#
# Both servers are pinned to core 0 and oha to core 1 (2-core machine): the load generator shares the
# machine but not the servers' core. OPM runs as a user runs it, except for RUST_LOG=warn
# (BENCH_RUST_LOG overrides; unset, `opm serve` logs at info, one line per generation).
# Then 200 (--quick: 50) sequential requests on one keep-alive connection (curl) give the mean latency one caller
# sees (this catches Nagle + delayed ACK, ~40 ms a request, which a load test does not) and the median
# of OPM's own `x-opm-overhead-ms` header. Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
OHA_VERSION=1.16.0
UPSTREAM_MS=20
DURATION=10; RUNS=3; RATES="500 1000 2000"; EXTRA_RATE=5000; SEQUENTIAL=200
if [ "${1:-}" = "--quick" ]; then DURATION=3; RUNS=1; RATES="500"; EXTRA_RATE=""; SEQUENTIAL=50; fi
RUST_LOG_LEVEL=${BENCH_RUST_LOG:-warn}

if ! command -v oha >/dev/null || [ "$(oha --version | awk '{print $2}')" != "$OHA_VERSION" ]; then
  echo "installing oha $OHA_VERSION with cargo (takes a few minutes)…" >&2
  cargo install oha --version "$OHA_VERSION" --locked -q
fi
cargo build --release -q -p opm-cli -p opm-mock-llm
OPM=target/release/opm; MOCK=target/release/opm-mock-llm

work=$(mktemp -d /tmp/opm-bench-gateway.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "server at $1 did not start" >&2; exit 1; }

mock_port=$(free_port)
taskset -c 0 "$MOCK" --addr "127.0.0.1:$mock_port" --latency-ms "$UPSTREAM_MS" >"$work/mock.log" 2>&1 &
mock_pid=$!; pids+=("$mock_pid")
mock="http://127.0.0.1:$mock_port"
wait_up "$mock/healthz"

cat >"$work/opm.toml" <<EOF
[gateway.providers.upstream]
type = "openai"
base_url = "$mock/v1"
api_key_env = "BENCH_UPSTREAM_KEY"
EOF
key="opm_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
opm_port=$(free_port)
BENCH_UPSTREAM_KEY=sk-bench OPM_BOOTSTRAP_ADMIN_KEY=$key RUST_LOG=$RUST_LOG_LEVEL taskset -c 0 "$OPM" serve \
  --addr "127.0.0.1:$opm_port" --data-dir "$work/data" --config "$work/opm.toml" >"$work/opm.log" 2>&1 &
opm_pid=$!; pids+=("$opm_pid")
opm="http://127.0.0.1:$opm_port"
wait_up "$opm/healthz"

# One managed prompt with a variable, in production.
api() { curl -sf -X "$1" -H "authorization: Bearer $key" -H 'content-type: application/json' -d "$3" "$opm$2" >/dev/null; }
api POST /api/v1/prompts/bench-chat/versions '{"content": {"type": "chat", "messages": [
  {"role": "system", "content": "You help with {{ product }}."}, {"role": "user", "content": "Question about {{ product }}"}],
  "variables": {"product": {"type": "string"}}, "model": {"provider": "upstream", "model": "gpt-4o-mini"}}, "message": "seed"}'
api PUT /api/v1/prompts/bench-chat/labels/production '{"version": 1, "reason": "seed"}'

# The direct request is the one OPM sends upstream: the rendered messages (and, streaming, the usage
# chunk OPM always asks for).
messages='[{"role": "system", "content": "You help with OPM."}, {"role": "user", "content": "Question about OPM"}]'
echo "{\"model\": \"gpt-4o-mini\", \"messages\": $messages}" >"$work/direct-plain.json"
echo "{\"model\": \"gpt-4o-mini\", \"messages\": $messages, \"stream\": true, \"stream_options\": {\"include_usage\": true}}" >"$work/direct-stream.json"
echo '{"model": "opm:bench-chat", "prompt_variables": {"product": "OPM"}}' >"$work/opm-plain.json"
echo '{"model": "opm:bench-chat", "prompt_variables": {"product": "OPM"}, "stream": true}' >"$work/opm-stream.json"
for mode in plain stream; do
  for target in direct opm; do
    url=$mock; [ "$target" = opm ] && url=$opm
    curl -sf -H "authorization: Bearer $key" -H 'content-type: application/json' -d @"$work/$target-$mode.json" \
      "$url/v1/chat/completions" | grep 'mock reply to: Question about OPM\|" OPM"' >/dev/null \
      || { echo "$target ($mode) did not answer as expected" >&2; exit 1; }
  done
done

# Runs oha once; prints "p50_ms p99_ms p999_ms ok errors achieved_rps server_cpu_us_per_request", where
# the server is the mock for direct runs and OPM (alone, without the mock) for OPM runs.
oha_run() {
  local target=$1 mode=$2 rate=$3 seconds=$4 url=$mock pid=$mock_pid
  if [ "$target" = opm ]; then url=$opm; pid=$opm_pid; fi
  local conns=$((rate * UPSTREAM_MS * 4 / 1000)); [ "$conns" -lt 20 ] && conns=20
  local ticks_before; ticks_before=$(cpu_ticks "$pid")
  timeout $((seconds + 60)) taskset -c 1 oha --no-tui --output-format json --worker-threads 1 \
    -q "$rate" --latency-correction -z "${seconds}s" -c "$conns" -w -m POST \
    -H "authorization: Bearer $key" -T application/json -D "$work/$target-$mode.json" \
    "$url/v1/chat/completions" >"$work/oha.json"
  python3 - "$work/oha.json" "$(($(cpu_ticks "$pid") - ticks_before))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
ms = lambda key: (p.get(key) or float("nan")) * 1000
codes = {int(k): v for k, v in d["statusCodeDistribution"].items()}
ok = codes.get(200, 0)
errors = sum(v for k, v in codes.items() if k != 200) + sum(d["errorDistribution"].values())
cpu_us = int(sys.argv[2]) / int(sys.argv[3]) * 1e6 / max(ok + errors, 1)
p50, p99, p999, rps = ms("p50"), ms("p99"), ms("p99.9"), d["summary"]["requestsPerSec"]
print(f"{p50:.3f} {p99:.3f} {p999:.3f} {ok} {errors} {rps:.0f} {cpu_us:.0f}")
PY
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One table row from the direct and OPM runs (files of oha_run lines, run i against run i); "held"
# (no errors, ≥ 95 % of the rate in every OPM run) goes to the file in $5.
row() { python3 - "$@" <<'PY'
import statistics, sys
stream, rate, direct_file, opm_file, held_file = sys.argv[1:6]
direct = [list(map(float, l.split())) for l in open(direct_file) if l.strip()]
opm = [list(map(float, l.split())) for l in open(opm_file) if l.strip()]
def spread(values, digits=3):
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})" if len(values) > 1 else f"{med:.{digits}f}"
col = lambda runs, i: [r[i] for r in runs]
added = lambda i: [o[i] - d[i] for d, o in zip(direct, opm)]
scheduled = int(rate) * int(sys.argv[6]) * len(opm)
counts = lambda runs: f"{int(sum(col(runs, 3)))} / {int(sum(col(runs, 4)))} / {scheduled - int(sum(col(runs, 3)) + sum(col(runs, 4)))}"
held = sum(col(opm, 4)) == 0 and min(col(opm, 5)) >= 0.95 * int(rate)
open(held_file, "w").write("1" if held else "0")
cells = [stream, rate, spread(col(direct, 0)), spread(col(direct, 1)), spread(col(direct, 2)),
         spread(col(opm, 0)), spread(col(opm, 1)), spread(col(opm, 2)),
         f"**{spread(added(0))}**", f"**{spread(added(1))}**", spread(col(opm, 5), 0),
         f"{spread(col(direct, 6), 0)} / {spread(col(opm, 6), 0)}", counts(direct), counts(opm)]
print("| " + " | ".join(cells) + " |")
PY
}

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="bench/results/gateway-$stamp.md"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo "# Gateway overhead — $(date -u '+%F %H:%M UTC'), $(nproc) cores ($cpu), $(uname -m)"
  echo
  echo "opm-mock-llm answers after $UPSTREAM_MS ms. oha $(oha --version | awk '{print $2}'), constant rate with latency correction,"
  echo "$DURATION s × $RUNS runs per point (median, min–max over runs), connections = rate × $UPSTREAM_MS ms × 4 (at least 20)."
  echo "Servers (mock and OPM) pinned to core 0, oha to core 1: **the load generator shares the machine.** OPM: RUST_LOG=$RUST_LOG_LEVEL, SQLite."
  echo "Added = OPM − direct at the same percentile, run by run. Latencies in ms. CPU = the server process's user + system time"
  echo "per request (mock in direct runs, OPM alone in OPM runs). Requests: ok / errors / not sent by the deadline (of rate × duration × runs)."
  echo "Load before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| stream | req/s | direct p50 | direct p99 | direct p99.9 | OPM p50 | OPM p99 | OPM p99.9 | **added p50** | **added p99** | OPM achieved req/s | CPU µs/req mock / OPM | requests direct | requests OPM |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee "$out"

held_all=1
for rate in $RATES $EXTRA_RATE; do
  if [ "$rate" = "$EXTRA_RATE" ] && [ "$held_all" != 1 ]; then
    echo "| — | $rate | skipped: OPM did not hold a lower rate | | | | | | | | | | | |" | tee -a "$out"
    continue
  fi
  for mode in plain stream; do
    # Warm both servers and OPM's upstream pool at this rate; not recorded.
    oha_run direct "$mode" "$rate" 1 >/dev/null
    oha_run opm "$mode" "$rate" 2 >/dev/null
    : >"$work/runs-direct"; : >"$work/runs-opm"
    for _ in $(seq "$RUNS"); do
      oha_run direct "$mode" "$rate" "$DURATION" >>"$work/runs-direct"
      oha_run opm "$mode" "$rate" "$DURATION" >>"$work/runs-opm"
    done
    stream=no; [ "$mode" = stream ] && stream=yes
    row "$stream" "$rate" "$work/runs-direct" "$work/runs-opm" "$work/held" "$DURATION" | tee -a "$out"
    [ "$(cat "$work/held")" = 1 ] || held_all=0
  done
done

# Sequential requests on one keep-alive connection: curl reuses the connection for every URL it is
# given. Prints "mean_ms median_overhead_ms connections_opened".
sequential() {
  local target=$1 mode=$2 url=$mock
  [ "$target" = opm ] && url=$opm
  local urls=(); for _ in $(seq "$SEQUENTIAL"); do urls+=("$url/v1/chat/completions" -o /dev/null); done
  timeout 120 taskset -c 1 curl -s -H "authorization: Bearer $key" -H 'content-type: application/json' \
    -d @"$work/$target-$mode.json" -w '%{http_code} %{time_total} %{num_connects} %header{x-opm-overhead-ms}\n' "${urls[@]}" \
    | python3 -c '
import statistics, sys
rows = [line.split() for line in sys.stdin if line.strip()]
assert all(row[0] == "200" for row in rows), "a sequential request failed"
overheads = [float(row[3]) for row in rows if len(row) > 3]
print(f"{statistics.mean(float(row[1]) for row in rows) * 1000:.3f}",
      f"{statistics.median(overheads):.3f}" if overheads else "—", sum(int(row[2]) for row in rows))'
}
{
  echo
  echo "$SEQUENTIAL sequential requests on one keep-alive connection (curl, core 1); x-opm-overhead-ms is OPM's own"
  echo "time (total − upstream; streaming: time before the upstream call)."
  echo
  echo "| stream | direct mean ms | OPM mean ms | **added mean ms** | OPM median x-opm-overhead-ms | connections opened (direct/OPM) |"
  echo "|---|---|---|---|---|---|"
} | tee -a "$out"
for mode in plain stream; do
  d=$(sequential direct "$mode"); o=$(sequential opm "$mode")
  read -r d_mean _ d_conns <<<"$d"
  read -r o_mean o_overhead o_conns <<<"$o"
  stream=no; [ "$mode" = stream ] && stream=yes
  added=$(python3 -c "print(f'{$o_mean - $d_mean:.3f}')")
  echo "| $stream | $d_mean | $o_mean | **$added** | $o_overhead | $d_conns/$o_conns |" | tee -a "$out"
done
if grep -qE ' (ERROR|WARN) |panicked' "$work/opm.log"; then
  echo; echo "OPM logged warnings or errors (first 5):"; grep -E ' (ERROR|WARN) |panicked' "$work/opm.log" | head -5
fi | tee -a "$out"
echo
echo "results: $out"
