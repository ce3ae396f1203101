#!/usr/bin/env bash
# The whole test suite: every crate's tests with nextest (SQLite always; PostgreSQL through a
# throwaway cluster started by scripts/with-postgres.sh when the binaries are installed, loudly
# skipped otherwise unless OPM_REQUIRE_POSTGRES=1), then the doctests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "installing cargo-nextest…" >&2
  cargo install --locked cargo-nextest >/dev/null
fi
scripts/with-postgres.sh cargo nextest run --workspace --no-fail-fast "$@"
cargo test --workspace --doc
