#!/usr/bin/env bash
# The Python SDK against the HTTP round trip it saves, in one run: cached get_prompt + local render
# per call vs a raw httpx GET of the resolve route vs the server's render route (one caller in
# sequence, call-by-call timings), and the label-move-to-visible latency through the watch stream
# over 200 moves (median, p99). Targets (issue #12): cached ≥ 100× faster than the HTTP round trip;
# move visible p99 < 1 s.
#
#   bench/sdk.sh            # 200,000 cached calls, 5,000 per HTTP path, 200 moves
#   bench/sdk.sh --quick    # 20,000 / 500 / 30 (CI: keeps the harness from rotting; well under a minute)
#
# opm (release) is pinned to core 0, the Python client to core 1. The SDK runs from the pinned venv
# of scripts/sdk-env.sh (installed from ./sdk/python). Results: stdout and bench/results/sdk.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
. bench/lib.sh
# BENCH_PROFILE=dev (CI's --quick run) measures debug binaries: the harness is exercised without a release build; the numbers mean nothing.
BIN_DIR=${BENCH_PROFILE:-release}; BIN_DIR=${BIN_DIR/#dev/debug}
cargo build --profile "${BENCH_PROFILE:-release}" -q -p opm-cli
OPM=target/${BIN_DIR}/opm
python=$(scripts/sdk-env.sh)
bench_workdir sdk

key="opm_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port=$(free_port)
OPM_BOOTSTRAP_ADMIN_KEY=$key RUST_LOG=warn taskset -c 0 "$OPM" serve --addr "127.0.0.1:$port" --data-dir "$work/data" >"$work/opm.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$port"
wait_up "$url/healthz"
python3 bench/seed.py "$url" "$key" 10 >&2

mkdir -p bench/results
{
  echo "# SDK benchmark — $(date -u '+%F %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown) ${mode}"
  echo "# $($python --version), opm release build, seeded bench-00000 (chat, 3 messages, 4 variables, one include)"
  echo
  taskset -c 1 "$python" bench/sdk_bench.py "$url" "$key" $mode
} | tee bench/results/sdk.md
