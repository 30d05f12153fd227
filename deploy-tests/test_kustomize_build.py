"""Every overlay and component combination builds and validates.

Core kinds: kubernetes-validate, strict (unknown fields rejected), against
Kubernetes 1.30 (the oldest version we target: native sidecars and the
preStop sleep action are on by default) and 1.33.
Custom resources (Gateway API, GKE policies, Knative): test_crd_schemas.py,
against the upstream CRDs; any other kind fails here.
"""

from __future__ import annotations

import kubernetes_validate
import pytest

from conftest import BUILDS, build_docs, build_text
from test_crd_schemas import CUSTOM_KINDS

K8S_VERSIONS = ("1.30", "1.33")
# Google Managed Prometheus (kustomize/overlays/gke/monitoring): no package carries its CRDs'
# schema; test_observability.py checks their fields, promtool the Rules' groups.
GMP_KINDS = {("monitoring.googleapis.com/v1", "PodMonitoring"), ("monitoring.googleapis.com/v1", "Rules")}


def validate_doc(doc: dict, version: str) -> list[str]:
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    if (api_version, kind) in CUSTOM_KINDS:
        return []  # test_crd_schemas.py validates these, all builds at once
    if (api_version, kind) in GMP_KINDS:
        return []
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{kind}/{doc['metadata'].get('name')}: {'/'.join(map(str, e.path))}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [
            f"{kind}/{doc['metadata'].get('name')}: no schema for {api_version} {kind} "
            f"(add its upstream model to MODELS in test_crd_schemas.py)"
        ]
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
    bad_deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "portz": []}]},
            },
        },
    }
    assert validate_doc(bad_deploy, "1.30")
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert validate_doc(unknown, "1.30")
