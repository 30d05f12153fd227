"""docker/ingress/nginx.conf: the compose ingress that splits POST /grades.

Static checks, and the real config run by a local nginx (Debian's
nginx-light; .ci/run installs it) on 127.0.0.1 in front of two fake routes,
where the split is measured.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT
from helpers_http import fake_backend, nginx_binary, nginx_port, nginx_version, request, run_nginx

CONF = ROOT / "docker" / "ingress" / "nginx.conf"


def conf_text():
    return CONF.read_text()


def test_split_is_declared_50_50():
    text = conf_text()
    m = re.search(r'split_clients\s+"\$\{request_id\}"\s+\$grades_route\s*\{(.*?)\}', text, re.S)
    assert m, "split_clients on $request_id"
    entries = [line.strip().rstrip(";").split() for line in m.group(1).strip().splitlines() if line.strip()]
    assert entries == [["50%", "grpc_client"], ["*", "rest_api"]]
    assert re.search(r"upstream grpc_client\s*\{[^}]*server grpc-client:8001 resolve;", text)
    assert re.search(r"upstream rest_api\s*\{[^}]*server rest-api:8002 resolve;", text)
    assert re.search(r"upstream realtime\s*\{[^}]*server realtime:8003 resolve;", text)
    grades = re.search(r"location = /grades \{(.*?)\n        \}", text, re.S).group(1)
    assert "proxy_pass http://$grades_route;" in grades
    assert "$request_method != POST" in grades
    assert "proxy_next_upstream off;" in text  # never replay a POST on the other route
    assert re.search(r"listen 8080;", text)


def _local_conf(text: str, ports: dict[str, int], listen: int, workdir, version) -> str:
    text = text.replace("grpc-client:8001", f"127.0.0.1:{ports['grpc']}")
    text = text.replace("rest-api:8002", f"127.0.0.1:{ports['rest']}")
    text = text.replace("realtime:8003", f"127.0.0.1:{ports['realtime']}")
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    text = text.replace("/tmp/", f"{workdir}/")
    text = re.sub(r"(?m)^\s*resolver .*$", "", text)  # no Docker DNS here
    if version < (1, 27, 3):  # `resolve` in upstreams is open source since 1.27.3
        text = text.replace(" resolve;", ";")
        text = re.sub(r"(?m)^\s*zone \S+ \S+;$", "", text)
    return text


@pytest.mark.slow
def test_ingress_splits_evenly(tmp_path):
    binary = nginx_binary()
    if not binary:
        pytest.fail("nginx is not installed (apt-get install nginx-light; .ci/run does)")
    version = nginx_version(binary)
    listen = nginx_port()
    with (
        fake_backend("grpc") as (grpc_port, grpc_seen),
        fake_backend("rest") as (rest_port, rest_seen),
        fake_backend("realtime") as (rt_port, rt_seen),
    ):
        conf = _local_conf(
            conf_text(), {"grpc": grpc_port, "rest": rest_port, "realtime": rt_port}, listen, tmp_path, version
        )
        with run_nginx(binary, conf, tmp_path, listen):
            base = f"http://127.0.0.1:{listen}"
            routes = {"grpc": 0, "rest": 0}
            n = 400
            body = json.dumps(
                {"carnet": 1, "nombre": "A", "curso": "SO1", "nota": 90, "semestre": "1S", "year": 2024}
            ).encode()
            for _ in range(n):
                status, headers, _ = request(base + "/grades", "POST", body, {"Content-Type": "application/json"})
                assert status == 201
                routes[headers["X-Route"]] += 1
                assert headers["X-Grades-Upstream"] in ("grpc_client", "rest_api")
            # Binomial(400, 0.5): sd = 10; 5 sd either side.
            assert abs(routes["grpc"] - n / 2) <= 50, routes
            assert routes["grpc"] + routes["rest"] == n
            assert len(grpc_seen) == routes["grpc"] and len(rest_seen) == routes["rest"]

            status, headers, _ = request(base + "/grades")  # GET is not ingestion
            assert status == 405 and headers.get("Allow") == "POST"
            assert request(base + "/api/live")[0] == 200 and rt_seen[-1] == ("GET", "/api/live")
            assert request(base + "/socket.io/?EIO=4&transport=polling")[0] == 200
            assert request(base + "/healthz")[0] == 200
            assert request(base + "/nope")[0] == 404
