"""External versions the Kubernetes paths pin live in one place, kustomize/versions.env, and
reach every consumer: kind-up.sh (Envoy Gateway, metrics-server) and the rendered GKE overlay
(the Cloud SQL Auth Proxy image). Whether these versions exist is not checkable offline: the
file says when they were current."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import KUSTOMIZE_DIR, ROOT

VERSIONS = KUSTOMIZE_DIR / "versions.env"
KEYS = {"ENVOY_GATEWAY_VERSION", "METRICS_SERVER_VERSION", "CLOUD_SQL_PROXY_VERSION"}


def pinned() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)=(\S+)$", VERSIONS.read_text(), re.M))


def test_the_file_pins_each_version_once():
    values = pinned()
    assert set(values) == KEYS
    assert re.fullmatch(r"v\d+\.\d+\.\d+", values["ENVOY_GATEWAY_VERSION"])
    assert re.fullmatch(r"v\d+\.\d+\.\d+", values["METRICS_SERVER_VERSION"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", values["CLOUD_SQL_PROXY_VERSION"])


def _kind_up_versions(environ: dict[str, str]) -> dict[str, str]:
    """The version variables as kind-up.sh sets them, from its own lines (the rest of the
    script needs docker, kind and a cluster)."""
    script = (ROOT / "tilt/scripts/kind-up.sh").read_text()
    settings = script[script.index('here="') : script.index("config=")]
    program = settings + 'echo "$ENVOY_GATEWAY_VERSION $METRICS_SERVER_VERSION"\n'
    path = ROOT / "tilt/scripts/kind-up.sh"
    proc = subprocess.run(
        ["bash", "-c", program.replace('"${BASH_SOURCE[0]}"', f'"{path}"'), "kind-up"],
        env={"PATH": os.environ["PATH"], **environ},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    envoy, metrics = proc.stdout.split()
    return {"ENVOY_GATEWAY_VERSION": envoy, "METRICS_SERVER_VERSION": metrics}


def test_kind_up_reads_them_and_the_environment_overrides():
    values = pinned()
    assert _kind_up_versions({}) == {k: values[k] for k in ("ENVOY_GATEWAY_VERSION", "METRICS_SERVER_VERSION")}
    assert _kind_up_versions({"ENVOY_GATEWAY_VERSION": "v9.9.9"})["ENVOY_GATEWAY_VERSION"] == "v9.9.9"


def test_the_rendered_gke_overlay_runs_the_pinned_proxy():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCP_", "GATEWAY_", "CLOUD"))}
    proc = subprocess.run(
        ["bash", str(ROOT / "kustomize/scripts/gke-render.sh"), "overlay"],
        env={**env, "ALLOW_PLACEHOLDERS": "1"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    images = set(re.findall(r"image: (\S*cloud-sql-proxy\S*)", proc.stdout))
    assert images == {f"gcr.io/cloud-sql-connectors/cloud-sql-proxy:{pinned()['CLOUD_SQL_PROXY_VERSION']}"}


def test_no_other_deployment_file_repeats_a_pinned_version():
    values = set(pinned().values())
    listed = subprocess.run(
        ["git", "ls-files", "kustomize", "tilt", "deploy.just"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in listed.stdout.split():
        if (ROOT / name) == VERSIONS or not (ROOT / name).is_file():
            continue
        text = (ROOT / name).read_text()
        for value in values:
            assert value not in text, f"{name} repeats {value}: read it from kustomize/versions.env"
