#!/usr/bin/env bash
# The gateway-overhead benchmark: what a gateway adds to an LLM call. opm-mock-llm answers after a
# fixed 20 ms; oha sends a constant request rate (with latency correction, so a server that falls
# behind shows it) to (a) the mock directly, (b) OPM's `/v1/chat/completions` with a managed prompt,
# which renders it and calls the same mock, and (c) the LiteLLM proxy in front of the same mock.
# Added latency = gateway minus direct, percentile by percentile, run by run (a, b, c interleaved).
#
#   bench/gateway.sh            # 50, 500, 1000, 2000 (and 5000 if OPM held all those) req/s, 10 s per point, 3 runs
#   bench/gateway.sh --quick    # 50 and 500 req/s, 3 s per point, 1 run (CI: keeps the harness from rotting)
#   BENCH_RATES="50" bench/gateway.sh   # only the rates given
#
# All servers (mock, OPM, LiteLLM) are pinned to core 0 and oha to core 1 (2-core machine): the load
# generator shares the machine but not the servers' core. OPM runs as a user runs it (SQLite, metrics
# and stored generations on), except for RUST_LOG=warn (BENCH_RUST_LOG overrides; unset, `opm serve`
# logs at info, one line per generation).
#
# LiteLLM (litellm[proxy] 1.108.0 on Python 3.11, the venv from bench/litellm/setup.sh, pinned in
# bench/litellm/requirements.txt; installed or checked at start, its time printed) runs as a user runs
# it: `litellm --config config.yaml --host 127.0.0.1 --port P`, i.e. uvicorn with LiteLLM's default of
# one worker. One worker, because OPM also gets one core (core 0): `--num_workers 2` pinned to the same
# core would only add a process and memory, and unpinned it would take oha's core. The generated
# config.yaml has one model_list entry, `gpt-4o-mini` → `openai/gpt-4o-mini` with `api_base` = the
# mock's /v1 and a dummy api_key, and `general_settings.master_key` (LiteLLM 1.108 refuses to start
# without one); no database, no callbacks (LiteLLM's default telemetry), LITELLM_LOG=WARNING (which also
# turns off uvicorn's per-request access log) and LITELLM_LOCAL_MODEL_COST_MAP=True (otherwise it
# tries to download its price map at start). LiteLLM has no managed prompt templates in OPM's sense,
# so it is sent the rendered messages directly: the same messages OPM sends upstream (and, streaming,
# `"stream": true` like the OPM client, without stream_options). A rate LiteLLM does not hold (an
# error, or < 95 % of the rate achieved) is reported as not completed, its other runs at that rate are
# skipped, and so are its higher rates (per mode: streaming and not). The 50 req/s point exists for it:
# in a first try here one LiteLLM worker held about 120 req/s non-streaming and 75 streaming. LiteLLM
# gets 4 s of warm-up traffic per mode at start (its first seconds showed one-off stalls of several
# hundred ms) and, like OPM, 2 s at each point's rate; it does no leftover work after a run (checked:
# no CPU time in the seconds after an overloaded run), so it does not spill into the next one.
#
# Then 200 (--quick: 50) sequential requests on one keep-alive connection (curl) give the mean latency one caller
# sees (this catches Nagle + delayed ACK, ~40 ms a request, which a load test does not) and the median
# of the gateway's own overhead header (OPM's `x-opm-overhead-ms`, LiteLLM's
# `x-litellm-overhead-duration-ms`). Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
OHA_VERSION=1.16.0
UPSTREAM_MS=20
DURATION=10; RUNS=3; RATES="50 500 1000 2000"; EXTRA_RATE=5000; SEQUENTIAL=200
if [ "${1:-}" = "--quick" ]; then DURATION=3; RUNS=1; RATES="50 500"; EXTRA_RATE=""; SEQUENTIAL=50; fi
# BENCH_RATES="50" reruns chosen rates only (no 5000 req/s extra point).
if [ -n "${BENCH_RATES:-}" ]; then RATES=$BENCH_RATES; EXTRA_RATE=""; fi
RUST_LOG_LEVEL=${BENCH_RUST_LOG:-warn}
bench_start=$SECONDS

# LiteLLM's venv first: a failed install fails the benchmark (and CI); it is never skipped.
litellm_setup_start=$SECONDS
LITELLM_BIN=$(bench/litellm/setup.sh)
litellm_setup_s=$((SECONDS - litellm_setup_start))
LITELLM_VERSION=$("$LITELLM_BIN/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')
LITELLM_PYTHON=$("$LITELLM_BIN/python" -c 'import platform; print(platform.python_version())')
echo "LiteLLM $LITELLM_VERSION (Python $LITELLM_PYTHON): setup took $litellm_setup_s s" >&2

if ! command -v oha >/dev/null || [ "$(oha --version | awk '{print $2}')" != "$OHA_VERSION" ]; then
  echo "installing oha $OHA_VERSION with cargo (takes a few minutes)…" >&2
  cargo install oha --version "$OHA_VERSION" --locked -q
fi
# BENCH_PROFILE=dev (CI's --quick run) measures debug binaries: the harness is exercised without a release build; the numbers mean nothing.
BIN_DIR=${BENCH_PROFILE:-release}; BIN_DIR=${BIN_DIR/#dev/debug}
cargo build --profile "${BENCH_PROFILE:-release}" -q -p opm-cli -p opm-mock-llm
OPM=target/${BIN_DIR}/opm; MOCK=target/${BIN_DIR}/opm-mock-llm

. bench/lib.sh
bench_workdir gateway

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

# LiteLLM in front of the same mock, configured as the header says.
litellm_key="sk-bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >"$work/litellm.yaml" <<EOF
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: $mock/v1
      api_key: sk-bench
general_settings:
  master_key: $litellm_key
EOF
litellm_port=$(free_port)
litellm_start=$SECONDS
LITELLM_LOG=WARNING LITELLM_LOCAL_MODEL_COST_MAP=True taskset -c 0 "$LITELLM_BIN/litellm" \
  --config "$work/litellm.yaml" --host 127.0.0.1 --port "$litellm_port" >"$work/litellm.log" 2>&1 &
litellm_pid=$!; pids+=("$litellm_pid")
litellm="http://127.0.0.1:$litellm_port"
wait_up "$litellm/health/liveliness" 900 || { tail -20 "$work/litellm.log" >&2; exit 1; }
litellm_startup_s=$((SECONDS - litellm_start))
echo "LiteLLM up in $litellm_startup_s s" >&2

# The direct request is the one OPM sends upstream: the rendered messages (and, streaming, the usage
# chunk OPM always asks for). LiteLLM gets the same messages, and streams as the OPM client asks.
messages='[{"role": "system", "content": "You help with OPM."}, {"role": "user", "content": "Question about OPM"}]'
echo "{\"model\": \"gpt-4o-mini\", \"messages\": $messages}" >"$work/direct-plain.json"
echo "{\"model\": \"gpt-4o-mini\", \"messages\": $messages, \"stream\": true, \"stream_options\": {\"include_usage\": true}}" >"$work/direct-stream.json"
echo '{"model": "opm:bench-chat", "prompt_variables": {"product": "OPM"}}' >"$work/opm-plain.json"
echo '{"model": "opm:bench-chat", "prompt_variables": {"product": "OPM"}, "stream": true}' >"$work/opm-stream.json"
echo "{\"model\": \"gpt-4o-mini\", \"messages\": $messages}" >"$work/litellm-plain.json"
echo "{\"model\": \"gpt-4o-mini\", \"messages\": $messages, \"stream\": true}" >"$work/litellm-stream.json"
url_of() { case $1 in direct) echo "$mock" ;; opm) echo "$opm" ;; litellm) echo "$litellm" ;; esac; }
pid_of() { case $1 in direct) echo "$mock_pid" ;; opm) echo "$opm_pid" ;; litellm) echo "$litellm_pid" ;; esac; }
key_of() { if [ "$1" = litellm ]; then echo "$litellm_key"; else echo "$key"; fi; }

# Every target must answer 200 with the mock's reply: a JSON body with a `choices` array, or an SSE
# stream of chunks with `choices` ending with [DONE].
for mode in plain stream; do
  for target in direct opm litellm; do
    status=$(curl -s -o "$work/answer" -w '%{http_code}' -H "authorization: Bearer $(key_of $target)" \
      -H 'content-type: application/json' -d @"$work/$target-$mode.json" "$(url_of $target)/v1/chat/completions")
    python3 - "$mode" "$work/answer" "$status" <<'PY' || { echo "$target ($mode) did not answer as expected:" >&2; head -c 600 "$work/answer" >&2; exit 1; }
import json, sys
mode, path, status = sys.argv[1:]
body = open(path).read()
assert status == "200", f"status {status}"
if mode == "plain":
    choices = json.loads(body)["choices"]
    assert isinstance(choices, list) and choices, "no choices"
    text = choices[0]["message"]["content"]
else:
    events = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    assert events and events[-1] == "[DONE]", "the stream does not end with [DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(isinstance(chunk["choices"], list) for chunk in chunks), "a chunk without choices"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
assert text == "mock reply to: Question about OPM", f"unexpected reply {text!r}"
PY
  done
done

# tree_ticks, tree_rss_mb, oha_run and held_line are in bench/lib.sh (shared with bench/stream-coalesce.sh).

# One table row from the direct, OPM and LiteLLM runs (files of oha_run lines, run i against run i);
# LiteLLM's state is "run" or "skip". "OPM_HELD LITELLM_HELD" (1/0: no errors, ≥ 95 % of the rate in
# every run) goes to the file in $8.
row() { python3 - "$@" <<'PY'
import statistics, sys
stream, rate, duration, direct_file, opm_file, litellm_file, litellm_state, held_file = sys.argv[1:9]
rate, duration = int(rate), int(duration)
load = lambda path: [list(map(float, line.split())) for line in open(path) if line.strip()]
direct, opm = load(direct_file), load(opm_file)
litellm = load(litellm_file) if litellm_state == "run" else []
def spread(values, digits=3):
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})" if len(values) > 1 else f"{med:.{digits}f}"
col = lambda runs, i: [r[i] for r in runs]
added = lambda runs, i: [g[i] - d[i] for d, g in zip(direct, runs)]
def counts(runs):
    scheduled = rate * duration * len(runs)
    ok, errors = int(sum(col(runs, 3))), int(sum(col(runs, 4)))
    return f"{ok} / {errors} / {scheduled - ok - errors}"
held = lambda runs: bool(runs) and sum(col(runs, 4)) == 0 and min(col(runs, 5)) >= 0.95 * rate
opm_held, litellm_held = held(opm), held(litellm)
open(held_file, "w").write(f"{int(opm_held)} {int(litellm_held)}\n")
cells = [stream, str(rate), spread(col(direct, 0)), spread(col(direct, 1)), spread(col(direct, 2)),
         spread(col(opm, 0)), spread(col(opm, 1)), spread(col(opm, 2)),
         f"**{spread(added(opm, 0))}**", f"**{spread(added(opm, 1))}**", spread(col(opm, 5), 0),
         f"{spread(col(direct, 6), 0)} / {spread(col(opm, 6), 0)}", counts(direct), counts(opm)]
if litellm_state != "run":
    cells += ["skipped: did not hold a lower rate"] + ["—"] * 8
elif not litellm_held:
    cells += ["**not completed**", "—", "—", "—", "—", spread(col(litellm, 5), 0), spread(col(litellm, 6), 0),
              counts(litellm), "—"]
else:
    opm_added_p99 = statistics.median(added(opm, 1))
    litellm_added_p99 = statistics.median(added(litellm, 1))
    if not opm_held:
        ratio = "— (OPM did not hold)"
    elif opm_added_p99 <= 0:
        ratio = "— (OPM added p99 ≤ 0)"
    else:
        r = litellm_added_p99 / opm_added_p99
        ratio = f"**{r:.0f}×**" if r >= 10 else f"**{r:.1f}×**" if r >= 1 else f"**{r:.2f}×**"
    cells += [spread(col(litellm, 0)), spread(col(litellm, 1)), spread(col(litellm, 2)),
              f"**{spread(added(litellm, 0))}**", f"**{spread(added(litellm, 1))}**", spread(col(litellm, 5), 0),
              spread(col(litellm, 6), 0), counts(litellm), ratio]
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
  echo "Servers (mock, OPM, LiteLLM) pinned to core 0, oha to core 1: **the load generator shares the machine.** OPM: RUST_LOG=$RUST_LOG_LEVEL, SQLite."
  echo "LiteLLM $LITELLM_VERSION (Python $LITELLM_PYTHON): \`litellm --config\`, uvicorn with its default 1 worker, master key, no database,"
  echo "no callbacks, LITELLM_LOG=WARNING; it is sent the rendered messages (it has no managed prompts). Setup ${litellm_setup_s} s, startup ${litellm_startup_s} s."
  echo "Added = gateway − direct at the same percentile, run by run. Latencies in ms. CPU = the server process's user + system time"
  echo "per request (mock in direct runs, OPM alone in OPM runs, LiteLLM's process tree in LiteLLM runs)."
  echo "Requests: ok / errors / not sent by the deadline (of rate × duration × runs)."
  echo "LiteLLM **not completed** = a run with an error or under 95 % of the rate: its remaining runs and its higher rates (same stream mode) are skipped."
  echo "Ratio = LiteLLM added p99 / OPM added p99 (medians over runs), where both held the rate."
  echo "Load before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| stream | req/s | direct p50 | direct p99 | direct p99.9 | OPM p50 | OPM p99 | OPM p99.9 | **added p50** | **added p99** | OPM achieved req/s | CPU µs/req mock / OPM | requests direct | requests OPM | LiteLLM p50 | LiteLLM p99 | LiteLLM p99.9 | **LiteLLM added p50** | **LiteLLM added p99** | LiteLLM achieved req/s | CPU µs/req LiteLLM | requests LiteLLM | **LiteLLM / OPM added p99** |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee "$out"

# LiteLLM's first seconds of traffic are slow (one-off stalls of several hundred ms seen here on first
# use, streaming especially): a warm-up per mode, not recorded.
oha_run litellm plain 20 4 >/dev/null
oha_run litellm stream 20 4 >/dev/null

held_all=1
declare -A litellm_on=([plain]=1 [stream]=1)
for rate in $RATES $EXTRA_RATE; do
  if [ "$rate" = "$EXTRA_RATE" ] && [ "$held_all" != 1 ]; then
    echo "| — | $rate | skipped: OPM did not hold a lower rate | | | | | | | | | | | | | | | | | | | | |" | tee -a "$out"
    continue
  fi
  for mode in plain stream; do
    litellm_state=skip; [ "${litellm_on[$mode]}" = 1 ] && litellm_state=run
    # Warm the servers and the gateways' upstream pools at this rate; not recorded.
    oha_run direct "$mode" "$rate" 1 >/dev/null
    oha_run opm "$mode" "$rate" 2 >/dev/null
    [ "$litellm_state" = run ] && oha_run litellm "$mode" "$rate" 2 >/dev/null
    : >"$work/runs-direct"; : >"$work/runs-opm"; : >"$work/runs-litellm"
    litellm_this_rate=$litellm_state
    for _ in $(seq "$RUNS"); do
      oha_run direct "$mode" "$rate" "$DURATION" >>"$work/runs-direct"
      oha_run opm "$mode" "$rate" "$DURATION" >>"$work/runs-opm"
      if [ "$litellm_this_rate" = run ]; then
        line=$(oha_run litellm "$mode" "$rate" "$DURATION")
        echo "$line" >>"$work/runs-litellm"
        # Not held once: not completed at this rate; its other runs here would only cost time.
        held_line "$rate" <<<"$line" || litellm_this_rate=stopped
      fi
    done
    stream=no; [ "$mode" = stream ] && stream=yes
    row "$stream" "$rate" "$DURATION" "$work/runs-direct" "$work/runs-opm" "$work/runs-litellm" "$litellm_state" \
      "$work/held" | tee -a "$out"
    read -r opm_held litellm_held <"$work/held"
    [ "$opm_held" = 1 ] || held_all=0
    [ "$litellm_held" = 1 ] || litellm_on[$mode]=0
  done
done
rss_opm=$(tree_rss_mb "$opm_pid"); rss_litellm=$(tree_rss_mb "$litellm_pid")
# OPM's share that is heap and stacks (anonymous) vs mapped binary and libraries (file).
rss_opm_split=$(awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {printf "%.0f MB anonymous, %.0f MB file-backed", a/1024, f/1024}' "/proc/$opm_pid/status")

# Sequential requests on one keep-alive connection: curl reuses the connection for every URL it is
# given. Prints "mean_ms median_overhead_ms connections_opened".
sequential() {
  local target=$1 mode=$2 header=x-opm-overhead-ms url
  url=$(url_of "$target"); [ "$target" = litellm ] && header=x-litellm-overhead-duration-ms
  local urls=(); for _ in $(seq "$SEQUENTIAL"); do urls+=("$url/v1/chat/completions" -o /dev/null); done
  timeout 120 taskset -c 1 curl -s -H "authorization: Bearer $(key_of "$target")" -H 'content-type: application/json' \
    -d @"$work/$target-$mode.json" -w "%{http_code} %{time_total} %{num_connects} %header{$header}\n" "${urls[@]}" \
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
  echo "time (total − upstream; streaming: time before the upstream call); x-litellm-overhead-duration-ms is LiteLLM's."
  echo
  echo "| stream | direct mean ms | OPM mean ms | **added mean ms** | OPM median x-opm-overhead-ms | connections opened (direct/OPM) | LiteLLM mean ms | **LiteLLM added mean ms** | LiteLLM median x-litellm-overhead-duration-ms | connections opened (LiteLLM) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} | tee -a "$out"
for mode in plain stream; do
  d=$(sequential direct "$mode"); o=$(sequential opm "$mode"); l=$(sequential litellm "$mode")
  read -r d_mean _ d_conns <<<"$d"
  read -r o_mean o_overhead o_conns <<<"$o"
  read -r l_mean l_overhead l_conns <<<"$l"
  stream=no; [ "$mode" = stream ] && stream=yes
  added=$(python3 -c "print(f'{$o_mean - $d_mean:.3f}')")
  l_added=$(python3 -c "print(f'{$l_mean - $d_mean:.3f}')")
  echo "| $stream | $d_mean | $o_mean | **$added** | $o_overhead | $d_conns/$o_conns | $l_mean | **$l_added** | $l_overhead | $l_conns |" | tee -a "$out"
done
{
  echo
  echo "Resident memory after the load: OPM $rss_opm MB ($rss_opm_split), LiteLLM $rss_litellm MB (process tree)."
  echo "Wall time $((SECONDS - bench_start)) s (LiteLLM setup $litellm_setup_s s, startup $litellm_startup_s s)."
  if grep -qE ' (ERROR|WARN) |panicked' "$work/opm.log"; then
    echo; echo "OPM logged warnings or errors (first 5):"; grep -E ' (ERROR|WARN) |panicked' "$work/opm.log" | head -5
  fi
  if grep -qE 'ERROR|Traceback' "$work/litellm.log"; then
    echo; echo "LiteLLM logged errors (first 5 lines):"; grep -E 'ERROR|Traceback' "$work/litellm.log" | head -5
  fi
} | tee -a "$out"
echo
echo "results: $out"
