# Shared by the benchmark scripts (`. bench/lib.sh`): wrk from Debian, a work directory removed at
# exit together with every process whose pid is added to `pids` (and any extra paths in
# `cleanup_paths`), free loopback ports, and waiting for a server to answer.

ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk from Debian…" >&2
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
  fi
}

# bench_workdir NAME: sets `work` to a fresh /tmp/opm-bench-NAME.XXXXXX and arranges the cleanup.
bench_workdir() {
  work=$(mktemp -d "/tmp/opm-bench-$1.XXXXXX")
  pids=()
  cleanup_paths=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work" "${cleanup_paths[@]}"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_up URL [ATTEMPTS]: polls every 0.1 s (default 300 attempts); fails when it never answers.
wait_up() {
  for _ in $(seq "${2:-300}"); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server at $1 did not start" >&2
  return 1
}

# wrk_measure URL SCRIPT CONNECTIONS SECONDS: one wrk run pinned to core 1 with bench/SCRIPT;
# prints "req/s p50_ms p99_ms errors" (errors: non-2xx/3xx answers plus socket errors).
wrk_measure() {
  taskset -c 1 wrk -t1 -c"$3" -d"$4s" --latency -s "bench/$2" "$1" 2>&1 | python3 -c '
import re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m: return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors += sum(int(x) for x in sock.groups()) if sock else 0
p50, p99 = ms("50%"), ms("99%")
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {errors}")'
}

# Gateway load helpers (bench/gateway.sh, bench/stream-coalesce.sh). oha_run needs the caller's
# `work`, `UPSTREAM_MS` and the functions `url_of TARGET`, `pid_of TARGET` and `key_of TARGET`.

# User + system CPU ticks of a process and its descendants (uvicorn forks workers when asked for more
# than one; threads are included in a process's own figures).
tree_ticks() {
  local tree=("$1") i=0 total=0 stat p
  while [ "$i" -lt "${#tree[@]}" ]; do
    # shellcheck disable=SC2207
    tree+=($(cat /proc/"${tree[$i]}"/task/*/children 2>/dev/null))
    i=$((i + 1))
  done
  for p in "${tree[@]}"; do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    read -ra fields <<<"${stat##*) }" # fields from the 3rd on: utime is the 14th, stime the 15th
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}
# Resident memory of a process and its descendants, in MB.
tree_rss_mb() {
  local tree=("$1") i=0 kb=0 p
  while [ "$i" -lt "${#tree[@]}" ]; do
    # shellcheck disable=SC2207
    tree+=($(cat /proc/"${tree[$i]}"/task/*/children 2>/dev/null))
    i=$((i + 1))
  done
  for p in "${tree[@]}"; do kb=$((kb + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
  echo $((kb / 1024))
}

# Runs oha once; prints "p50_ms p99_ms p999_ms ok errors achieved_rps server_cpu_us_per_request", where
# the server is the mock for direct runs, OPM (alone, without the mock) for OPM runs and LiteLLM's
# process tree for LiteLLM runs.
oha_run() {
  local target=$1 mode=$2 rate=$3 seconds=$4 pid
  pid=$(pid_of "$target")
  local conns=$((rate * UPSTREAM_MS * 4 / 1000)); [ "$conns" -lt 20 ] && conns=20
  local ticks_before; ticks_before=$(tree_ticks "$pid")
  timeout $((seconds + 60)) taskset -c 1 oha --no-tui --output-format json --worker-threads 1 \
    -q "$rate" --latency-correction -z "${seconds}s" -c "$conns" -w -m POST \
    -H "authorization: Bearer $(key_of "$target")" -T application/json -D "$work/$target-$mode.json" \
    "$(url_of "$target")/v1/chat/completions" >"$work/oha.json"
  python3 - "$work/oha.json" "$(($(tree_ticks "$pid") - ticks_before))" "$(getconf CLK_TCK)" <<'PY'
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
# Whether one oha_run line held its rate: no error and at least 95 % of the rate achieved.
held_line() { awk -v rate="$1" '{ exit !($5 == 0 && $6 >= 0.95 * rate) }'; }

# Gateway set-up shared by bench/stream-coalesce.sh and bench/low-rate.sh.
# bench_binaries: sets OPM and MOCK (BENCH_BIN_DIR=DIR: the binaries already in DIR, no build;
# else built with BENCH_PROFILE, default release), and installs oha OHA_VERSION when missing.
bench_binaries() {
  if ! command -v oha >/dev/null || [ "$(oha --version | awk '{print $2}')" != "$OHA_VERSION" ]; then
    echo "installing oha $OHA_VERSION with cargo (takes a few minutes)…" >&2
    cargo install oha --version "$OHA_VERSION" --locked -q
  fi
  if [ -n "${BENCH_BIN_DIR:-}" ]; then
    OPM=$BENCH_BIN_DIR/opm; MOCK=$BENCH_BIN_DIR/opm-mock-llm
  else
    local dir=${BENCH_PROFILE:-release}; dir=${dir/#dev/debug}
    cargo build --profile "${BENCH_PROFILE:-release}" -q -p opm-cli -p opm-mock-llm
    OPM=target/$dir/opm; MOCK=target/$dir/opm-mock-llm
  fi
}

# start_bench_mock: opm-mock-llm on core 0 answering after UPSTREAM_MS; sets mock_pid and mock,
# writes $work/opm.toml (provider `upstream` = the mock) and picks the admin key `key`.
start_bench_mock() {
  local port; port=$(free_port)
  taskset -c 0 "$MOCK" --addr "127.0.0.1:$port" --latency-ms "$UPSTREAM_MS" >"$work/mock.log" 2>&1 &
  mock_pid=$!; pids+=("$mock_pid")
  mock="http://127.0.0.1:$port"
  wait_up "$mock/healthz"
  cat >"$work/opm.toml" <<TOML
[gateway.providers.upstream]
type = "openai"
base_url = "$mock/v1"
api_key_env = "BENCH_UPSTREAM_KEY"
TOML
  key="opm_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

# start_bench_opm NAME [VAR=VALUE…]: an `opm serve` on core 0 with its own data dir and the extra
# environment given, with the managed prompt `bench-chat` in production; sets NAME_pid and NAME_url.
start_bench_opm() {
  local name=$1 port; shift
  port=$(free_port)
  env "$@" BENCH_UPSTREAM_KEY=sk-bench OPM_BOOTSTRAP_ADMIN_KEY="$key" RUST_LOG=warn \
    taskset -c 0 "$OPM" serve --addr "127.0.0.1:$port" --data-dir "$work/$name" --config "$work/opm.toml" \
    >"$work/$name.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  local url="http://127.0.0.1:$port"
  printf -v "${name}_pid" '%s' "$pid"
  printf -v "${name}_url" '%s' "$url"
  wait_up "$url/healthz"
  curl -sf -X POST -H "authorization: Bearer $key" -H 'content-type: application/json' \
    -d '{"content": {"type": "chat", "messages": [{"role": "system", "content": "You help with {{ product }}."},
      {"role": "user", "content": "Question about {{ product }}"}], "variables": {"product": {"type": "string"}},
      "model": {"provider": "upstream", "model": "gpt-4o-mini"}}, "message": "seed"}' \
    "$url/api/v1/prompts/bench-chat/versions" >/dev/null
  curl -sf -X PUT -H "authorization: Bearer $key" -H 'content-type: application/json' \
    -d '{"version": 1, "reason": "seed"}' "$url/api/v1/prompts/bench-chat/labels/production" >/dev/null
}
