#!/usr/bin/env bash
# Deployment artefacts, checked offline (well under a minute once the venv exists):
# the Dockerfile with hadolint and property tests, deploy/kubernetes strictly against the Kubernetes
# schemas bundled by kubernetes-validate (and the ServiceMonitor against deploy/schemas), and the
# systemd unit with `systemd-analyze verify` and `security` (Debian's `systemd`, skipped loudly
# when missing, required with OPM_REQUIRE_SYSTEMD_ANALYZE=1). Tools are pinned in
# deploy/requirements.txt (venv: target/deploy-venv). No image is built: no container engine here.
#
#   scripts/deploy-check.sh            # OPM_BIN=target/debug/opm when it exists
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/python-env.sh deploy/requirements.txt target/deploy-venv)
if [ -z "${OPM_BIN:-}" ] && [ -x target/debug/opm ]; then
  export OPM_BIN=$PWD/target/debug/opm
fi
"$python" -m pytest tests/deploy -q -c tests/deploy/pytest.ini "$@"
