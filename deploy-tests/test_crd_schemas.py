"""Vendored CRD schemas are current; the Cloud Run service validates; and an
independent cross-check of every custom resource with the validators that the
npm @kubernetes-models packages generate from the upstream CRDs."""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from conftest import BUILDS, ROOT, SCHEMAS, build_docs
from test_kustomize_build import CUSTOM_SCHEMAS, validate_doc

CLOUDRUN = ROOT / "kustomize" / "cloudrun" / "dashboard.yaml"


def test_schema_files_match_their_generator():
    spec = importlib.util.spec_from_file_location("make_schemas", SCHEMAS / "make_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered = module.render()
    assert set(rendered) == {p.name for p in SCHEMAS.glob("*.json")}
    for name, text in rendered.items():
        assert (SCHEMAS / name).read_text() == text, f"{name} is stale: run python deploy-tests/schemas/make_schemas.py"


@pytest.mark.parametrize("version", ("1.30", "1.33"))
def test_cloud_run_service(version):
    svc = yaml.safe_load(CLOUDRUN.read_text())
    assert not validate_doc(svc, version)
    containers = svc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    c = containers[0]
    # the container itself against the core Container schema
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cloudrun-container"},
           "spec": {"containers": [c]}}
    kubernetes_validate.validate(pod, version, strict=True)
    assert c["image"] == "GCP_REGION-docker.pkg.dev/GCP_PROJECT_ID/grades/grades-dashboard:GRADES_VERSION"
    assert {"name": "API_BASE_URL", "value": "http://GATEWAY_PUBLIC_HOST"} in c["env"]
    assert c["ports"] == [{"name": "http1", "containerPort": 8080}]
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["limits"]["cpu"] and c["resources"]["limits"]["memory"]


def _custom_docs():
    docs = {}
    for build_id in BUILDS:
        for d in build_docs(build_id):
            if (d["apiVersion"], d["kind"]) in CUSTOM_SCHEMAS:
                docs[(d["apiVersion"], d["kind"], d["metadata"]["name"], build_id)] = d
    docs[("serving.knative.dev/v1", "Service", "grades-dashboard", "cloudrun")] = yaml.safe_load(CLOUDRUN.read_text())
    return list(docs.values())


NODE_SCRIPT = r"""
import { readFileSync } from "node:fs";
const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const models = {
  "gateway.networking.k8s.io/v1/Gateway": ["@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway", "Gateway"],
  "gateway.networking.k8s.io/v1/HTTPRoute": ["@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute", "HTTPRoute"],
  "networking.gke.io/v1/HealthCheckPolicy": ["@kubernetes-models/gke/networking.gke.io/v1/HealthCheckPolicy", "HealthCheckPolicy"],
  "networking.gke.io/v1/GCPBackendPolicy": ["@kubernetes-models/gke/networking.gke.io/v1/GCPBackendPolicy", "GCPBackendPolicy"],
  "serving.knative.dev/v1/Service": ["@kubernetes-models/knative/serving.knative.dev/v1/Service", "Service"],
};
let failures = 0;
for (const doc of docs) {
  const [mod, cls] = models[doc.apiVersion + "/" + doc.kind];
  const Model = (await import(mod))[cls];
  try { new Model(doc).validate(); }
  catch (e) { failures++; console.log(doc.kind + "/" + doc.metadata.name + ": " + e.message); }
}
console.log("checked " + docs.length);
process.exit(failures ? 1 : 0);
"""


def test_cross_check_with_upstream_crd_validators(tmp_path):
    modules = pathlib.Path(os.environ.get("DEPLOY_TESTS_NODE_MODULES", ROOT / ".venv-deploy" / "node" / "node_modules"))
    node = shutil.which("node")
    needed = [modules / "@kubernetes-models" / p for p in ("gateway-api", "gke", "knative")]
    if not node or not all(p.is_dir() for p in needed):
        pytest.skip("node or the @kubernetes-models packages are missing (deploy-tests/run.sh installs them)")
    docs = _custom_docs()
    (tmp_path / "docs.json").write_text(json.dumps(docs))
    # ESM resolves bare specifiers from the script's folder: put it next to node_modules.
    script = modules.parent / "grades-crd-check.mjs"
    script.write_text(NODE_SCRIPT)
    proc = subprocess.run([node, str(script), str(tmp_path / "docs.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"checked {len(docs)}" in proc.stdout
    # and the cross-check is not vacuous: a broken route fails it
    bad = next(d for d in docs if d["kind"] == "HTTPRoute")
    bad["spec"]["rules"][0]["backendRefs"][0]["weight"] = -1
    (tmp_path / "bad.json").write_text(json.dumps([bad]))
    proc = subprocess.run([node, str(script), str(tmp_path / "bad.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "weight" in proc.stdout
