#!/usr/bin/env bash
# The Python test harness's venv (target/python-venv) with the pinned official clients and pytest
# from tests/python/requirements.txt. Idempotent: when the venv already matches the requirements
# file (hash stamp), it only prints the path. Prints the venv's python path on stdout; pip's
# output goes to stderr.
#
#   PY=$(scripts/python-env.sh) && "$PY" -m pytest tests/python -q
#   PY=$(scripts/python-env.sh tests/ui/requirements.txt target/ui-venv)   # another pinned set
#
# Env: OPM_PYTHON (interpreter to create the venv with, default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REQS=$ROOT/${1:-tests/python/requirements.txt}
VENV=$ROOT/${2:-target/python-venv}
STAMP=$VENV/.opm-requirements.sha256
PY=${OPM_PYTHON:-python3}

want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [[ -x $VENV/bin/python && -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
  echo "$VENV/bin/python"
  exit 0
fi

start=$SECONDS
echo "python-env: creating $VENV from $REQS…" >&2
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
# --no-deps: the file is a complete freeze, so nothing unpinned can sneak in; pip check verifies it.
"$VENV/bin/python" -m pip install --quiet --no-deps -r "$REQS" >&2
"$VENV/bin/python" -m pip check >&2
"$VENV/bin/python" -c 'import pytest' >&2
echo "$want" >"$STAMP"
echo "python-env: ready in $((SECONDS - start)) s" >&2
echo "$VENV/bin/python"
