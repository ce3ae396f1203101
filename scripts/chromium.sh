#!/usr/bin/env bash
# Debian's chromium and chromium-driver for the browser tests (tests/ui). Idempotent: installs them
# with apt when missing (needs root and Debian's package registry), then prints the two paths.
# Never downloads a browser from anywhere else.
set -euo pipefail
CHROMIUM=${OPM_CHROMIUM:-/usr/bin/chromium}
DRIVER=${OPM_CHROMEDRIVER:-/usr/bin/chromedriver}
if [[ ! -x $CHROMIUM || ! -x $DRIVER ]]; then
  echo "chromium.sh: installing Debian's chromium and chromium-driver…" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends chromium chromium-driver >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends chromium chromium-driver >&2
  fi
fi
"$CHROMIUM" --version >&2
"$DRIVER" --version >&2
echo "$CHROMIUM $DRIVER"
