"""loadgen/: payloads match docs/CONTRACTS.md; Locust runs headless."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from helpers_http import fake_backend

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


def test_dockerfile_and_requirements():
    text = (ROOT / "loadgen" / "Dockerfile").read_text()
    for needle in ("LOCUST_HEADLESS=true", "LOCUST_USERS=", "LOCUST_SPAWN_RATE=", "LOCUST_RUN_TIME=",
                   "LOCUST_HOST=", "USER 10001:10001", 'ENTRYPOINT ["locust"]'):
        assert needle in text, needle
    for f in ("requirements.txt", "locustfile.py", "grades_payload.py"):
        assert f in text and (ROOT / "loadgen" / f).exists()
    req = (ROOT / "loadgen" / "requirements.txt").read_text()
    assert "locust==" in req


def _run_locust(host: str, cwd) -> str:
    locust = shutil.which("locust")
    if not locust:
        pytest.skip("locust not installed (deploy-tests/run.sh installs it)")
    env = dict(os.environ, LOCUST_HOST=host, LOCUST_HEADLESS="true",
               LOCUST_USERS="3", LOCUST_SPAWN_RATE="3", LOCUST_RUN_TIME="4s",
               LOADGEN_WAIT_MIN="0.01", LOADGEN_WAIT_MAX="0.05", LOCUST_ONLY_SUMMARY="true",
               PYTHONPATH=str(ROOT / "loadgen"))
    proc = subprocess.run([locust, "-f", str(ROOT / "loadgen" / "locustfile.py")], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=90)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    return output


@pytest.mark.slow
def test_locust_headless_run(tmp_path):
    """A 4-second headless run against one fake route: Locust posts grades
    and prints the route summary."""
    with fake_backend("grpc") as (port, seen):
        output = _run_locust(f"http://127.0.0.1:{port}", tmp_path)
    assert seen and all(m == ("POST", "/grades") for m in seen)
    assert "route split over" in output and "grpc=" in output


@pytest.mark.slow
def test_locust_through_the_compose_ingress(tmp_path):
    """loadgen -> the real docker/ingress/nginx.conf -> two fake routes: the
    summary printed by the locustfile shows both routes."""
    from helpers_http import free_port, nginx_binary, nginx_version, run_nginx
    from test_ingress_nginx import _local_conf, conf_text
    binary = nginx_binary()
    if not binary:
        pytest.skip("nginx is not installed")
    listen = free_port()
    with fake_backend("grpc") as (g, g_seen), fake_backend("rest") as (r, r_seen), fake_backend("rt") as (t, _):
        conf = _local_conf(conf_text(), {"grpc": g, "rest": r, "realtime": t}, listen, tmp_path, nginx_version(binary))
        with run_nginx(binary, conf, tmp_path, listen):
            output = _run_locust(f"http://127.0.0.1:{listen}", tmp_path)
    assert g_seen and r_seen
    line = next(l for l in output.splitlines() if "route split over" in l)
    assert "grpc=" in line and "rest=" in line, line
