"""Dashboard image: runtime /config.js from API_BASE_URL, nginx config."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from helpers_http import nginx_binary, nginx_port, request, run_nginx

ENTRYPOINT = ROOT / "docker" / "dashboard" / "entrypoint.sh"
NGINX_CONF = ROOT / "docker" / "dashboard" / "nginx.conf"
DOCKERFILE = ROOT / "docker" / "dashboard.Dockerfile"


def run_entrypoint(tmp_path, value, *cmd):
    env = {"PATH": "/usr/bin:/bin", "CONFIG_DIR": str(tmp_path)}
    if value is not None:
        env["API_BASE_URL"] = value
    return subprocess.run(["sh", str(ENTRYPOINT), *(cmd or ("true",))], env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("http://localhost:8003", "http://localhost:8003"),
        ("https://grades.example.com/", "https://grades.example.com"),
        ("", ""),
        (None, ""),
    ],
)
def test_entrypoint_writes_config(tmp_path, value, expected):
    proc = run_entrypoint(tmp_path, value)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "config.js").read_text()
    assert text == f'window.__GRADES_CONFIG__ = {{ apiBaseUrl: "{expected}" }};\n'
    if shutil.which("node"):
        out = subprocess.run(
            [
                "node",
                "-e",
                "globalThis.window = {}; require(process.argv[1]);"
                "process.stdout.write(JSON.stringify(window.__GRADES_CONFIG__))",
                str(tmp_path / "config.js"),
            ],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == f'{{"apiBaseUrl":"{expected}"}}'


@pytest.mark.parametrize("value", ['http://x"; alert(1); "', "http://a\\b", "http://a b", "http://a\nb", "<script>"])
def test_entrypoint_rejects_unsafe_values(tmp_path, value):
    proc = run_entrypoint(tmp_path, value)
    assert proc.returncode == 64
    assert not (tmp_path / "config.js").exists()


def test_entrypoint_execs_the_command(tmp_path):
    proc = run_entrypoint(tmp_path, "http://x", "echo", "nginx-would-start")
    assert proc.returncode == 0 and proc.stdout.strip() == "nginx-would-start"


def test_dockerfile_shape():
    text = DOCKERFILE.read_text()
    # base images are build arguments (local stand-ins: `just base-images`), upstream by default
    assert re.search(r"^FROM \$\{NODE_IMAGE\} AS build", text, re.M)
    assert re.search(r"^ARG NODE_IMAGE=node:20-bookworm-slim$", text, re.M)
    assert "RUN npm ci" in text and "RUN npm run build" in text
    assert re.search(r"^FROM \$\{NGINX_IMAGE\} AS runtime", text, re.M)
    assert re.search(r"^ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:[\d.]+-alpine$", text, re.M)
    assert "COPY --from=build /app/frontend/dist/ /usr/share/nginx/html/" in text
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^EXPOSE 8080$", text, re.M)
    assert 'ENTRYPOINT ["/usr/local/bin/grades-dashboard-entrypoint"]' in text
    build = ROOT / "frontend" / "package.json"
    if build.exists():
        import json

        scripts = json.loads(build.read_text()).get("scripts", {})
        assert "build" in scripts, "frontend/package.json needs a build script"
        assert (ROOT / "frontend" / "package-lock.json").exists(), "npm ci needs package-lock.json"


@pytest.mark.slow
def test_dashboard_nginx_serves_spa_and_config(tmp_path):
    binary = nginx_binary()
    if not binary:
        pytest.fail("nginx is not installed (apt-get install nginx-light; .ci/run does)")
    html = tmp_path / "html"
    (html / "assets").mkdir(parents=True)
    (html / "index.html").write_text('<script src="/config.js"></script>')
    (html / "assets" / "app-1234.js").write_text("console.log(1)")
    config_dir = tmp_path / "grades-config"
    assert run_entrypoint(config_dir, "http://localhost:8003").returncode == 0
    port = nginx_port()
    text = NGINX_CONF.read_text()
    text = text.replace("root /tmp/grades-config;", "root CONFIG_DIR;").replace("/tmp/", f"{tmp_path}/")
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{port};").replace("listen [::]:8080;", "")
    text = text.replace("root /usr/share/nginx/html;", f"root {html};")
    text = text.replace("root CONFIG_DIR;", f"root {config_dir};")
    with run_nginx(binary, text, tmp_path, port):
        base = f"http://127.0.0.1:{port}"
        status, headers, body = request(base + "/config.js")
        assert status == 200 and b"http://localhost:8003" in body
        assert headers["Cache-Control"] == "no-store"
        assert "javascript" in headers["Content-Type"]
        status, headers, body = request(base + "/some/client/route")
        assert status == 200 and b"/config.js" in body and headers["Cache-Control"] == "no-cache"
        status, headers, _ = request(base + "/assets/app-1234.js")
        assert status == 200 and "immutable" in headers["Cache-Control"]
        assert request(base + "/assets/missing.js")[0] == 404
        assert request(base + "/healthz")[0] == 200
        assert request(base + "/readyz")[0] == 200


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def test_dashboard_nginx_security_headers_are_in_every_location():
    # nginx drops inherited add_header directives in a location that has its own: each location
    # must repeat the whole set.
    text = NGINX_CONF.read_text()
    for location in re.findall(r"location [^{]+\{(.*?)\n        \}", text, re.S):
        if "add_header" not in location:
            continue
        for name in [*SECURITY_HEADERS, "Content-Security-Policy", "Permissions-Policy"]:
            assert f"add_header {name} " in location, f"{name} missing in a location:\n{location}"


@pytest.mark.slow
def test_dashboard_nginx_sends_security_headers(tmp_path):
    binary = nginx_binary()
    if not binary:
        pytest.fail("nginx is not installed (apt-get install nginx-light; .ci/run does)")
    html = tmp_path / "html"
    (html / "assets").mkdir(parents=True)
    (html / "index.html").write_text('<script src="/config.js"></script>')
    (html / "assets" / "app-1234.js").write_text("console.log(1)")
    config_dir = tmp_path / "grades-config"
    assert run_entrypoint(config_dir, "http://localhost:8003").returncode == 0
    port = nginx_port()
    text = NGINX_CONF.read_text()
    text = text.replace("root /tmp/grades-config;", "root CONFIG_DIR;").replace("/tmp/", f"{tmp_path}/")
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{port};").replace("listen [::]:8080;", "")
    text = text.replace("root /usr/share/nginx/html;", f"root {html};")
    text = text.replace("root CONFIG_DIR;", f"root {config_dir};")
    with run_nginx(binary, text, tmp_path, port):
        base = f"http://127.0.0.1:{port}"
        for path in ["/", "/some/client/route", "/config.js", "/assets/app-1234.js", "/assets/missing.js"]:
            _, headers, _ = request(base + path)
            for name, value in SECURITY_HEADERS.items():
                assert headers.get(name) == value, f"{path}: {name} = {headers.get(name)!r}"
            csp = headers.get("Content-Security-Policy", "")
            for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]:
                assert directive in csp, f"{path}: CSP lacks {directive}: {csp!r}"
            assert "camera=()" in headers.get("Permissions-Policy", ""), path
