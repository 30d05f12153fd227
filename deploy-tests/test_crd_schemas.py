"""Custom resources (Gateway API, GKE Gateway policies, the Knative Service
that Cloud Run deploys) against the upstream CRDs, through the npm packages
@kubernetes-models/gateway-api, /gke and /knative, which are generated from
those CRDs (deploy-tests/run.sh installs them, pinned, into
.venv-deploy/node). Two checks, both from the same generated code:

* values: each model's validate(), the JSON Schema validators compiled from
  the CRDs' openAPIV3Schema (types, required fields, enums, limits such as
  16 backendRefs per rule or weights 0..1,000,000, patterns);
* field names: the TypeScript interfaces generated from the same CRDs, through
  tsc's excess-property check. The JSON validators accept unknown fields (the
  CRDs do not forbid them), but `kubectl apply` rejects them (strict field
  validation) and a misspelt field would otherwise go unnoticed.

Not covered: the CRDs' CEL rules (x-kubernetes-validations), which neither
package evaluates; the one grades relies on (a Service backendRef names a
port) is checked against the Services in test_policy.py.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from conftest import BUILDS, ROOT, build_docs

CLOUDRUN = ROOT / "kustomize" / "cloudrun" / "dashboard.yaml"

# apiVersion/kind -> (module of @kubernetes-models, class). test_kustomize_build
# refuses any other non-core kind.
MODELS = {
    "gateway.networking.k8s.io/v1/Gateway": (
        "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway",
        "Gateway",
    ),
    "gateway.networking.k8s.io/v1/HTTPRoute": (
        "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute",
        "HTTPRoute",
    ),
    "networking.gke.io/v1/HealthCheckPolicy": (
        "@kubernetes-models/gke/networking.gke.io/v1/HealthCheckPolicy",
        "HealthCheckPolicy",
    ),
    "networking.gke.io/v1/GCPBackendPolicy": (
        "@kubernetes-models/gke/networking.gke.io/v1/GCPBackendPolicy",
        "GCPBackendPolicy",
    ),
    "serving.knative.dev/v1/Service": ("@kubernetes-models/knative/serving.knative.dev/v1/Service", "Service"),
}
CUSTOM_KINDS = {tuple(key.rsplit("/", 1)) for key in MODELS}

VALIDATE_SCRIPT = r"""
import { readFileSync } from "node:fs";
const models = JSON.parse(process.argv[3]);
const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
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


def _node_modules() -> pathlib.Path:
    modules = pathlib.Path(os.environ.get("DEPLOY_TESTS_NODE_MODULES", ROOT / ".venv-deploy" / "node" / "node_modules"))
    needed = [modules / "@kubernetes-models" / p for p in ("gateway-api", "gke", "knative")] + [modules / "typescript"]
    if not shutil.which("node") or not all(p.is_dir() for p in needed):
        pytest.fail(f"node or the npm packages are missing under {modules}: run deploy-tests/run.sh (it installs them)")
    return modules


def _custom_docs() -> list[dict]:
    docs = {}
    for build_id in BUILDS:
        for d in build_docs(build_id):
            if (d["apiVersion"], d["kind"]) in CUSTOM_KINDS:
                docs[json.dumps(d, sort_keys=True)] = d  # the same object rendered by several builds: once
    docs["cloudrun"] = yaml.safe_load(CLOUDRUN.read_text())
    return list(docs.values())


def _validate(docs: list[dict], tmp_path: pathlib.Path) -> subprocess.CompletedProcess:
    modules = _node_modules()
    (tmp_path / "docs.json").write_text(json.dumps(docs))
    # ESM resolves bare specifiers from the script's folder: put it next to node_modules.
    script = modules.parent / "grades-crd-validate.mjs"
    script.write_text(VALIDATE_SCRIPT)
    return subprocess.run(
        ["node", str(script), str(tmp_path / "docs.json"), json.dumps(MODELS)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _typecheck(docs: list[dict], name: str) -> subprocess.CompletedProcess:
    modules = _node_modules()
    lines = [f'import type {{ I{cls} as T{i} }} from "{module}";' for i, (module, cls) in enumerate(MODELS.values())]
    index = {key: i for i, key in enumerate(MODELS)}
    for n, d in enumerate(docs):
        lines.append(f"export const doc{n}: T{index[d['apiVersion'] + '/' + d['kind']]} = {json.dumps(d)};")
    # next to node_modules so that the package imports resolve
    source = modules.parent / f"{name}.ts"
    source.write_text("\n".join(lines) + "\n")
    return subprocess.run(
        [
            "node",
            str(modules / "typescript" / "bin" / "tsc"),
            "--noEmit",
            "--strict",
            "--skipLibCheck",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--target",
            "es2022",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_custom_resources_match_the_upstream_crds(tmp_path):
    docs = _custom_docs()
    kinds = {(d["apiVersion"], d["kind"]) for d in docs}
    assert kinds == CUSTOM_KINDS, f"no manifest uses {CUSTOM_KINDS - kinds}: drop it from MODELS"
    proc = _validate(docs, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"checked {len(docs)}" in proc.stdout


def test_custom_resource_field_names_are_known():
    proc = _typecheck(_custom_docs(), "grades-crd-fields")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _route() -> dict:
    return copy.deepcopy(next(d for d in _custom_docs() if d["kind"] == "HTTPRoute"))


def test_the_checks_catch_mistakes(tmp_path):
    """Not vacuous: wrong values fail validate(), a misspelt field fails tsc."""
    negative_weight = _route()
    negative_weight["spec"]["rules"][0]["backendRefs"][0]["weight"] = -1
    bad_match = _route()
    bad_match["spec"]["rules"][0]["matches"] = [{"path": {"type": "Prefixed", "value": "/grades"}}]
    too_many = _route()
    too_many["spec"]["rules"][0]["backendRefs"] = [too_many["spec"]["rules"][0]["backendRefs"][0]] * 17  # > 16
    for bad, word in ((negative_weight, "weight"), (bad_match, "type"), (too_many, "backendRefs")):
        proc = _validate([bad], tmp_path)
        assert proc.returncode == 1 and word in proc.stdout, (word, proc.stdout, proc.stderr)

    typo = _route()
    typo["spec"]["rules"][0]["backendRefs"][0]["weigth"] = 50
    proc = _typecheck([typo], "grades-crd-typo")
    assert proc.returncode != 0 and "weigth" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("version", ("1.30", "1.33"))
def test_cloud_run_service_container(version):
    """The Knative Service's one container against the core Container schema
    (strict), and what Cloud Run needs from it."""
    svc = yaml.safe_load(CLOUDRUN.read_text())
    containers = svc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    c = containers[0]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cloudrun-container"}, "spec": {"containers": [c]}}
    kubernetes_validate.validate(pod, version, strict=True)
    assert c["image"] == "GCP_REGION-docker.pkg.dev/GCP_PROJECT_ID/grades/grades-dashboard:GRADES_VERSION"
    # https: the page is served over https, and an https page may not call an http API
    assert {"name": "API_BASE_URL", "value": "https://GATEWAY_PUBLIC_HOST"} in c["env"]
    assert c["ports"] == [{"name": "http1", "containerPort": 8080}]
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["limits"]["cpu"] and c["resources"]["limits"]["memory"]
