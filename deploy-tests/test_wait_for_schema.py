"""The wait-for-schema init container's script, run for real against the
machine's MySQL-compatible server when one answers on 127.0.0.1:3306 (the
Rust-service machines run MariaDB there, root with an empty password): it
must wait while the schema is missing or a migration failed, and succeed once
the migrations Job's tables exist. Uses its own throw-away database."""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from conftest import build_docs

HOST, PORT, USER = "127.0.0.1", "3306", os.environ.get("DEPLOY_TESTS_MYSQL_USER", "root")


def _sql(statement: str, database: str | None = None):
    args = ["mysql", "--protocol=TCP", "-h", HOST, "-P", PORT, "-u", USER, "-N", "-s", "-e", statement]
    if database:
        args.insert(1, f"--database={database}")
    return subprocess.run(args, capture_output=True, text=True, timeout=20)


@pytest.fixture
def database():
    if not shutil.which("mysql"):
        pytest.skip("no mysql client")
    if _sql("SELECT 1").returncode != 0:
        pytest.skip("no MySQL/MariaDB answering on 127.0.0.1:3306 as root without password")
    name = f"deploy_tests_{uuid.uuid4().hex[:10]}"
    assert _sql(f"CREATE DATABASE {name}").returncode == 0
    try:
        yield name
    finally:
        _sql(f"DROP DATABASE IF EXISTS {name}")


def _script():
    dep = next(d for d in build_docs("kind") if d["kind"] == "Deployment" and d["metadata"]["name"] == "rest-api")
    init = next(c for c in dep["spec"]["template"]["spec"]["initContainers"] if c["name"] == "wait-for-schema")
    return init["command"]


def _run(database, tmp_path, attempts="2"):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TMPDIR": str(tmp_path), "MYSQL_HOST": HOST, "MYSQL_PORT": PORT,
           "MYSQL_USER": USER, "MYSQL_PASSWORD": "", "MYSQL_DATABASE": database,
           "WAIT_FOR_SCHEMA_ATTEMPTS": attempts}
    cmd = _script()
    # the script keeps its option file in $TMPDIR or /tmp (an emptyDir in the pod)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


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
