"""compose.yaml: Compose Specification schema + what the sandbox relies on."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from conftest import MIGRATING_BINARIES, ROOT, declared_binaries

COMPOSE = ROOT / "compose.yaml"
GRADES_SERVICES = {"grpc-server": 8011, "grpc-client": 8001, "rest-api": 8002, "realtime": 8003}


def interpolate(value, environ: dict[str, str]):
    """Compose's variable interpolation (`${NAME}`, `${NAME:-default}`, `${NAME-default}`,
    nested defaults, `$$`) over a loaded document, with `environ` as the environment."""
    if isinstance(value, dict):
        return {k: interpolate(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ) for v in value]
    if not isinstance(value, str):
        return value
    out, i = "", 0
    while i < len(value):
        if value.startswith("$$", i):
            out, i = out + "$", i + 2
        elif value.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if value.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                depth -= value[j] == "}"
                j += 1
            body = value[i + 2 : j - 1]
            name, operator, default = re.match(r"([A-Za-z_]\w*)(:?-)?(.*)", body, re.S).groups()
            present = environ.get(name)
            if operator == ":-":
                out += present if present else interpolate(default, environ)
            elif operator == "-":
                out += present if present is not None else interpolate(default, environ)
            else:
                out += present or ""
            i = j
        else:
            out, i = out + value[i], i + 1
    return out


@pytest.fixture(scope="module")
def raw_compose():
    return yaml.safe_load(COMPOSE.read_text())  # resolves the YAML anchors / merge keys


@pytest.fixture(scope="module")
def compose(raw_compose):
    """compose.yaml as `just up` runs it with nothing set: every variable at its default."""
    return interpolate(raw_compose, {})


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def test_interpolation():
    nested = "${DASHBOARD_API_BASE_URL:-http://localhost:${REALTIME_PORT:-8003}}"
    assert interpolate(nested, {}) == "http://localhost:8003"
    assert interpolate(nested, {"REALTIME_PORT": "9"}) == "http://localhost:9"
    assert interpolate(nested, {"DASHBOARD_API_BASE_URL": "https://x"}) == "https://x"
    assert interpolate("${A-d}|${A:-d}|$${A}", {"A": ""}) == "|d|${A}"


def test_compose_spec_schema():
    """check-jsonschema ships the Compose Specification schema (vendor.compose-spec)."""
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_schema_catches_errors(tmp_path):
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  x:\n    image: a\n    depends_on:\n      y:\n        condition: when_i_feel_like_it\n")
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0


def _uses_grades_image(svc):
    return svc.get("image", "").split(":")[0] == "grades"


def test_grades_image_built_once(services):
    builders = [n for n, s in services.items() if _uses_grades_image(s) and "build" in s]
    assert builders == ["migrate"]
    assert services["migrate"]["build"]["dockerfile"] == "Dockerfile"
    assert (ROOT / services["migrate"]["build"]["context"] / "Dockerfile").exists()
    images = {s["image"] for s in services.values() if _uses_grades_image(s)}
    assert len(images) == 1, images
    # the builder always builds; the others reuse the local image, never pull it
    assert services["migrate"]["pull_policy"] == "build"
    for name, svc in services.items():
        if _uses_grades_image(svc) and name != "migrate":
            assert svc["pull_policy"] == "never", name
    for name in ("dashboard", "loadgen"):
        assert services[name]["pull_policy"] == "build", name


def test_commands_are_workspace_binaries(services):
    bins = declared_binaries()
    users = {n: s for n, s in services.items() if _uses_grades_image(s)}
    assert set(users) == set(GRADES_SERVICES) | {"migrate"}
    for name, svc in users.items():
        cmd = svc["command"]
        assert isinstance(cmd, list) and cmd[0] in bins, f"{name}: {cmd} (declared: {sorted(bins)})"
        if name == "migrate":
            assert cmd[1:] == ["migrate"] and cmd[0] in MIGRATING_BINARIES
        else:
            assert cmd == [name], f"{name} runs its own binary"


def test_startup_order(services):
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["mysql"]["condition"] == "service_healthy"
    for name in GRADES_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
    for name in ("grpc-server", "rest-api"):
        assert services[name]["environment"]["MIGRATE"] == "false", name
    assert services["grpc-client"]["depends_on"]["grpc-server"]["condition"] == "service_healthy"
    for route in ("grpc-client", "rest-api", "realtime"):
        assert services["ingress"]["depends_on"][route]["condition"] == "service_healthy"
    assert services["dashboard"]["depends_on"]["realtime"]["condition"] == "service_healthy"


def test_healthchecks(services):
    for name, svc in services.items():
        if name in ("migrate", "db-users", "db-grants", "loadgen"):
            continue  # one-shot
        assert "healthcheck" in svc, name
    for name, port in GRADES_SERVICES.items():
        test = services[name]["healthcheck"]["test"]
        # distroless runtime: no shell, so an exec-form test with the bundled probe
        assert test[0] == "CMD" and test[1] == "grades-healthcheck", name
        assert test[2] == f"http://127.0.0.1:{port}/readyz", name
        assert services[name]["environment"].get("PORT") == str(port), name


def test_contract_environment(services):
    for name in GRADES_SERVICES:
        env = services[name]["environment"]
        assert env["REDIS_URL"] == "redis://redis:6379"
        assert env["REDIS_PREFIX"] == "grades:"
        assert env["MYSQL_URL"].startswith("mysql://") and "@mysql:3306/grades" in env["MYSQL_URL"]
    assert services["grpc-server"]["environment"]["GRPC_PORT"] == "50051"
    assert services["grpc-client"]["environment"]["GRPC_SERVER_URL"] == "http://grpc-server:50051"


def test_published_ports(services):
    def published(svc):
        out = {}
        for p in svc.get("ports", []):
            parts = str(p).split(":")
            out[int(parts[-2])] = int(parts[-1])
        return out

    assert published(services["ingress"]) == {8080: 8080}
    assert published(services["realtime"]) == {8003: 8003}
    assert published(services["dashboard"]) == {3000: 8080}
    for name in ("grpc-server", "grpc-client", "rest-api", "migrate"):
        assert not services[name].get("ports"), f"{name} is reached through the ingress only"


def test_dashboard_points_at_realtime(services, raw_compose):
    assert services["dashboard"]["environment"]["API_BASE_URL"] == "http://localhost:8003"
    # a changed REALTIME_PORT moves the dashboard's API base URL with it
    moved = interpolate(raw_compose, {"REALTIME_PORT": "18003"})["services"]
    assert moved["dashboard"]["environment"]["API_BASE_URL"] == "http://localhost:18003"
    assert moved["realtime"]["ports"] == ["18003:8003"]
    assert services["dashboard"]["build"]["dockerfile"] == "docker/dashboard.Dockerfile"
    assert (ROOT / "docker" / "dashboard.Dockerfile").exists()


def test_ingress_and_datastores(services, compose):
    ingress = services["ingress"]
    assert "nginx" in ingress["image"]
    src = ingress["volumes"][0].split(":")[0]
    assert (ROOT / src).resolve() == (ROOT / "docker" / "ingress" / "nginx.conf").resolve()
    # `resolve` in upstream blocks needs nginx >= 1.27.3
    tag = ingress["image"].split(":")[1]
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", tag).groups())
    assert (major, minor) >= (1, 28) or (major, minor) == (1, 27)
    assert services["mysql"]["image"].startswith("mysql:8")
    assert services["redis"]["image"].startswith("redis:7")
    for name, volume in (("mysql", "mysql-data"), ("redis", "redis-data")):
        assert any(str(v).startswith(f"{volume}:") for v in services[name]["volumes"])
        assert volume in compose["volumes"]


def test_loadgen_profile(services):
    lg = services["loadgen"]
    assert lg["profiles"] == ["load"]
    assert lg["environment"]["LOCUST_HOST"] == "http://ingress:8080"
    assert lg["environment"]["LOCUST_HEADLESS"] == "true"
    assert (ROOT / lg["build"]["context"] / "Dockerfile").exists()
    assert lg["depends_on"]["ingress"]["condition"] == "service_healthy"


def test_dev_credentials_are_marked(services):
    credentials = [("mysql", "MYSQL_ROOT_PASSWORD")] + [
        ("db-users", f"MYSQL_{user}_PASSWORD") for user in ("ROOT", "MIGRATOR", "APP", "READER")
    ]
    for service, key in credentials:
        value = services[service]["environment"][key]
        assert "dev-only" in value, f"{key} default must be marked dev-only"


def test_each_service_connects_as_its_own_mysql_user(services, raw_compose):
    """docs/security.md: migrator (DDL) for migrate, app (rows) for the routes, reader for realtime."""

    def user(name):
        return re.match(r"mysql://([^:@]+)", services[name]["environment"]["MYSQL_URL"]).group(1)

    assert user("migrate") == "grades_migrator"
    assert user("grpc-server") == user("rest-api") == "grades_app"
    assert user("realtime") == "grades_reader"
    assert "MYSQL_USER" not in services["mysql"]["environment"], "no all-privileges application user"
    users = services["db-users"]
    assert "./scripts/sql/users.sql:/grades/users.sql:ro" in users["volumes"]
    assert services["migrate"]["depends_on"]["db-users"]["condition"] == "service_completed_successfully"
    # users.sql again once the tables exist: the app user's DELETE on idempotency_keys.
    grants = services["db-grants"]
    assert grants["command"] == users["command"] and grants["volumes"] == users["volumes"]
    assert grants["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("grpc-server", "rest-api"):
        assert services[name]["depends_on"]["db-grants"]["condition"] == "service_completed_successfully", name
    for name in ("grpc-server", "grpc-client", "rest-api"):
        # passed through from the environment (.env), unset by default
        assert raw_compose["services"][name]["environment"]["INGEST_TOKEN"] == "${INGEST_TOKEN:-}", name
