#!/usr/bin/env bash
# The whole test suite: doctests, then every crate's tests with nextest (SQLite always; PostgreSQL
# through a throwaway cluster started by scripts/with-postgres.sh when the binaries are installed,
# loudly skipped otherwise unless OPM_REQUIRE_POSTGRES=1), then the Python suite that drives OPM's
# gateway with the official OpenAI and Anthropic SDKs (and, with OPM_LOCAL_MODEL=1, a real local model),
# then the API contract (schemathesis, scripts/contract.sh), then the web UI in a real headless Chromium
# (tests/ui).
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
# Client compatibility (tests/compat): the real `langfuse`, `mcp` and `litellm` packages from their
# own pinned venv (target/compat-venv) against a real `opm serve`; a missing package fails the run.
if [ -d tests/compat ]; then
  cargo build -q -p opm-cli -p opm-mock-llm
  compat_python=$(scripts/python-env.sh tests/compat/requirements.txt target/compat-venv)
  "$compat_python" -m pytest tests/compat -q -c tests/compat/pytest.ini
fi
# The Python SDK (sdk/python) against real `opm serve` processes, from its own pinned venv
# (scripts/sdk-env.sh: target/sdk-venv with the SDK installed from ./sdk/python).
if [ -d sdk/python/tests ]; then
  cargo build -q -p opm-cli
  sdk_python=$(scripts/sdk-env.sh)
  "$sdk_python" -m pytest sdk/python/tests -q -c sdk/python/tests/pytest.ini
fi
# The API contract (scripts/contract.sh): schemathesis, pinned in tests/contract/requirements.txt, against a
# real `opm serve`, every check and phase, a fixed and a random seed. When its venv cannot be built
# (no PyPI) it is skipped loudly, or fails with OPM_REQUIRE_CONTRACT=1.
if [ -d tests/contract ]; then
  if contract_python=$(scripts/python-env.sh tests/contract/requirements.txt target/contract-venv); then
    cargo build -q -p opm-cli
    OPM_CONTRACT_PYTHON=$contract_python OPM_BIN="$(pwd)/target/debug/opm" scripts/contract.sh
  elif [ "${OPM_REQUIRE_CONTRACT:-0}" = "1" ]; then
    echo "the API contract check needs its venv (OPM_REQUIRE_CONTRACT=1) and it could not be built" >&2
    exit 1
  else
    echo "WARNING: the schemathesis venv could not be built: the API contract check (scripts/contract.sh) was SKIPPED" >&2
  fi
fi
# Browser tests of the web UI (tests/ui): a real headless Chromium (Debian's chromium and
# chromium-driver, installed by scripts/chromium.sh) driven with selenium from its own pinned venv.
# Without the browser they are skipped loudly, or fail with OPM_REQUIRE_BROWSER=1.
if browser=$(scripts/chromium.sh); then
  read -r chromium chromedriver <<<"$browser"
  cargo build -q -p opm-cli
  ui_python=$(scripts/python-env.sh tests/ui/requirements.txt target/ui-venv)
  OPM_CHROMIUM=$chromium OPM_CHROMEDRIVER=$chromedriver "$ui_python" -m pytest tests/ui -q
elif [ "${OPM_REQUIRE_BROWSER:-0}" = "1" ]; then
  echo "the browser tests need chromium and chromium-driver (OPM_REQUIRE_BROWSER=1) and they could not be installed" >&2
  exit 1
else
  echo "WARNING: chromium/chromium-driver unavailable: the web UI's browser tests (tests/ui) were SKIPPED" >&2
fi
