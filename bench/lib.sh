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
