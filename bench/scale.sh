#!/usr/bin/env bash
# The scale benchmark (issue #7, part 3): startup time, memory and resolve latency of `opm serve`
# (SQLite, the default) as the store grows. Three stores, each seeded through the `Store` calls the
# server makes (crates/opm-store/examples/seed_versions.rs: a version per call, every version
# audited, a `production` label on each prompt):
#   tiny     10 prompts × 1 version
#   history  N/10 prompts × 10 versions   (N versions: the startup target)
#   wide     N prompts × 1 version         (N prompts: resolve at scale)
# with N = 100,000 (--quick: 10,000). For each store:
#   - startup: exec → first 200 from GET /readyz, one first start (creates the admin key) and the
#     median of 5 more (--quick: 3); VmRSS and VmHWM from /proc half a second after ready (idle);
#   - resolve: GET /api/v1/prompts/NAME/resolve?label=production with wrk at 10 connections,
#     first a cold pass (every prompt once, in order: each request loads its prompt from the
#     database), then warm passes (random prompts, every one cached), 3 × 10 s, medians with
#     min–max (--quick: 1 × 3 s);
#     VmRSS sampled every 100 ms during each pass (max reported), VmHWM after.
#
#   bench/scale.sh            # N = 100,000: a few minutes, most of it seeding
#   bench/scale.sh --quick    # N = 10,000 (CI: keeps the harness from rotting)
#
# Seeding writes to /dev/shm when it exists (commits there skip the disk flush: about twice as fast)
# and the database is then copied to a temporary directory on disk, where the server runs.
# The server is pinned to core 0; wrk, the readiness poller and the memory sampler to core 1.
# Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=100000; DURATION=10; RUNS=3; STARTS=5; CONNECTIONS=10; COLD_LIMIT=300
if [ "${1:-}" = "--quick" ]; then SCALE=10000; DURATION=3; RUNS=1; STARTS=3; COLD_LIMIT=60; fi

. bench/lib.sh
ensure_wrk
# BENCH_PROFILE=dev (CI's --quick run) measures debug binaries: the harness is exercised without a release build; the numbers mean nothing.
BIN_DIR=${BENCH_PROFILE:-release}; BIN_DIR=${BIN_DIR/#dev/debug}
cargo build --profile "${BENCH_PROFILE:-release}" -q -p opm-cli -p opm-store --example seed_versions
OPM=target/${BIN_DIR}/opm; SEED=target/${BIN_DIR}/examples/seed_versions

bench_workdir scale
seed_root=$work
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  seed_root=$(mktemp -d /dev/shm/opm-bench-scale.XXXXXX)
  cleanup_paths+=("$seed_root")
fi
mb() { python3 -c "print(f'{$1 / 1024:.1f}')"; }
status_kb() { awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/status"; }

key="opm_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export OPM_BENCH_KEY=$key

# Starts `opm serve` on a store STARTS+1 times; writes to OUT
# "first_ms median_ms min_ms max_ms rss_idle_kb hwm_idle_kb" (memory: median over the measured starts).
# The caller runs it in the background, so the cleanup trap can stop it.
measure_startup() {
  local data=$1 out=$2
  taskset -c 1 python3 - "$OPM" "$data" "$STARTS" "$key" >"$out" <<'EOF'
import os, signal, socket, statistics, subprocess, sys, time
opm, data, starts, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
env = dict(os.environ, OPM_BOOTSTRAP_ADMIN_KEY=key, RUST_LOG="warn")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False

def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0

server = None
def stop(*_):
    if server is not None:
        server.terminate()
    sys.exit(1)
signal.signal(signal.SIGTERM, stop)

times, rss, hwm = [], [], []
for run in range(starts + 1):
    port = free_port()
    started = time.monotonic()
    server = subprocess.Popen([opm, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", data], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    deadline = started + 60
    while not ready(port):
        if time.monotonic() > deadline or server.poll() is not None:
            sys.exit(f"opm serve on {data} did not become ready")
        time.sleep(0.002)
    times.append((time.monotonic() - started) * 1000)
    time.sleep(0.5)
    rss.append(status_kb(server.pid, "VmRSS")); hwm.append(status_kb(server.pid, "VmHWM"))
    server.terminate(); server.wait(timeout=30)
first, measured = times[0], times[1:]
print(f"{first:.0f} {statistics.median(measured):.0f} {min(measured):.0f} {max(measured):.0f} "
      f"{statistics.median(rss[1:]):.0f} {statistics.median(hwm[1:]):.0f}")
EOF
}

# Samples VmRSS (kB) of PID every 100 ms into FILE until killed.
sample_rss() {
  local pid=$1 file=$2
  while kill -0 "$pid" 2>/dev/null; do status_kb "$pid" VmRSS >>"$file" 2>/dev/null || true; sleep 0.1; done
}

# One wrk run; prints "requests rps p50_ms p99_ms errors consistent". consistent is 0 when wrk's
# mean latency × req/s is over twice the connections (Little's law: requests in flight =
# throughput × mean latency ≤ connections): wrk's latency figures then cannot be right (seen on a
# heavily shared machine, with p99s of seconds at tens of thousands of req/s), and the table marks
# them with †. (On a normal run the product comes out at 1.0–1.2 × the connections.)
run_wrk() {
  local url=$1 pass=$2 prompts=$3 duration=$4
  OPM_BENCH_PASS=$pass OPM_BENCH_PROMPTS=$prompts taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${duration}s" --timeout 10s \
    --latency -s bench/scale-resolve.lua "$url" 2>&1 | CONNECTIONS=$CONNECTIONS python3 -c '
import os, re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\b", text, re.M)
    if not m: return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
cold = re.search(r"cold pass: (\d+) answered in ([\d.]+) s", text)
if cold:
    requests, rps = int(cold.group(1)), int(cold.group(1)) / float(cold.group(2))
errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors += sum(int(x) for x in sock.groups()) if sock else 0
p50, p99, mean = ms("50%"), ms("99%"), ms("Latency")
consistent = int(not rps * mean / 1000 > 2 * int(os.environ["CONNECTIONS"]))
print(f"{requests} {rps:.0f} {p50:.3f} {p99:.3f} {errors} {consistent}")'
}

# Reads run_wrk lines; prints "rps p50 p99 errors" as medians with min–max when there are
# several (errors summed; † on the latencies when a run failed the consistency check).
summarize() { python3 -c '
import statistics, sys
runs = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
cols = list(zip(*runs))
def fmt(values, digits):
    med = statistics.median(values)
    return f"{med:.{digits}f}&nbsp;({min(values):.{digits}f}–{max(values):.{digits}f})" if len(values) > 1 else f"{med:.{digits}f}"
mark = "" if all(cols[5]) else "†"
print(fmt(cols[1], 0), fmt(cols[2], 3) + mark, fmt(cols[3], 3) + mark, int(sum(cols[4])))'; }

# Resolve passes on a running server; writes one table row's measurements to OUT.
measure_resolve() {
  local data=$1 prompts=$2 out=$3
  local port; port=$(free_port)
  OPM_BOOTSTRAP_ADMIN_KEY=$key RUST_LOG=warn taskset -c 0 "$OPM" serve --addr "127.0.0.1:$port" --data-dir "$data" \
    >"$data/serve.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  local url="http://127.0.0.1:$port"
  wait_up "$url/readyz"
  sleep 0.5
  local rss_idle; rss_idle=$(status_kb "$pid" VmRSS)
  taskset -c 1 bash -c "$(declare -f status_kb sample_rss); sample_rss $pid $data/rss-cold" &
  local sampler=$!
  local cold; cold=$(run_wrk "$url" cold "$prompts" "$COLD_LIMIT")
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  taskset -c 1 bash -c "$(declare -f status_kb sample_rss); sample_rss $pid $data/rss-warm" &
  sampler=$!
  local warm="" _run
  for _run in $(seq "$RUNS"); do warm+="$(run_wrk "$url" warm "$prompts" "$DURATION")"$'\n'; done
  warm=$(printf '%s' "$warm" | summarize)
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  sleep 1
  local rss_after hwm; rss_after=$(status_kb "$pid" VmRSS); hwm=$(status_kb "$pid" VmHWM)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local cold_max warm_max
  cold_max=$(sort -n "$data/rss-cold" | tail -n 1); warm_max=$(sort -n "$data/rss-warm" | tail -n 1)
  echo "$cold|$warm|$rss_idle|${cold_max:-0}|${warm_max:-0}|$rss_after|$hwm" >"$out"
}

commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates bench/scale.sh bench/scale-resolve.lua || echo "+dirty")
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mkdir -p bench/results
out="bench/results/scale-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# scale — $(date -u '+%F %H:%M UTC'), N = $SCALE$([ "$SCALE" = 10000 ] && echo ' (--quick)')"
  echo
  echo "$(nproc) cores ($cpu), $(uname -m), $(rustc --version), OPM commit $commit, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run."
  echo "SQLite store (synchronous=FULL, WAL); server on core 0, wrk on core 1; resolve at $CONNECTIONS connections."
  echo
} | tee "$out"

declare -A seeded startup resolve
stores="tiny history wide"
for store in $stores; do
  case $store in
    tiny) prompts=10; versions=1 ;;
    history) prompts=$((SCALE / 10)); versions=10 ;;
    wide) prompts=$SCALE; versions=1 ;;
  esac
  mkdir -p "$seed_root/$store" "$work/$store"
  echo "seeding $store: $prompts prompts × $versions versions…" >&2
  seed_line=$("$SEED" --database-url "sqlite://$seed_root/$store/opm.db" --prompts "$prompts" --versions "$versions")
  echo "  $seed_line" >&2
  seed_seconds=$(sed -E 's/.* in ([0-9.]+) s.*/\1/' <<<"$seed_line")
  for file in opm.db opm.db-wal; do
    if [ -f "$seed_root/$store/$file" ]; then mv "$seed_root/$store/$file" "$work/$store/$file"; fi
  done
  rm -rf "${seed_root:?}/$store"
  seeded[$store]="$prompts|$versions|$seed_seconds|$(du -m "$work/$store/opm.db" | cut -f1)"
  echo "startup: $store…" >&2
  measure_startup "$work/$store" "$work/startup-$store" &
  pids+=($!); wait $!
  startup[$store]=$(cat "$work/startup-$store")
  echo "resolve: $store…" >&2
  measure_resolve "$work/$store" "$prompts" "$work/resolve-$store"
  resolve[$store]=$(cat "$work/resolve-$store")
  rm -rf "${work:?}/$store"
done

{
  echo "## Startup (exec → first 200 from /readyz) and idle memory"
  echo
  echo "| store | prompts × versions | seeding | database | first start | startup, median of $STARTS (min–max) | VmRSS idle | VmHWM idle |"
  echo "|---|---|---|---|---|---|---|---|"
  for store in $stores; do
    IFS='|' read -r prompts versions seed_seconds db_mb <<<"${seeded[$store]}"
    read -r first median low high rss hwm <<<"${startup[$store]}"
    echo "| $store | $prompts × $versions | $seed_seconds s | $db_mb MB | $first ms | **$median ms** ($low–$high) | $(mb "$rss") MB | $(mb "$hwm") MB |"
  done
  echo
  echo "## Resolve at $CONNECTIONS connections, and memory under load"
  echo
  echo "Cold: one pass over every prompt in order, each request's prompt loaded from the database (req/s over the pass's own span)."
  echo "Warm: random prompts, all cached, $RUNS × $DURATION s$([ "$RUNS" -gt 1 ] && echo ', median (min–max)')."
  echo
  echo "† wrk's latencies fail Little's law (mean latency × req/s > 2 × connections): wrong, rerun on a quieter machine."
  echo
  echo "| store | prompts | cold requests | cold req/s | cold p50 ms | cold p99 ms | warm req/s | **warm p50 ms** | **warm p99 ms** | errors cold/warm | VmRSS idle → max cold → max warm → after | VmHWM |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for store in $stores; do
    IFS='|' read -r prompts _ _ _ <<<"${seeded[$store]}"
    IFS='|' read -r cold warm rss_idle cold_max warm_max rss_after hwm <<<"${resolve[$store]}"
    read -r c_requests c_rps c_p50 c_p99 c_errors c_consistent <<<"$cold"
    [ "$c_consistent" = 1 ] || { c_p50+="†"; c_p99+="†"; }
    read -r w_rps w_p50 w_p99 w_errors <<<"$warm"
    echo "| $store | $prompts | $c_requests | $c_rps | $c_p50 | $c_p99 | $w_rps | **$w_p50** | **$w_p99** | $c_errors/$w_errors | $(mb "$rss_idle") → $(mb "$cold_max") → $(mb "$warm_max") → $(mb "$rss_after") MB | $(mb "$hwm") MB |"
  done
} | tee -a "$out"
echo
echo "results: $out"
