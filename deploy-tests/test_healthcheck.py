"""docker/healthcheck/main.rs: the std-only probe the compose healthchecks run
(the distroless runtime image has no shell or curl). Compiled with rustc
exactly as in the Dockerfile, then run against loopback servers."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import ROOT
from helpers_http import fake_backend, free_port

SOURCE = ROOT / "docker" / "healthcheck" / "main.rs"


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    rustc = shutil.which("rustc")
    if not rustc:
        pytest.fail("rustc not installed (the Rust toolchain builds this workspace)")
    out = tmp_path_factory.mktemp("hc") / "grades-healthcheck"
    proc = subprocess.run(
        [rustc, "--edition", "2021", "-C", "opt-level=s", "-C", "strip=symbols", str(SOURCE), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return out


def run(probe, *args):
    return subprocess.run([str(probe), *args], capture_output=True, text=True, timeout=20)


def test_dockerfile_builds_it_the_same_way():
    text = (ROOT / "Dockerfile").read_text()
    assert "rustc --edition 2021 -C opt-level=s -C strip=symbols /tmp/healthcheck.rs -o /out/grades-healthcheck" in text
    assert "COPY --from=healthcheck /out/grades-healthcheck /usr/local/bin/grades-healthcheck" in text


def test_ok_on_2xx(probe):
    with fake_backend("x") as (port, seen):
        assert run(probe, f"http://127.0.0.1:{port}/readyz").returncode == 0
        assert seen == [("GET", "/readyz")]


def test_fails_on_non_2xx(probe):
    import http.server
    import threading

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = run(probe, f"http://127.0.0.1:{server.server_address[1]}/readyz")
        assert proc.returncode == 1 and "503" in proc.stderr
    finally:
        server.shutdown()


def test_fails_when_nothing_listens(probe):
    proc = run(probe, f"http://127.0.0.1:{free_port()}/readyz", "1")
    assert proc.returncode == 1


def test_usage_errors(probe):
    assert run(probe).returncode == 2
    assert run(probe, "https://127.0.0.1/readyz").returncode == 1
