#!/usr/bin/env bash
# Prints the path of a `promtool` binary, installing Debian's `prometheus` package (which ships it)
# when none is on PATH. Used by scripts/test.sh (live scrapes are checked with `promtool check
# metrics`) and .ci/run (`promtool check rules` / `test rules` on ops/prometheus).
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "promtool is missing and apt-get is not available: install Prometheus' promtool" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
echo "installing promtool (Debian package prometheus)…" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1; then
  $sudo apt-get update >/dev/null
  $sudo apt-get install -y --no-install-recommends prometheus >/dev/null
fi
# The package enables a Prometheus service; nothing here needs it running.
if command -v systemctl >/dev/null 2>&1; then $sudo systemctl stop prometheus >/dev/null 2>&1 || true; fi
command -v promtool
