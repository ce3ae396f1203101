#!/usr/bin/env bash
# The soak test (not in CI): a steady mixed load on one `opm serve` (SQLite) for a long time, watching
# for leaks and drift. Load, at constant rates with oha (latency correction on), in windows of
# INTERVAL seconds: resolve (GET …/resolve?label=production over 50 prompts), render (POST …/render),
# gateway calls to opm-mock-llm through `/v1/chat/completions` (a managed prompt, 20 ms upstream)
# plain and streaming; plus a writer publishing a version every second and moving `production` every
# fifth. After each window: OPM's resident memory (VmRSS), open file descriptors (/proc/PID/fd),
# threads, and each stream's p99. At the end each series is called flat or not: the median of its
# last quarter against the median of its first quarter (flat: at most 25 % higher, plus a small
# absolute slack: 5 MB, 5 descriptors, 2 ms), and the audit chain is verified.
#
#   bench/soak.sh                 # 30 minutes, a sample every 30 s
#   bench/soak.sh --minutes 5     # 5 minutes, a sample every 15 s
#   bench/soak.sh --quick         # about a minute, a sample every 5 s (harness check)
#
# Results: bench/results/soak-TIMESTAMP.csv (one row per window) and .md (the summary, also printed).
# OPM and the mock are pinned to core 0, oha and the writer to core 1 (bench/lib.sh conventions).
# Rates: BENCH_SOAK_RATES="resolve render gateway stream" (default "200 100 20 10" req/s).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=30; INTERVAL=""
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --quick) MINUTES=1; INTERVAL=5; shift ;;
    --interval) INTERVAL=$2; shift 2 ;;
    *) echo "usage: bench/soak.sh [--minutes N | --quick] [--interval SECONDS]" >&2; exit 2 ;;
  esac
done
if [ -z "$INTERVAL" ]; then if [ "$MINUTES" -ge 30 ]; then INTERVAL=30; else INTERVAL=15; fi; fi
WINDOWS=$((MINUTES * 60 / INTERVAL)); [ "$WINDOWS" -lt 4 ] && WINDOWS=4
read -r RESOLVE_RATE RENDER_RATE GATEWAY_RATE STREAM_RATE <<<"${BENCH_SOAK_RATES:-200 100 20 10}"
OHA_VERSION=1.16.0
if ! command -v oha >/dev/null || [ "$(oha --version | awk '{print $2}')" != "$OHA_VERSION" ]; then
  echo "installing oha $OHA_VERSION with cargo (takes a few minutes)…" >&2
  cargo install oha --version "$OHA_VERSION" --locked -q
fi
# BENCH_PROFILE=dev (CI's --quick run) measures debug binaries: the harness is exercised without a release build; the numbers mean nothing.
BIN_DIR=${BENCH_PROFILE:-release}; BIN_DIR=${BIN_DIR/#dev/debug}
cargo build --profile "${BENCH_PROFILE:-release}" -q -p opm-cli -p opm-mock-llm
OPM=target/${BIN_DIR}/opm; MOCK=target/${BIN_DIR}/opm-mock-llm

. bench/lib.sh
bench_workdir soak
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
csv=bench/results/soak-$stamp.csv
report=bench/results/soak-$stamp.md

mock_port=$(free_port)
taskset -c 0 "$MOCK" --addr "127.0.0.1:$mock_port" --latency-ms 20 >"$work/mock.log" 2>&1 &
pids+=("$!")
mock="http://127.0.0.1:$mock_port"
wait_up "$mock/healthz"
cat >"$work/opm.toml" <<TOML
[gateway.providers.upstream]
type = "openai"
base_url = "$mock/v1"
api_key_env = "BENCH_UPSTREAM_KEY"
TOML
key="opm_soak_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
opm_port=$(free_port)
BENCH_UPSTREAM_KEY=sk-soak OPM_BOOTSTRAP_ADMIN_KEY=$key RUST_LOG=warn taskset -c 0 "$OPM" serve \
  --addr "127.0.0.1:$opm_port" --data-dir "$work/data" --config "$work/opm.toml" >"$work/opm.log" 2>&1 &
opm_pid=$!; pids+=("$opm_pid")
opm="http://127.0.0.1:$opm_port"
wait_up "$opm/healthz"

api() { curl -sf -X "$1" -H "authorization: Bearer $key" -H 'content-type: application/json' -d "$3" "$opm$2" >/dev/null; }
for i in $(seq -w 0 49); do
  api POST "/api/v1/prompts/soak-$i/versions" '{"content": {"type": "text", "template": "Hello {{ customer }}, welcome to {{ product }}.",
    "variables": {"customer": {"type": "string"}, "product": {"type": "string", "default": "OPM"}}}, "message": "seed"}'
  api PUT "/api/v1/prompts/soak-$i/labels/production" '{"version": 1, "reason": "seed"}'
done
api POST /api/v1/prompts/soak-chat/versions '{"content": {"type": "chat", "messages": [
  {"role": "system", "content": "You help with {{ product }}."}, {"role": "user", "content": "Question about {{ product }}"}],
  "variables": {"product": {"type": "string"}}, "model": {"provider": "upstream", "model": "gpt-4o-mini"}}, "message": "seed"}'
api PUT /api/v1/prompts/soak-chat/labels/production '{"version": 1, "reason": "seed"}'
echo '{"label": "production", "variables": {"customer": "Ada"}}' >"$work/body-render.json"
echo '{"model": "opm:soak-chat", "prompt_variables": {"product": "OPM"}}' >"$work/body-gateway.json"
echo '{"model": "opm:soak-chat", "prompt_variables": {"product": "OPM"}, "stream": true}' >"$work/body-stream.json"

# The writer: a new version of soak-writes every second, `production` moved every fifth; bounded by
# the run's length. Counts acknowledged writes in $work/writes.
writer() {
  local n=0 deadline=$((SECONDS + WINDOWS * INTERVAL + 30))
  while [ "$SECONDS" -lt "$deadline" ] && [ ! -e "$work/stop" ]; do
    n=$((n + 1))
    if api POST /api/v1/prompts/soak-writes/versions \
      "{\"content\": {\"type\": \"text\", \"template\": \"write $n\"}, \"message\": \"soak $n\"}"; then
      echo ok >>"$work/writes"
    else echo error >>"$work/writes"; fi
    if [ $((n % 5)) -eq 0 ]; then
      api PUT /api/v1/prompts/soak-writes/labels/production "{\"version\": $n, \"reason\": \"soak\"}" \
        && echo ok >>"$work/writes" || echo error >>"$work/writes"
    fi
    sleep 1
  done
}
writer &
pids+=("$!")
taskset -cp 1 "$!" >/dev/null

# One oha stream for one window: STREAM RATE METHOD PATH [BODY_FILE]; its JSON report to $work/STREAM.json.
oha_window() {
  local stream=$1 rate=$2 method=$3 path=$4 body=${5:-}
  local conns=$((rate / 10 + 10))
  local args=(--no-tui --output-format json --worker-threads 1 -q "$rate" --latency-correction
    -z "${INTERVAL}s" -c "$conns" -w -m "$method" -H "authorization: Bearer $key")
  [ -n "$body" ] && args+=(-T application/json -D "$body")
  timeout $((INTERVAL + 60)) taskset -c 1 oha "${args[@]}" "$opm$path" >"$work/$stream.json"
}
summarize() { python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
out, requests, errors = [], 0, 0
for stream in ["resolve", "render", "gateway", "stream"]:
    d = json.load(open(f"{work}/{stream}.json"))
    codes = {int(k): v for k, v in d["statusCodeDistribution"].items()}
    requests += sum(codes.values()) + sum(d["errorDistribution"].values())
    errors += sum(v for k, v in codes.items() if k != 200) + sum(d["errorDistribution"].values())
    out.append(f"{(d['latencyPercentiles'].get('p99') or float('nan')) * 1000:.3f}")
print(",".join(out + [str(requests), str(errors)]))
PY
}

echo "elapsed_s,rss_mb,fds,threads,resolve_p99_ms,render_p99_ms,gateway_p99_ms,stream_p99_ms,requests,errors" >"$csv"
echo "soak: $MINUTES min ($WINDOWS windows of $INTERVAL s) at resolve $RESOLVE_RATE, render $RENDER_RATE, gateway $GATEWAY_RATE, streaming $STREAM_RATE req/s + 1 write/s; samples in $csv" >&2
started=$SECONDS
for window in $(seq "$WINDOWS"); do
  oha_window resolve "$RESOLVE_RATE" GET "/api/v1/prompts/soak-0$((window % 5))/resolve?label=production" &
  a=$!
  oha_window render "$RENDER_RATE" POST "/api/v1/prompts/soak-1$((window % 10))/render" "$work/body-render.json" &
  b=$!
  oha_window gateway "$GATEWAY_RATE" POST /v1/chat/completions "$work/body-gateway.json" &
  c=$!
  oha_window stream "$STREAM_RATE" POST /v1/chat/completions "$work/body-stream.json" &
  d=$!
  wait "$a" "$b" "$c" "$d"
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$opm_pid/status")
  fds=$(find "/proc/$opm_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
  threads=$(awk '/^Threads/ {print $2}' "/proc/$opm_pid/status")
  row="$((SECONDS - started)),$rss,$fds,$threads,$(summarize)"
  echo "$row" >>"$csv"
  echo "  $row" >&2
done
touch "$work/stop"
verify=$(curl -sf -H "authorization: Bearer $key" "$opm/api/v1/audit/verify")
writes_ok=$(grep -c '^ok' "$work/writes" || true); writes_err=$(grep -c '^error' "$work/writes" || true)

python3 - "$csv" "$report" "$MINUTES" "$INTERVAL" "$verify" "$writes_ok" "$writes_err" \
  "$RESOLVE_RATE $RENDER_RATE $GATEWAY_RATE $STREAM_RATE" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import csv, json, statistics, sys
path, report, minutes, interval, verify, writes_ok, writes_err, rates, cores, load = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
quarter = max(1, len(rows) // 4)
slack = {"rss_mb": 5, "fds": 5, "threads": 2}
lines = [f"Soak: {minutes} min, {len(rows)} windows of {interval} s, rates (resolve render gateway stream) {rates} req/s + 1 write/s; {cores} cores, load average at the end {load}.", "",
         "| series | first quarter (median) | last quarter (median) | max | flat? |", "|---|---|---|---|---|"]
flat_all = True
for column in ["rss_mb", "fds", "threads", "resolve_p99_ms", "render_p99_ms", "gateway_p99_ms", "stream_p99_ms"]:
    values = [float(r[column]) for r in rows]
    first, last = statistics.median(values[:quarter]), statistics.median(values[-quarter:])
    flat = last <= first * 1.25 + slack.get(column, 2.0)
    flat_all &= flat
    lines.append(f"| {column} | {first:.2f} | {last:.2f} | {max(values):.2f} | {'flat' if flat else 'GROWING'} |")
requests = sum(int(r["requests"]) for r in rows)
errors = sum(int(r["errors"]) for r in rows)
chain = json.loads(verify)
lines += ["", f"Requests: {requests}, errors (non-200 or socket): {errors}. Writes acknowledged: {writes_ok}, failed: {writes_err}.",
          f"Audit chain after the run: ok={chain.get('ok')}, {chain.get('checked')} entries.",
          f"Verdict: {'flat' if flat_all else 'NOT flat'}{'' if errors == 0 and writes_err == '0' and chain.get('ok') else ', with ERRORS'}."]
text = "\n".join(lines)
open(report, "w").write(text + "\n")
print(text)
PY
