"""deploy/kubernetes: every built-in resource validates strictly against the Kubernetes 1.37 schemas
bundled by kubernetes-validate (offline), the ServiceMonitor against deploy/schemas (a hand-written
subset of the operator's CRD), and the pieces agree with each other and with the Dockerfile: probes,
ports, labels, secrets, the config mount, a read-only root and a non-root user."""

import copy
import json
import tomllib

import jsonschema
import kubernetes_validate
import pytest
from conftest import KUBERNETES, ROOT, load_documents, parse_dockerfile

K8S_VERSION = "1.37.0"
CUSTOM_KINDS = {"Kustomization", "ServiceMonitor"}


def built_in_documents():
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in load_documents(path):
            if doc["kind"] not in CUSTOM_KINDS:
                yield pytest.param(doc, id=f"{path.name}:{doc['kind']}")


@pytest.mark.parametrize("doc", list(built_in_documents()))
def test_resource_validates_strictly(doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_broken_deployment(manifests):
    broken = copy.deepcopy(manifests[("Deployment", "opm")])
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 8321
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = copy.deepcopy(manifests[("Deployment", "opm")])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def service_monitor_schema():
    return json.loads((ROOT / "deploy" / "schemas" / "servicemonitor-v1.schema.json").read_text())


def test_service_monitor_matches_its_schema_and_the_service(manifests):
    monitor = manifests[("ServiceMonitor", "opm")]
    jsonschema.validate(monitor, service_monitor_schema())
    service = manifests[("Service", "opm")]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in port_names and endpoint["path"] == "/metrics"
    broken = copy.deepcopy(monitor)
    broken["spec"]["endpoints"][0]["interval"] = "15 seconds"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, service_monitor_schema())


def test_kustomization_lists_every_manifest():
    (kustomization,) = load_documents(KUBERNETES / "kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present, f"listed {sorted(listed)}, present {sorted(present)}"
    # The Secret holds placeholders: it is an example, never applied with the rest.
    assert "secret.example.yaml" not in listed


def pod(manifests):
    return manifests[("Deployment", "opm")]["spec"]["template"]


def container(manifests, name="opm"):
    (found,) = [c for c in pod(manifests)["spec"]["containers"] if c["name"] == name]
    return found


def test_stateless_replicas_with_probes_and_resources(manifests):
    deployment = manifests[("Deployment", "opm")]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    opm = container(manifests)
    port_names = {port["name"] for port in opm["ports"]}
    assert opm["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert opm["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"]:
        assert opm[probe]["httpGet"]["port"] in port_names
    for c in pod(manifests)["spec"]["containers"] + pod(manifests)["spec"]["initContainers"]:
        assert {"cpu", "memory"} <= c["resources"]["requests"].keys(), c["name"]
        assert "memory" in c["resources"]["limits"], c["name"]


def test_non_root_with_a_read_only_root(manifests):
    spec = pod(manifests)["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    (user,) = [a for i, a in parse_dockerfile((ROOT / "Dockerfile").read_text())[-1] if i == "USER"]
    assert str(spec["securityContext"]["runAsUser"]) == user.split(":")[0], "the image's user"
    for c in spec["containers"] + spec["initContainers"]:
        context = c["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, c["name"]
        assert context["allowPrivilegeEscalation"] is False, c["name"]
        assert context["capabilities"]["drop"] == ["ALL"], c["name"]
    # What OPM writes (its data directory, temporary files) is a mounted volume.
    opm = container(manifests)
    env = {e["name"]: e for e in opm["env"]}
    mounts = {m["mountPath"] for m in opm["volumeMounts"] if not m.get("readOnly")}
    assert env["OPM_DATA_DIR"]["value"] in mounts and "/tmp" in mounts


def test_secrets_come_from_secret_objects(manifests):
    (example,) = load_documents(KUBERNETES / "secret.example.yaml")
    secret_keys = set(example["stringData"])
    spec = pod(manifests)["spec"]
    for c in spec["containers"] + spec["initContainers"]:
        env = {e["name"]: e for e in c["env"]}
        assert env["OPM_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == example["metadata"]["name"]
        for e in c["env"]:
            sensitive = any(word in e["name"] for word in ["KEY", "SECRET", "PASSWORD", "DATABASE_URL", "TOKEN"])
            if sensitive:
                assert "value" not in e, f"{c['name']}: {e['name']} must come from a Secret"
                assert e["valueFrom"]["secretKeyRef"]["key"] in secret_keys, e["name"]
    env = {e["name"]: e for e in container(manifests)["env"]}
    assert env["OPM_BOOTSTRAP_ADMIN_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "bootstrap-admin-key"


def test_config_map_is_valid_opm_toml_and_mounted_where_opm_reads_it(manifests):
    config_map = manifests[("ConfigMap", "opm-config")]
    config = tomllib.loads(config_map["data"]["opm.toml"])
    for name, provider in config["gateway"]["providers"].items():
        assert "api_key" not in provider, f"{name}: keys come from the environment, never the ConfigMap"
    opm = container(manifests)
    env = {e["name"]: e for e in opm["env"]}
    (mount,) = [m for m in opm["volumeMounts"] if m["name"] == "config"]
    assert env["OPM_CONFIG"]["value"] == f"{mount['mountPath']}/opm.toml"
    (volume,) = [v for v in pod(manifests)["spec"]["volumes"] if v["name"] == "config"]
    assert volume["configMap"]["name"] == "opm-config"


def test_ports_labels_and_disruption_budget_agree(manifests):
    labels = pod(manifests)["metadata"]["labels"]
    service = manifests[("Service", "opm")]
    assert service["spec"]["selector"].items() <= labels.items()
    pdb = manifests[("PodDisruptionBudget", "opm")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < manifests[("Deployment", "opm")]["spec"]["replicas"]
    (expose,) = [a for i, a in parse_dockerfile((ROOT / "Dockerfile").read_text())[-1] if i == "EXPOSE"]
    (http,) = container(manifests)["ports"]
    assert http["containerPort"] == int(expose)
    env = {e["name"]: e for e in container(manifests)["env"]}
    assert env["OPM_ADDR"]["value"] == f"0.0.0.0:{expose}"
    namespaces = {doc.get("metadata", {}).get("namespace") for doc in manifests.values() if doc["kind"] != "Namespace"}
    namespaces.discard(None)  # the Kustomization itself
    assert namespaces == {"opm"}


def test_the_built_binary_serves_with_the_config_map(manifests, tmp_path):
    """With OPM_BIN (scripts/deploy-check.sh sets it when target/debug/opm exists): `opm serve` starts
    on the ConfigMap's opm.toml with the Deployment's settings (on SQLite and loopback here) and the
    image's health check passes against it."""
    import os
    import subprocess

    binary = os.environ.get("OPM_BIN")
    if not binary:
        pytest.skip("OPM_BIN not set: no built opm to start")
    config = tmp_path / "opm.toml"
    config.write_text(manifests[("ConfigMap", "opm-config")]["data"]["opm.toml"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPM_")}
    env.update({"OPM_CONFIG": str(config), "OPM_DATA_DIR": str(tmp_path / "data"), "OPM_LOG_FORMAT": "json",
                "OPM_ADDR": "127.0.0.1:0", "OPM_BOOTSTRAP_ADMIN_KEY": "opm_deploycheck_0123456789abcdef"})
    server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for line in server.stdout:
            if line.startswith("opm listening on "):
                url = line.removeprefix("opm listening on ").strip()
                break
        assert url, server.stderr.read()
        for flags in [[], ["--ready"]]:
            check = subprocess.run([binary, "healthcheck", "--url", url, "--timeout", "2", *flags],
                                   capture_output=True, text=True, timeout=30)
            assert check.returncode == 0, check.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
