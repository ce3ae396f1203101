#!/usr/bin/env bash
# Why OPM's added p99 is higher at 50 req/s than at 500 (issue #17): the same gateway setup as
# bench/gateway.sh (opm-mock-llm answering after 20 ms, OPM's `/v1/chat/completions` with a managed
# prompt, servers on core 0, oha on core 1, constant rate with latency correction), at 50 and
# 500 req/s, each twice: with core 0 left to idle between requests, and with a `nice 19` busy loop
# on core 0 that keeps it from ever halting (it yields to any woken server thread at once). Runs
# interleave direct and OPM; added = OPM minus direct, run by run. Then `perf sched` on core 0 during
# one OPM run per rate (no busy loop) gives the time OPM's threads wait from their wake-up to running.
#
#   bench/low-rate.sh            # 10 s per point, 3 runs
#   bench/low-rate.sh --quick    # 3 s, 1 run
#   BENCH_BIN_DIR=DIR bench/low-rate.sh   # the opm and opm-mock-llm already in DIR, no build
#
# Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
OHA_VERSION=1.16.0
UPSTREAM_MS=20
DURATION=10; RUNS=3
if [ "${1:-}" = "--quick" ]; then DURATION=3; RUNS=1; fi

. bench/lib.sh
bench_binaries
bench_workdir low-rate
start_bench_mock
start_bench_opm opm

messages='[{"role": "system", "content": "You help with OPM."}, {"role": "user", "content": "Question about OPM"}]'
echo "{\"model\": \"gpt-4o-mini\", \"messages\": $messages}" >"$work/direct-plain.json"
echo '{"model": "opm:bench-chat", "prompt_variables": {"product": "OPM"}}' >"$work/opm-plain.json"
url_of() { case $1 in direct) echo "$mock" ;; opm) echo "$opm_url" ;; esac; }
pid_of() { case $1 in direct) echo "$mock_pid" ;; opm) echo "$opm_pid" ;; esac; }
key_of() { echo "$key"; }

spinner_pid=
spin_on() { taskset -c 0 nice -n 19 sh -c 'while :; do :; done' & spinner_pid=$!; pids+=("$spinner_pid"); }
spin_off() { kill "$spinner_pid"; wait "$spinner_pid" 2>/dev/null || true; spinner_pid=; }

results=bench/results/low-rate-$(date -u +%Y%m%dT%H%M%SZ).md
{
  echo "# Low-rate tail: core 0 idle vs kept busy, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
  echo
  echo "cpuidle driver: $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo unknown); load average at start: $(cut -d' ' -f1-3 /proc/loadavg). ${DURATION} s per point, ${RUNS} run(s), medians (min–max), ms."
  echo
  echo "| rate | core 0 | direct p50 | direct p99 | OPM p50 | OPM p99 | added p50 | added p99 | errors |"
  echo "|---|---|---|---|---|---|---|---|---|"
} | tee "$results"
for rate in 50 500; do
  for mode in idle busy; do
    [ "$mode" = busy ] && spin_on
    oha_run opm plain "$rate" 2 >/dev/null
    : >"$work/direct.txt"; : >"$work/opm.txt"
    for _ in $(seq "$RUNS"); do
      oha_run direct plain "$rate" "$DURATION" >>"$work/direct.txt"
      oha_run opm plain "$rate" "$DURATION" >>"$work/opm.txt"
    done
    [ "$mode" = busy ] && spin_off
    python3 - "$rate" "$mode" "$work/direct.txt" "$work/opm.txt" <<'PY' | tee -a "$results"
import statistics, sys
rate, mode = sys.argv[1:3]
load = lambda path: [list(map(float, line.split())) for line in open(path) if line.strip()]
direct, opm = load(sys.argv[3]), load(sys.argv[4])
def spread(values):
    med = statistics.median(values)
    return f"{med:.3f} ({min(values):.3f}–{max(values):.3f})" if len(values) > 1 else f"{med:.3f}"
col = lambda runs, i: [r[i] for r in runs]
added = lambda i: [o[i] - d[i] for d, o in zip(direct, opm)]
cells = [rate, "idles" if mode == "idle" else "kept busy (nice 19 loop)", spread(col(direct, 0)), spread(col(direct, 1)),
         spread(col(opm, 0)), spread(col(opm, 1)), spread(added(0)), f"**{spread(added(1))}**",
         str(int(sum(col(direct, 4)) + sum(col(opm, 4))))]
print("| " + " | ".join(cells) + " |")
PY
  done
done

# Scheduling delay of OPM's threads on core 0 (wake-up to running), core 0 idling between requests.
if command -v perf >/dev/null; then
  {
    echo
    echo "\`perf sched\` on core 0 during a ${DURATION} s OPM run, wake-up to running of OPM's threads (all of them together):"
    echo
    echo "| rate | wake-ups | mean delay ms | max delay ms |"
    echo "|---|---|---|---|"
  } | tee -a "$results"
  for rate in 50 500; do
    (oha_run opm plain "$rate" "$DURATION" >/dev/null) &
    load_pid=$!
    sleep 1
    perf sched record -C 0 -o "$work/sched.data" -- sleep $((DURATION - 2)) >/dev/null 2>&1 || true
    wait "$load_pid"
    perf sched latency -p -i "$work/sched.data" 2>/dev/null | python3 -c '
import re, sys
pid, rate = sys.argv[1], sys.argv[2]
tids = set(sys.argv[3:])
switches = total = 0.0
worst = 0.0
for line in sys.stdin:
    m = re.match(r"\s*(\S.*?):(\d+)\s*\|\s*([\d.]+) ms\s*\|\s*(\d+)\s*\|\s*avg:\s*([\d.]+) ms\s*\|\s*max:\s*([\d.]+) ms", line)
    if not m or m.group(2) not in tids:
        continue
    n, avg, mx = int(m.group(4)), float(m.group(5)), float(m.group(6))
    switches += n; total += n * avg; worst = max(worst, mx)
mean = total / switches if switches else float("nan")
print(f"| {rate} | {int(switches)} | {mean:.3f} | {worst:.3f} |")
' "$opm_pid" "$rate" $(ls /proc/"$opm_pid"/task) | tee -a "$results"
  done
fi
echo "results: $results" >&2
