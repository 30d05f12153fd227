"""Every overlay and component combination builds and validates.

Core kinds: kubernetes-validate, strict (unknown fields rejected), against
Kubernetes 1.30 (the oldest version we target: native sidecars and the
preStop sleep action are on by default) and 1.33.
Custom resources: the schemas vendored in deploy-tests/schemas/.
"""
from __future__ import annotations

import json

import jsonschema
import kubernetes_validate
import pytest

from conftest import BUILDS, SCHEMAS, build_docs, build_text

K8S_VERSIONS = ("1.30", "1.33")

CUSTOM_SCHEMAS = {
    ("gateway.networking.k8s.io/v1", "Gateway"): "gateway.networking.k8s.io_v1_gateway.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway.networking.k8s.io_v1_httproute.json",
    ("networking.gke.io/v1", "HealthCheckPolicy"): "networking.gke.io_v1_healthcheckpolicy.json",
    ("networking.gke.io/v1", "GCPBackendPolicy"): "networking.gke.io_v1_gcpbackendpolicy.json",
    ("serving.knative.dev/v1", "Service"): "serving.knative.dev_v1_service.json",
}


def custom_validator(api_version: str, kind: str):
    name = CUSTOM_SCHEMAS.get((api_version, kind))
    if name is None:
        return None
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_doc(doc: dict, version: str) -> list[str]:
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    validator = custom_validator(api_version, kind)
    if validator is not None:
        return [f"{kind}/{doc['metadata'].get('name')}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{kind}/{doc['metadata'].get('name')}: {'/'.join(map(str, e.path))}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{kind}/{doc['metadata'].get('name')}: no schema for {api_version} {kind} "
                f"(add one to deploy-tests/schemas/)"]
    return []


@pytest.mark.parametrize("build_id", sorted(BUILDS))
def test_builds(build_id):
    text = build_text(build_id)
    docs = build_docs(build_id)
    assert text.strip(), f"{build_id} rendered nothing"
    assert docs, build_id
    kinds = {d["kind"] for d in docs}
    path, components = BUILDS[build_id]
    if "gateway-split" in components or "overlays" in path:
        assert {"Gateway", "HTTPRoute"} <= kinds, build_id
    if "network-policies" in components or "overlays" in path:
        assert "NetworkPolicy" in kinds, build_id
    if "loadgen" in components or build_id == "tilt-loadgen":
        assert "Job" in kinds


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("build_id", sorted(BUILDS))
def test_schemas(build_id, version):
    errors = []
    for doc in build_docs(build_id):
        errors += validate_doc(doc, version)
    assert not errors, "\n".join(errors)


def test_no_duplicate_objects():
    for build_id in BUILDS:
        seen = set()
        for d in build_docs(build_id):
            key = (d["apiVersion"], d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
            assert key not in seen, f"{build_id}: duplicate {key}"
            seen.add(key)


def test_validator_rejects_bad_documents():
    """The validation above would catch real mistakes (guards against a
    silently permissive setup)."""
    bad_deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                  "spec": {"selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}},
                                        "spec": {"containers": [{"name": "c", "image": "i", "portz": []}]}}}}
    assert validate_doc(bad_deploy, "1.30")
    bad_route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"},
                 "spec": {"rules": [{"backendRefs": [{"name": "svc", "weight": 50}]}]}}  # Service without port
    assert validate_doc(bad_route, "1.30")
    bad_route2 = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"},
                  "spec": {"rules": [{"backendRefs": [{"name": "svc", "port": 80, "weigth": 50}]}]}}  # typo
    assert validate_doc(bad_route2, "1.30")
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert validate_doc(unknown, "1.30")
