#!/usr/bin/env bash
# The whole test suite: doctests, then every crate's tests with nextest (SQLite always; PostgreSQL
# through a throwaway cluster started by scripts/with-postgres.sh when the binaries are installed,
# loudly skipped otherwise unless OPM_REQUIRE_POSTGRES=1), then the Python suite that drives OPM's
# gateway with the official OpenAI and Anthropic SDKs (and, with OPM_LOCAL_MODEL=1, a real local model).
# promtool (Debian's `prometheus` package, installed by scripts/promtool.sh when missing) checks a
# live metrics scrape; without it that check is skipped loudly, or fails with OPM_REQUIRE_PROMTOOL=1.
set -euo pipefail
cd "$(dirname "$0")/.."
if promtool_path=$(scripts/promtool.sh); then
  export OPM_PROMTOOL="$promtool_path"
elif [ "${OPM_REQUIRE_PROMTOOL:-0}" = "1" ]; then
  echo "promtool is required (OPM_REQUIRE_PROMTOOL=1) and could not be installed" >&2
  exit 1
else
  echo "WARNING: promtool unavailable: live metrics will not be checked with promtool" >&2
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "installing cargo-nextest…" >&2
  cargo install --locked cargo-nextest >/dev/null
fi
cargo test --workspace --doc
scripts/with-postgres.sh cargo nextest run --workspace --no-fail-fast "$@"
if [ -d tests/python ]; then
  cargo build -q -p opm-cli -p opm-mock-llm
  python=$(scripts/python-env.sh)
  if [ "${OPM_LOCAL_MODEL:-0}" = "1" ]; then
    scripts/local-model.sh setup   # builds llama.cpp's server once (~4 min cold), cached after
  fi
  "$python" -m pytest tests/python -q
fi
