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
