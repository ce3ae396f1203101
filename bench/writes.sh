#!/usr/bin/env bash
# The write benchmark (issue #7, part 4): version creation and label moves per second through the
# HTTP API, on SQLite (a file on disk, synchronous=FULL) and on PostgreSQL (a throwaway cluster from
# scripts/with-postgres.sh, a fresh database), with wrk and bench/writes.lua:
#   versions, spread   POST /api/v1/prompts/NAME/versions over 100 prompts, every body distinct
#   versions, single   the same on one prompt (version numbers are allocated under a lock)
#   label moves        PUT /api/v1/prompts/NAME/labels/production over 100 prompts, alternating
#                      each between versions 1 and 2, so every call is a real move
# at 1 and 10 connections, each point on prompts of its own. wrk stops sending at the deadline and
# ends once every request is answered, so nothing is in flight; then the API must show exactly one
# new version (versions) and one new audit entry (both) per 2xx answer, and at the end of each
# backend the whole audit chain must verify (GET /api/v1/audit/verify).
#
#   bench/writes.sh            # 10 s per point
#   bench/writes.sh --quick    # 2 s per point (CI: keeps the harness from rotting)
#
# Caveat: scripts/with-postgres.sh runs PostgreSQL with fsync=off, so its commits skip the disk
# flush that every SQLite commit here pays.
# The server (and PostgreSQL) are pinned to core 0, wrk to core 1. Without PostgreSQL binaries the
# PostgreSQL rows are skipped (with a warning). Results go to stdout and bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${OPM_BENCH_UNDER_POSTGRES:-}" ]; then
  export OPM_BENCH_UNDER_POSTGRES=1
  exec scripts/with-postgres.sh bench/writes.sh "$@"
fi
DURATION=10; CONNECTIONS="1 10"; SPREAD=100
if [ "${1:-}" = "--quick" ]; then DURATION=2; fi

. bench/lib.sh
ensure_wrk
# BENCH_PROFILE=dev (CI's --quick run) measures debug binaries: the harness is exercised without a release build; the numbers mean nothing.
BIN_DIR=${BENCH_PROFILE:-release}; BIN_DIR=${BIN_DIR/#dev/debug}
cargo build --profile "${BENCH_PROFILE:-release}" -q -p opm-cli
OPM=target/${BIN_DIR}/opm

bench_workdir writes

key="opm_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
backends="sqlite"
if [ -n "${OPM_TEST_DATABASE_URL:-}" ]; then
  PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
  database="opm_bench_writes_$$"
  "$PG_BIN/psql" -q "$OPM_TEST_DATABASE_URL" -c "CREATE DATABASE $database"
  postgres_url="${OPM_TEST_DATABASE_URL%/*}/$database"
  # The cluster's processes join the server on core 0 (new backends inherit the postmaster's core).
  postmaster=$(head -n 1 "$("$PG_BIN/psql" -Atq "$OPM_TEST_DATABASE_URL" -c 'SHOW data_directory')/postmaster.pid")
  for pid in $postmaster $(pgrep -P "$postmaster"); do taskset -a -p -c 0 "$pid" >/dev/null; done
  postgres_version=$("$PG_BIN/psql" -Atq "$OPM_TEST_DATABASE_URL" -c 'SHOW server_version' | cut -d' ' -f1)
  backends="sqlite postgres"
fi

seed() { python3 bench/seed-writes.py "$opm" "$key" "$@"; }

# One wrk run; prints "sent answered ok non2xx socket_errors seconds p50_ms p99_ms mean_ms".
run_wrk() {
  local mode=$1 prefix=$2 prompts=$3 conns=$4
  OPM_BENCH_KEY=$key OPM_BENCH_MODE=$mode OPM_BENCH_PREFIX=$prefix OPM_BENCH_PROMPTS=$prompts \
    OPM_BENCH_SECONDS=$DURATION OPM_BENCH_RUN="$prefix-$$" \
    taskset -c 1 wrk -t1 -c"$conns" -d"$((DURATION + 60))s" --timeout 30s -s bench/writes.lua "$opm" 2>&1 |
    sed -nE 's/^writes: sent=([0-9]+) answered=([0-9]+) ok=([0-9]+) non2xx=([0-9]+) socket_errors=([0-9]+) seconds=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+) mean_ms=([0-9.]+)$/\1 \2 \3 \4 \5 \6 \7 \8 \9/p'
}

commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates bench/writes.sh bench/writes.lua bench/seed-writes.py || echo "+dirty")
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mkdir -p bench/results
out="bench/results/writes-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# writes — $(date -u '+%F %H:%M UTC'), $DURATION s per point$([ "$DURATION" = 2 ] && echo ' (--quick)')"
  echo
  echo "$(nproc) cores ($cpu), $(uname -m), $(rustc --version), OPM commit $commit, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run."
  echo "SQLite: a file on disk, synchronous=FULL (every commit flushed). PostgreSQL ${postgres_version:-(not run: binaries not found)}: scripts/with-postgres.sh, **fsync=off**."
  echo "Server and database on core 0, wrk on core 1. Check: new versions (versions rows) and new audit entries (all rows) equal the 2xx answers, nothing in flight."
  echo "† wrk's latencies fail Little's law (mean latency × req/s > 2 × connections): wrong, rerun on a quieter machine."
  echo
  echo "| backend | operation | prompts | connections | req/s | p50 ms | p99 ms | 2xx | non-2xx | socket errors | new versions / audit entries | check |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee "$out"

failures=0
for backend in $backends; do
  port=$(free_port)
  args=(--addr "127.0.0.1:$port" --data-dir "$work/$backend")
  if [ "$backend" = postgres ]; then args+=(--database-url "$postgres_url"); fi
  OPM_BOOTSTRAP_ADMIN_KEY=$key RUST_LOG=warn taskset -c 0 "$OPM" serve "${args[@]}" >"$work/$backend.log" 2>&1 &
  pids+=($!)
  opm="http://127.0.0.1:$port"
  wait_up "$opm/readyz"
  specs=()
  for conns in $CONNECTIONS; do
    specs+=("versions:spread-c$conns:$SPREAD" "versions:single-c$conns:1" "labels:labels-c$conns:$SPREAD")
  done
  seed seed "${specs[@]}" >&2
  for conns in $CONNECTIONS; do
    for operation in "versions spread" "versions single" "labels spread"; do
      read -r mode shape <<<"$operation"
      prompts=$SPREAD; [ "$shape" = single ] && prompts=1
      prefix="$shape-c$conns"; [ "$mode" = labels ] && prefix="labels-c$conns"
      audit_before=$(seed audit-head)
      versions_before=0; [ "$mode" = versions ] && versions_before=$(seed versions "$prefix" "$prompts")
      read -r sent answered ok non2xx socket seconds p50 p99 mean <<<"$(run_wrk "$mode" "$prefix" "$prompts" "$conns")"
      audit_new=$(($(seed audit-head) - audit_before))
      check="ok"
      if [ "$mode" = versions ]; then
        versions_new=$(($(seed versions "$prefix" "$prompts") - versions_before))
        counted="$versions_new / $audit_new"
        [ "$versions_new" = "$ok" ] && [ "$audit_new" = "$ok" ] || check="**MISMATCH**"
      else
        counted="— / $audit_new"
        [ "$audit_new" = "$ok" ] || check="**MISMATCH**"
      fi
      [ "$sent" = "$answered" ] || check="**$((sent - answered)) unanswered**"
      [ "$check" = ok ] || failures=$((failures + 1))
      rps=$(python3 -c "print(f'{$answered / $seconds:.0f}' if $seconds > 0 else '0')")
      # Little's law (requests in flight = req/s × mean latency ≤ connections), as in bench/scale.sh.
      if python3 -c "import sys; sys.exit(0 if $rps * $mean / 1000 > 2 * $conns else 1)"; then p50+="†"; p99+="†"; fi
      label="$mode"; [ "$mode" = versions ] && label="new version"; [ "$mode" = labels ] && label="label move"
      echo "| $backend | $label | $prompts | $conns | $rps | $p50 | $p99 | $ok | $non2xx | $socket | $counted | $check |" | tee -a "$out"
    done
  done
  read -r verdict checked <<<"$(seed verify)"
  echo "$backend audit chain: $verdict ($checked entries checked)" >>"$work/verify"
  [ "$verdict" = ok ] || failures=$((failures + 1))
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
done
{
  echo
  sed 's/^/- /' "$work/verify"
} | tee -a "$out"
echo
echo "results: $out"
[ "$failures" = 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
