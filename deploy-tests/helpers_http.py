"""Tiny loopback HTTP servers and nginx runner for the dynamic checks.
Everything binds to 127.0.0.1 on ephemeral ports and is stopped by the test."""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request


def free_port() -> int:
    """A port nothing listens on (picked by the OS)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Fixed ports for the nginx under test: the range given to these checks,
# outside the ephemeral range (where the fake backends get theirs).
NGINX_PORTS = range(9400, 9450)


def nginx_port() -> int:
    """The first port of NGINX_PORTS that nothing on 127.0.0.1 holds."""
    for port in NGINX_PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"every port in {NGINX_PORTS.start}-{NGINX_PORTS.stop - 1} is taken")


@contextlib.contextmanager
def fake_backend(route: str, status: int = 201):
    """Answers like grpc-client/rest-api (201 + X-Route) and records requests."""
    seen: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, code, body=b'{"id":1}'):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Route", route)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.append(("POST", self.path))
            self._reply(status, f'{{"id": {len(seen)}, "route": "{route}"}}'.encode())

        def do_GET(self):
            seen.append(("GET", self.path))
            self._reply(200, b'{"ok": true}')

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin"))


def nginx_version(binary: str) -> tuple[int, int, int]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr
    m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


@contextlib.contextmanager
def run_nginx(binary: str, conf_text: str, workdir, port: int):
    conf = workdir / "nginx.conf"
    if os.geteuid() == 0:
        # Under root, nginx workers drop to `nobody`, which cannot read pytest's
        # private temp dirs; the images run nginx as one non-root uid instead.
        conf_text = "user root;\n" + conf_text
    conf.write_text(conf_text)
    test = subprocess.run(
        [binary, "-t", "-p", str(workdir), "-e", "stderr", "-c", str(conf)], capture_output=True, text=True
    )
    if test.returncode != 0:
        raise AssertionError(f"nginx -t failed:\n{test.stderr}")
    proc = subprocess.Popen(
        [binary, "-p", str(workdir), "-e", "stderr", "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            if proc.poll() is not None:
                raise AssertionError(f"nginx exited: {proc.stderr.read()}")
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def request(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
