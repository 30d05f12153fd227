"""The wait-for-schema init container: defined once (the kustomize component
components/wait-for-schema), present in every MySQL-reading Deployment of every build, running
the project's own image (`grpc-server wait-for-schema`, no other image to pull) as the pod's own
MySQL user. What the subcommand does against a real database is tested in Rust
(crates/route-tests: wait_for_schema_holds_until_every_migration_of_the_build_is_applied)."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import BUILDS, KUSTOMIZE_DIR, ROOT, all_containers, build_docs, image_name, storage_subcommands

COMPONENT = KUSTOMIZE_DIR / "components" / "wait-for-schema"
SELECTOR = "grades.io/mysql-client"  # the component's labelSelector
USER_LABEL = "grades.io/mysql-user"
APP_BUILDS = [b for b in sorted(BUILDS) if b != "tilt-loadgen"]


def _definition() -> dict:
    patch = yaml.safe_load((COMPONENT / "init-container.yaml").read_text())
    [container] = patch["spec"]["template"]["spec"]["initContainers"]
    return container


def test_the_command_is_a_subcommand_of_a_binary_in_the_image():
    command = _definition()["command"]
    assert command == ["grpc-server", "wait-for-schema"]
    assert "wait-for-schema" in storage_subcommands()
    assert "StoringArgs" in (ROOT / "crates/grpc-server/src/lib.rs").read_text(), "grpc-server takes the subcommands"
    assert re.search(r"for service in [^;]*\bgrpc-server\b[^;]*; do ln -s grades", (ROOT / "Dockerfile").read_text()), (
        "the image runs grpc-server (a link to the grades executable)"
    )


def test_component_targets_the_mysql_clients():
    kustomization = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Component"
    targets = [p["target"] for p in kustomization["patches"]]
    assert targets[0] == {"kind": "Deployment", "labelSelector": f"{SELECTOR}=true"}
    base = yaml.safe_load((KUSTOMIZE_DIR / "base" / "kustomization.yaml").read_text())
    assert "../components/wait-for-schema" in base.get("components", [])


def _strip_hash(name: str) -> str:
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def _identity(container: dict) -> tuple:
    """How a container logs in to MySQL: its password Secret(s) and its MYSQL_USER/MYSQL_URL."""
    secrets = sorted(_strip_hash(s["secretRef"]["name"]) for s in container.get("envFrom", []) if "secretRef" in s)
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
    return secrets, env.get("MYSQL_USER"), env.get("MYSQL_URL")


@pytest.mark.parametrize("build_id", APP_BUILDS)
def test_every_mysql_reader_waits_with_the_one_definition(build_id):
    expected = _definition()
    docs = build_docs(build_id)
    readers = {
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "Deployment" and (d["metadata"].get("labels") or {}).get(SELECTOR) == "true"
    }
    assert readers == {"grpc-server", "rest-api", "realtime"}, readers
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        spec = d["spec"]["template"]["spec"]
        waits = [c for role, c in all_containers(spec) if c["name"] == "wait-for-schema"]
        if d["metadata"]["name"] not in readers:
            assert not waits, f"{d['metadata']['name']} must not wait for the schema"
            continue
        assert len(waits) == 1, d["metadata"]["name"]
        wait = waits[0]
        assert image_name(wait["image"]) == "grades", "the project's own image, no mysql client image"
        app = spec["containers"][0]
        assert wait["image"] == app["image"], "the same image (and tag) as the service it holds back"
        for key in ("command", "resources", "securityContext"):
            assert wait[key] == expected[key], (d["metadata"]["name"], key)
        # It logs in exactly as the service will: same user, same password Secret, same URL.
        assert _identity(wait) == _identity(app), d["metadata"]["name"]
        assert _identity(app)[1] == {"fieldRef": {"fieldPath": f"metadata.labels['{USER_LABEL}']"}}
        # it runs after every other plain init container (the gke proxy is a native sidecar before it)
        plain = [c["name"] for role, c in all_containers(spec) if role == "init"]
        assert plain[-1] == "wait-for-schema", plain


@pytest.mark.parametrize("build_id", APP_BUILDS)
def test_no_mysql_client_image_is_pulled_by_the_application(build_id):
    """Only kind's own MySQL server runs the mysql image."""
    for d in build_docs(build_id):
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            for _, c in all_containers(d["spec"]["template"]["spec"]):
                if image_name(c["image"]) == "mysql":
                    assert (d["kind"], d["metadata"]["name"]) == ("StatefulSet", "mysql"), d["metadata"]["name"]
