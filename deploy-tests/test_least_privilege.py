"""Least privilege on kind and GKE, as on a laptop (docs/security.md, "MySQL users"): each
workload logs in to MySQL as the user of its kind of access, never one all-privileges user.

* Every build: the pod label grades.io/mysql-user names the user (grades-migrator for the
  migrations Job, grades-app for the routes, grades-reader for realtime), MYSQL_USER comes
  from it, and each workload reads only its own password Secret.
* kind: one dev-only Secret per user; the MySQL pod's first start creates the three users
  (kustomize/overlays/kind/mysql-users.sh), run here for real against the MySQL/MariaDB of
  TEST_MYSQL_URL with the privileges checked, and equal to scripts/sql/users.sql's.
* GKE: each Kubernetes service account acts as the Google service account of its user, whose
  IAM database user the Cloud SQL Auth Proxy logs in as."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import urllib.parse
import uuid

import pytest

from conftest import BUILDS, KUSTOMIZE_DIR, ROOT, build_docs, by_kind, find, pod_templates

USER_LABEL = "grades.io/mysql-user"
USERS = {"grades-migrate": "grades-migrator", "grpc-server": "grades-app", "rest-api": "grades-app",
         "realtime": "grades-reader"}  # fmt: skip
ROLE_OF = {"grades-migrator": "migrator", "grades-app": "app", "grades-reader": "reader"}
APP_BUILDS = [b for b in sorted(BUILDS) if b != "tilt-loadgen"]
MYSQL_USERS_SH = KUSTOMIZE_DIR / "overlays" / "kind" / "mysql-users.sh"


def _strip_hash(name: str) -> str:
    return re.sub(r"-[a-z0-9]{10}$", "", name)


@pytest.mark.parametrize("build_id", APP_BUILDS)
def test_each_workload_logs_in_as_its_own_user(build_id):
    docs = build_docs(build_id)
    for workload, template in pod_templates(docs):
        name = workload["metadata"]["name"]
        labels = template["metadata"].get("labels") or {}
        if name not in USERS:
            assert USER_LABEL not in labels, f"{name} does not use MySQL"
            continue
        user = USERS[name]
        assert labels.get(USER_LABEL) == user, name
        if workload["kind"] == "Deployment":  # kustomize's per-user patches select on it
            assert workload["metadata"]["labels"].get(USER_LABEL) == user, name
        for container in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            if "MYSQL_URL" not in env:
                continue
            assert env["MYSQL_USER"]["valueFrom"] == {"fieldRef": {"fieldPath": f"metadata.labels['{USER_LABEL}']"}}
            names = list(env)
            assert names.index("MYSQL_USER") < names.index("MYSQL_URL"), "$(MYSQL_USER) must be defined first"
            secrets = {_strip_hash(s["secretRef"]["name"]) for s in container.get("envFrom", []) if "secretRef" in s}
            assert secrets == {f"grades-db-{ROLE_OF[user]}"}, (name, container["name"], secrets)


def test_kind_has_one_password_per_user_and_creates_the_users():
    docs = build_docs("kind")
    secrets = {_strip_hash(s["metadata"]["name"]): s for s in by_kind(docs, "Secret")}
    passwords = {}
    for user, role in ROLE_OF.items():
        data = secrets[f"grades-db-{role}"]["data"]
        assert set(data) == {"MYSQL_PASSWORD"}, role
        passwords[user] = base64.b64decode(data["MYSQL_PASSWORD"]).decode()
    assert len(set(passwords.values())) == 3, "each user has its own password"
    mysql = find(docs, "StatefulSet", "mysql")["spec"]["template"]["spec"]
    container = mysql["containers"][0]
    env = {e["name"]: e.get("valueFrom", {}) for e in container["env"]}
    assert "MYSQL_USER" not in env and "MYSQL_PASSWORD" not in env, "the image must not create an all-privileges user"
    for role in ROLE_OF.values():
        ref = env[f"GRADES_{role.upper()}_PASSWORD"]["secretKeyRef"]
        assert (_strip_hash(ref["name"]), ref["key"]) == (f"grades-db-{role}", "MYSQL_PASSWORD")
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/docker-entrypoint-initdb.d")
    volume = next(v for v in mysql["volumes"] if v["name"] == mount["name"])
    initdb = find(docs, "ConfigMap", volume["configMap"]["name"])
    assert initdb["data"]["mysql-users.sh"] == MYSQL_USERS_SH.read_text()


def test_gke_service_accounts_act_as_the_google_account_of_their_user():
    docs = build_docs("gke")
    for workload, template in pod_templates(docs):
        name = workload["metadata"]["name"]
        account = find(docs, "ServiceAccount", template["spec"]["serviceAccountName"])
        annotation = (account["metadata"].get("annotations") or {}).get("iam.gke.io/gcp-service-account")
        if name in USERS:
            # the Cloud SQL Auth Proxy (--auto-iam-authn) logs in as this account's IAM user,
            # which MySQL names by the part before the "@": the pod's MYSQL_USER
            assert annotation == f"{USERS[name]}@GCP_PROJECT_ID.iam.gserviceaccount.com", name
        else:
            assert annotation is None, f"{name} needs no Google identity"


def test_kind_grants_are_those_of_users_sql():
    users_sql = (ROOT / "scripts/sql/users.sql").read_text()
    reference = {
        "migrator": re.search(r"'GRANT (.+?) ON ', @grades_db, '\.\* TO ', @migrator", users_sql)[1],
        "app": re.search(r"'GRANT (.+?) ON ', @grades_db, '\.\* TO ', @app", users_sql)[1],
        "reader": re.search(r"'GRANT (.+?) ON ', @grades_db, '\.\* TO ', @reader", users_sql)[1],
    }
    script = MYSQL_USERS_SH.read_text()
    for user, role in ROLE_OF.items():
        granted = re.search(rf"GRANT (.+?) ON .+ TO '\$\{{GRADES_{role.upper()}_USER:-{user}\}}'", script)
        assert granted, user
        assert granted[1] == reference[role], (user, granted[1], reference[role])


# ------------------------------------------------------- run for real ----
URL = urllib.parse.urlsplit(os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
HOST, PORT = URL.hostname or "127.0.0.1", str(URL.port or 3306)
ADMIN, ADMIN_PASSWORD = urllib.parse.unquote(URL.username or "root"), urllib.parse.unquote(URL.password or "")


def _sql(statement: str, user: str = ADMIN, password: str = ADMIN_PASSWORD, database: str | None = None):
    args = ["mysql", "--protocol=TCP", "-h", HOST, "-P", PORT, "-u", user, "-N", "-s", "-e", statement]
    if database:
        args.insert(1, f"--database={database}")
    return subprocess.run(args, capture_output=True, text=True, timeout=20, env={**os.environ, "MYSQL_PWD": password})


@pytest.fixture
def server():
    if not shutil.which("mysql"):
        pytest.fail("no mysql client: apt-get install mariadb-client (.ci/run installs it)")
    probe = _sql("SELECT 1")
    if probe.returncode != 0:
        pytest.fail(f"no MySQL/MariaDB at {HOST}:{PORT} as {ADMIN} (set TEST_MYSQL_URL): {probe.stderr.strip()}")
    suffix = uuid.uuid4().hex[:8]
    database = f"deploy_tests_{suffix}"
    users = {role: f"dt-{role}-{suffix}" for role in ("migrator", "app", "reader")}
    assert _sql(f"CREATE DATABASE {database}").returncode == 0
    try:
        yield database, users
    finally:
        for user in users.values():
            _sql(f"DROP USER IF EXISTS '{user}'@'%'")
        _sql(f"DROP DATABASE IF EXISTS {database}")


@pytest.mark.slow
def test_mysql_users_sh_creates_users_of_least_privilege(server, tmp_path):
    database, users = server
    passwords = {role: f"{role}-dev-only-{uuid.uuid4().hex[:6]}" for role in users}
    # The mysql image's entrypoint sources the script with docker_process_sql defined: a client
    # logged in as root. Here the same, against the test server.
    shim = tmp_path / "entrypoint.sh"
    shim.write_text(
        'docker_process_sql() { mysql --protocol=TCP -h "$HOST" -P "$PORT" -u "$ADMIN" "$@"; }\n'
        f'. "{MYSQL_USERS_SH}"\n'
    )
    env = {"PATH": os.environ["PATH"], "HOST": HOST, "PORT": PORT, "ADMIN": ADMIN, "MYSQL_PWD": ADMIN_PASSWORD,
           "MYSQL_DATABASE": database}  # fmt: skip
    for role in users:
        env[f"GRADES_{role.upper()}_USER"] = users[role]
        env[f"GRADES_{role.upper()}_PASSWORD"] = passwords[role]
    run = subprocess.run(["bash", str(shim)], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr

    def as_user(role, statement):
        return _sql(statement, users[role], passwords[role], database)

    assert as_user("migrator", "CREATE TABLE t (id INT PRIMARY KEY)").returncode == 0
    assert as_user("app", "INSERT INTO t VALUES (1)").returncode == 0
    assert as_user("app", "CREATE TEMPORARY TABLE scratch (id INT)").returncode == 0
    assert as_user("reader", "SELECT COUNT(*) FROM t").stdout.strip() == "1"
    for role, statement in (("app", "CREATE TABLE u (id INT)"), ("app", "DELETE FROM t"), ("app", "DROP TABLE t"),
                            ("reader", "INSERT INTO t VALUES (2)"), ("reader", "UPDATE t SET id = 3")):  # fmt: skip
        refused = as_user(role, statement)
        assert refused.returncode != 0 and "denied" in refused.stderr, (role, statement, refused.stderr)


def test_mysql_users_sh_refuses_a_missing_password(tmp_path):
    shim = tmp_path / "entrypoint.sh"
    shim.write_text(f'docker_process_sql() {{ cat > /dev/null; }}\n. "{MYSQL_USERS_SH}"\n')
    env = {"PATH": os.environ["PATH"], "MYSQL_DATABASE": "grades", "GRADES_MIGRATOR_PASSWORD": "m",
           "GRADES_APP_PASSWORD": "a"}  # fmt: skip
    run = subprocess.run(["bash", str(shim)], env=env, capture_output=True, text=True, timeout=20)
    assert run.returncode == 1 and "GRADES_READER_PASSWORD" in run.stderr
