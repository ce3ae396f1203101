#!/usr/bin/env bash
# The LiteLLM proxy as a benchmark peer for bench/gateway.sh: a venv (target/litellm-venv, under the
# gitignored target/) with litellm[proxy] and its whole dependency tree pinned in
# bench/litellm/requirements.txt (a pip freeze, installed with --no-deps so nothing unpinned sneaks in).
#
#   bench/litellm/setup.sh      # prints the venv's bin directory on stdout; progress and timing on stderr
#
# Idempotent: when the venv matches the requirements file and the interpreter (hash stamp), it only
# checks that the litellm package is there and prints the path. Cold, it takes ~40 s on 2 cores with a warm pip
# cache (~750 MB venv). Fails loudly (non-zero exit) when the install fails: CI must notice.
# Env: OPM_LITELLM_PYTHON (interpreter to create the venv with, default python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
VENV=$ROOT/target/litellm-venv
REQS=$ROOT/bench/litellm/requirements.txt
STAMP=$VENV/.opm-litellm-requirements.sha256
PY=${OPM_LITELLM_PYTHON:-python3}

start=$SECONDS
want=$( (sha256sum "$REQS" | cut -d' ' -f1; "$PY" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)
if [[ -x $VENV/bin/litellm && -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' >/dev/null \
    || { echo "litellm-setup: $VENV is broken; remove it and rerun" >&2; exit 1; }
  echo "litellm-setup: cached venv ok in $((SECONDS - start)) s" >&2
  echo "$VENV/bin"
  exit 0
fi

echo "litellm-setup: creating $VENV from $REQS ($("$PY" --version))…" >&2
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --no-deps -r "$REQS" >&2
"$VENV/bin/python" -m pip check >&2
LITELLM_LOCAL_MODEL_COST_MAP=True "$VENV/bin/python" -c 'import litellm.proxy.proxy_server' >&2
echo "$want" >"$STAMP"
echo "litellm-setup: installed in $((SECONDS - start)) s" >&2
echo "$VENV/bin"
