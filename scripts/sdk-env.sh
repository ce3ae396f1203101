#!/usr/bin/env bash
# The Python SDK's test venv (target/sdk-venv): the pinned freeze in sdk/python/requirements-dev.txt,
# then the SDK installed from ./sdk/python (`pip install ./sdk/python`, with the pinned build backend
# from the freeze, so only PyPI is needed, once). Idempotent: the venv is rebuilt when the requirements
# change (hash stamp) and the SDK reinstalled when its sources change (second stamp). Prints the
# venv's python path on stdout; pip's output goes to stderr.
#
#   PY=$(scripts/sdk-env.sh) && "$PY" -m pytest sdk/python/tests -q
#
# Env: OPM_PYTHON (interpreter to create the venv with, default python3; the SDK needs >= 3.9).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=$ROOT/target/sdk-venv
REQS=$ROOT/sdk/python/requirements-dev.txt
STAMP=$VENV/.opm-requirements.sha256
SDK_STAMP=$VENV/.opm-sdk.sha256
PY=${OPM_PYTHON:-python3}

want=$(sha256sum "$REQS" | cut -d' ' -f1)
start=$SECONDS
if ! [[ -x $VENV/bin/python && -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
  echo "sdk-env: creating $VENV from $REQS…" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --no-deps -r "$REQS" >&2
  "$VENV/bin/python" -m pip check >&2
  echo "$want" >"$STAMP"
  rm -f "$SDK_STAMP"
fi
sdk_want=$(cd sdk/python && find pyproject.toml README.md src -type f ! -path '*/__pycache__/*' -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if ! [[ -f $SDK_STAMP && $(cat "$SDK_STAMP") == "$sdk_want" ]]; then
  echo "sdk-env: installing the SDK from ./sdk/python…" >&2
  "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation --force-reinstall ./sdk/python >&2
  "$VENV/bin/python" -c 'import opm, minijinja, httpx' >&2
  echo "$sdk_want" >"$SDK_STAMP"
  echo "sdk-env: ready in $((SECONDS - start)) s" >&2
fi
echo "$VENV/bin/python"
