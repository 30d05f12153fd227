"""The wait-for-schema init container: defined once (the kustomize component
components/wait-for-schema), present in every MySQL-reading Deployment of
every build, and its script run for real against a MySQL-compatible server:
it must wait while the schema is missing or a migration failed, and succeed
once the migrations Job's tables exist. Uses its own throw-away database on
the server in TEST_MYSQL_URL (the one the Rust tests use; default
mysql://root@127.0.0.1:3306)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.parse
import uuid

import pytest
import yaml

from conftest import BUILDS, KUSTOMIZE_DIR, all_containers, build_docs, image_name

COMPONENT = KUSTOMIZE_DIR / "components" / "wait-for-schema"
SELECTOR = "grades.io/mysql-client"  # the component's labelSelector
APP_BUILDS = [b for b in sorted(BUILDS) if b != "tilt-loadgen"]


def _definition() -> dict:
    patch = yaml.safe_load((COMPONENT / "init-container.yaml").read_text())
    [container] = patch["spec"]["template"]["spec"]["initContainers"]
    return container


def test_component_targets_the_mysql_clients():
    kustomization = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Component"
    assert [p["target"] for p in kustomization["patches"]] == [
        {"kind": "Deployment", "labelSelector": f"{SELECTOR}=true"}]
    base = yaml.safe_load((KUSTOMIZE_DIR / "base" / "kustomization.yaml").read_text())
    assert "../components/wait-for-schema" in base.get("components", [])


@pytest.mark.parametrize("build_id", APP_BUILDS)
def test_every_mysql_reader_waits_with_the_one_definition(build_id):
    expected = _definition()
    docs = build_docs(build_id)
    readers = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"
               and (d["metadata"].get("labels") or {}).get(SELECTOR) == "true"}
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
        rendered = dict(waits[0])
        assert image_name(rendered.pop("image")) == "mysql"
        for source in rendered["envFrom"]:  # generated ConfigMaps/Secrets get a content-hash suffix
            ref = source.get("configMapRef") or source.get("secretRef")
            ref["name"] = re.sub(r"-[a-z0-9]{10}$", "", ref["name"])
        assert rendered == {k: v for k, v in expected.items() if k != "image"}, d["metadata"]["name"]
        # it runs after every other plain init container (the gke proxy is a native sidecar before it)
        plain = [c["name"] for role, c in all_containers(spec) if role == "init"]
        assert plain[-1] == "wait-for-schema", plain
        volumes = {v["name"] for v in spec.get("volumes") or []}
        assert all(m["name"] in volumes for m in rendered["volumeMounts"]), d["metadata"]["name"]


def test_script_is_valid_sh(tmp_path):
    command = _definition()["command"]
    assert command[:2] == ["sh", "-c"]
    script = tmp_path / "wait.sh"
    script.write_text(command[2])
    proc = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------- run for real ----
URL = urllib.parse.urlsplit(os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
HOST, PORT = URL.hostname or "127.0.0.1", str(URL.port or 3306)
USER, PASSWORD = urllib.parse.unquote(URL.username or "root"), urllib.parse.unquote(URL.password or "")


def _sql(statement: str, database: str | None = None):
    args = ["mysql", "--protocol=TCP", "-h", HOST, "-P", PORT, "-u", USER, "-N", "-s", "-e", statement]
    if database:
        args.insert(1, f"--database={database}")
    return subprocess.run(args, capture_output=True, text=True, timeout=20,
                          env={**os.environ, "MYSQL_PWD": PASSWORD})


@pytest.fixture
def database():
    if not shutil.which("mysql"):
        pytest.fail("no mysql client: apt-get install mariadb-client (.ci/run installs it)")
    probe = _sql("SELECT 1")
    if probe.returncode != 0:
        pytest.fail(f"no MySQL/MariaDB at {HOST}:{PORT} as {USER} (set TEST_MYSQL_URL): {probe.stderr.strip()}")
    name = f"deploy_tests_{uuid.uuid4().hex[:10]}"
    assert _sql(f"CREATE DATABASE {name}").returncode == 0
    try:
        yield name
    finally:
        _sql(f"DROP DATABASE IF EXISTS {name}")


def _run(database, tmp_path, attempts="2"):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TMPDIR": str(tmp_path), "MYSQL_HOST": HOST,
           "MYSQL_PORT": PORT, "MYSQL_USER": USER, "MYSQL_PASSWORD": PASSWORD, "MYSQL_DATABASE": database,
           "WAIT_FOR_SCHEMA_ATTEMPTS": attempts}
    # the script keeps its option file in $TMPDIR or /tmp (an emptyDir in the pod)
    return subprocess.run(_definition()["command"], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_waits_then_succeeds(database, tmp_path):
    missing = _run(database, tmp_path)
    assert missing.returncode == 1 and "not ready after 2 attempts" in missing.stderr

    for stmt in ("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, success BOOLEAN NOT NULL)",
                 "CREATE TABLE courses (code VARCHAR(8) PRIMARY KEY)",
                 "CREATE TABLE grades (id BIGINT PRIMARY KEY)",
                 "INSERT INTO _sqlx_migrations VALUES (1, FALSE)"):
        assert _sql(stmt, database).returncode == 0, stmt
    failed = _run(database, tmp_path)
    assert failed.returncode == 1, "a failed (dirty) migration must keep the routes waiting"

    assert _sql("UPDATE _sqlx_migrations SET success = TRUE", database).returncode == 0
    ok = _run(database, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "schema ready" in ok.stdout
