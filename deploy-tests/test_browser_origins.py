"""Every dashboard URL docs/deploy.md tells a user to open works from the rendered manifests:
the page is served there, the API base URL it is configured with reaches realtime, uses the
page's scheme (a browser blocks http `fetch` and ws:// from an https page as mixed content),
and realtime answers CORS for the page's origin (or it is the same origin).

Section 2 (Tilt on kind): localhost ports from the Tiltfile's port-forwards (tiltfile.py),
the Gateway's routes and the kind overlay's ConfigMap; Vite's page reads
frontend/public/config.js. Section 3 (GKE, Cloud Run): the manifests rendered by
kustomize/scripts/gke-render.sh with sample values, the Gateway's listeners and routes, and the
Cloud Run service's environment. What a browser does with these is not run here: the origin
rules are the CORS and mixed-content rules, applied to the configuration."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import urllib.parse

import pytest
import yaml

from conftest import ROOT, build_docs, by_kind, find
from tiltfile import calls_of, evaluate

DEPLOY_MD = ROOT / "docs" / "deploy.md"
SAMPLE = {
    "GCP_PROJECT_ID": "my-project",
    "GCP_PROJECT_NUMBER": "123456789012",
    "GCP_REGION": "us-central1",
    "GRADES_VERSION": "v0.1.0",
    "CLOUDSQL_INSTANCE_NAME": "grades-mysql",
    "MEMORYSTORE_REDIS_HOST": "10.100.0.3",
    "GATEWAY_PUBLIC_HOST": "grades.example.edu",
}


# ------------------------------------------------------------- browser ----
def origin(url: str) -> str:
    """An origin as a browser sends it: scheme://host[:port], default ports left out."""
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def cors_allows(allowed: str, page_origin: str) -> bool:
    """realtime's CORS_ALLOWED_ORIGINS rule (crates/realtime/src/cors.rs): exact origins, or
    `scheme://host:*` for any port of one host."""
    page_origin = page_origin.lower()
    for entry in (e.strip().lower() for e in allowed.split(",") if e.strip()):
        if entry.endswith(":*"):
            base = entry[:-2]
            rest = page_origin[len(base) :] if page_origin.startswith(base) else None
            if rest is not None and (rest == "" or (rest.startswith(":") and rest[1:].isdigit())):
                return True
        elif entry == page_origin:
            return True
    return False


def api_base(config_value: str, page_url: str) -> str:
    """The dashboard's rule (frontend/src/lib/config.ts): empty means the page's own origin."""
    return config_value.strip() or origin(page_url)


def check_page(page_url: str, api_url: str, cors: str, reaches_realtime) -> None:
    page, api = origin(page_url), origin(api_url)
    assert not (page.startswith("https:") and api.startswith("http:")), f"{page_url} -> {api_url}: mixed content"
    assert reaches_realtime(api_url), f"{page_url}: its API base {api_url} does not reach realtime"
    assert page == api or cors_allows(cors, page), f"{page_url}: realtime does not answer CORS for {page} ({cors})"


# ---------------------------------------------------------------- docs ----
def section(heading: str) -> str:
    text = DEPLOY_MD.read_text()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else None]


def documented_urls(heading: str) -> list[tuple[str, str]]:
    """(URL, what) of the URL table rows of one section; `:8002`-style shorthands expanded."""
    rows = []
    for line in section(heading).splitlines():
        match = re.match(r"^\| ((?:https?://)\S+?)((?:, :\d+)*) \| (.+) \|$", line)
        if match:
            first = match.group(1)
            rows.append((first, match.group(3)))
            base = first.rsplit(":", 1)[0]
            rows += [(f"{base}:{port}", match.group(3)) for port in re.findall(r":(\d+)", match.group(2))]
    return rows


# ----------------------------------------------------------------- kind ----
def _config(docs, workload: str, container: str, variable: str) -> str:
    """A variable's value in one container, from env or a ConfigMap it reads."""
    spec = find(docs, "Deployment", workload)["spec"]["template"]["spec"]
    c = next(c for c in spec["containers"] if c["name"] == container)
    configmaps = {m["metadata"]["name"]: m.get("data") or {} for m in by_kind(docs, "ConfigMap")}
    for env in c.get("env", []):
        if env["name"] == variable:
            if "value" in env:
                return env["value"]
            ref = env["valueFrom"]["configMapKeyRef"]
            return configmaps[ref["name"]][ref["key"]]
    for source in c.get("envFrom", []):
        if "configMapRef" in source and variable in configmaps[source["configMapRef"]["name"]]:
            return configmaps[source["configMapRef"]["name"]][variable]
    raise AssertionError(f"{workload}/{container} has no {variable}")


def route_backend(docs, path: str, section_name: str) -> str | None:
    """The Service a Gateway listener sends a path to (Exact first, then the longest prefix)."""
    best = None
    for route in by_kind(docs, "HTTPRoute"):
        if not any(p.get("sectionName") == section_name for p in route["spec"]["parentRefs"]):
            continue
        for rule in route["spec"]["rules"]:
            for match in rule.get("matches", [{"path": {"type": "PathPrefix", "value": "/"}}]):
                kind, value = match["path"]["type"], match["path"]["value"]
                if kind == "Exact" and path == value:
                    score = (2, len(value))
                elif kind == "PathPrefix" and (path == value or path.startswith(value.rstrip("/") + "/")):
                    score = (1, len(value))
                else:
                    continue
                target = rule["backendRefs"][0]["name"] if rule.get("backendRefs") else "redirect"
                if best is None or score > best[0]:
                    best = (score, target)
    return best[1] if best else None


@functools.cache
def tilt_forwards(dev: bool) -> dict[int, str]:
    """localhost port -> what answers there under `tilt up` (a workload name, `gateway`, `vite`)."""
    calls = evaluate(dev=dev)
    forwards = {}
    for args, kwargs in calls_of(calls, "k8s_resource"):
        for forward in kwargs.get("port_forwards", []):
            local = int(forward.split(":")[0]) if isinstance(forward, str) else forward[1]
            forwards[local] = args[0]
    for _args, kwargs in calls_of(calls, "local_resource"):
        command = kwargs.get("serve_cmd", "")
        if "svc/grades-gateway" in command:
            forwards[int(re.search(r"svc/grades-gateway (\d+):", command)[1])] = "gateway"
        if "vite" in command:
            forwards[int(re.search(r"--port (\d+)", command)[1])] = "vite"
    return forwards


def kind_serves(url: str, dev: bool) -> str | None:
    """What a browser reaches at a localhost URL under Tilt: a workload name or `vite`."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname != "localhost":
        return None
    target = tilt_forwards(dev).get(parts.port)
    if target == "gateway":
        return route_backend(build_docs("kind"), parts.path or "/", "http")
    return target


def vite_api_base() -> str:
    config = (ROOT / "frontend" / "public" / "config.js").read_text()
    return re.search(r'apiBaseUrl:\s*"([^"]*)"', config)[1]


def test_section_2_lists_the_dashboard_urls():
    urls = {url for url, _ in documented_urls("## 2. Tilt on kind")}
    assert {"http://localhost:3000", "http://localhost:8080", "http://localhost:5173"} <= urls, urls


@pytest.mark.parametrize("url,what", documented_urls("## 2. Tilt on kind"), ids=lambda v: v if "://" in v else "")
def test_every_tilt_url_is_served_and_its_dashboard_reaches_the_api(url, what):
    docs = build_docs("kind")
    dev = "--dev" in what
    served = kind_serves(url, dev)
    assert served, f"{url}: nothing is forwarded there by tilt/Tiltfile{' (--dev)' if dev else ''}"
    if "dashboard" not in what.split("(")[0] and served not in ("dashboard", "vite"):
        return
    assert served in ("dashboard", "vite"), f"{url} is documented as the dashboard but serves {served}"
    configured = vite_api_base() if served == "vite" else _config(docs, "dashboard", "dashboard", "API_BASE_URL")
    api = api_base(configured, url)
    cors = _config(docs, "realtime", "realtime", "CORS_ALLOWED_ORIGINS")
    check_page(url, api, cors, lambda api_url: kind_serves(api_url + "/api/live", dev) == "realtime"
               and kind_serves(api_url + "/socket.io/", dev) == "realtime")  # fmt: skip


# ------------------------------------------------------------------ GKE ----
@functools.cache
def rendered(target: str) -> tuple:
    env = {k: v for k, v in os.environ.items() if k not in SAMPLE}
    proc = subprocess.run(
        ["bash", str(ROOT / "kustomize/scripts/gke-render.sh"), target],
        env={**env, **SAMPLE},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


def gke_serves(url: str) -> str | None:
    """What a browser reaches at a public URL: a Service behind the Gateway, `redirect`, or
    `cloudrun`."""
    docs = list(rendered("overlay"))
    parts = urllib.parse.urlsplit(url)
    cloudrun = rendered("cloudrun")[0]
    cloudrun_host = f"{cloudrun['metadata']['name']}-{SAMPLE['GCP_PROJECT_NUMBER']}.{SAMPLE['GCP_REGION']}.run.app"
    if parts.hostname == cloudrun_host and parts.scheme == "https":
        return "cloudrun"
    if parts.hostname != SAMPLE["GATEWAY_PUBLIC_HOST"]:
        return None
    gateway = find(docs, "Gateway", "grades")
    port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    listeners = [
        listener
        for listener in gateway["spec"]["listeners"]
        if listener["port"] == port and listener["protocol"].lower() == parts.scheme
    ]
    if not listeners:
        return None
    if parts.scheme == "https":
        assert gateway["metadata"]["annotations"]["networking.gke.io/certmap"], "an HTTPS listener needs a certificate"
    return route_backend(docs, parts.path or "/", listeners[0]["name"])


def _substitute(text: str) -> str:
    for name, value in SAMPLE.items():
        text = text.replace(name, value)
    return text


def test_section_3_lists_both_dashboards():
    urls = [_substitute(url) for url, _ in documented_urls("## 3. GKE")]
    assert {gke_serves(u) for u in urls} >= {"dashboard", "cloudrun"}, urls


@pytest.mark.parametrize("url,what", documented_urls("## 3. GKE"), ids=lambda v: v if "://" in v else "")
def test_every_public_url_is_served_and_its_dashboard_reaches_the_api(url, what):
    url = _substitute(url)
    served = gke_serves(url)
    assert served, f"{url}: no listener, route or Cloud Run service answers there"
    if url.startswith("http:"):
        assert served == "redirect", f"{url}: plain http must only redirect to https"
        return
    if served not in ("dashboard", "cloudrun"):
        return
    docs = list(rendered("overlay"))
    if served == "cloudrun":
        env = {
            e["name"]: e["value"] for e in rendered("cloudrun")[0]["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        configured = env["API_BASE_URL"]
    else:
        configured = _config(docs, "dashboard", "dashboard", "API_BASE_URL")
    cors = _config(docs, "realtime", "realtime", "CORS_ALLOWED_ORIGINS")
    check_page(url, api_base(configured, url), cors, lambda api_url: gke_serves(api_url + "/api/live") == "realtime"
               and gke_serves(api_url + "/socket.io/") == "realtime")  # fmt: skip


def test_one_setting_gives_every_public_url():
    """GATEWAY_PUBLIC_HOST alone decides the API base URL of both dashboards, the allowed
    origin and the load generator's target."""
    docs = list(rendered("overlay"))
    public = f"https://{SAMPLE['GATEWAY_PUBLIC_HOST']}"
    config = next(c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("grades-config"))["data"]
    assert config["DASHBOARD_API_BASE_URL"] == config["GATEWAY_URL"] == public
    cloudrun = rendered("cloudrun")[0]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "API_BASE_URL", "value": public} in cloudrun
    assert config["CORS_ALLOWED_ORIGINS"].split(",")[0] == public


# ---------------------------------------------------------- the rules ----
def test_the_rules_catch_what_a_browser_refuses():
    assert cors_allows("http://localhost:*", "http://localhost:3000")
    assert not cors_allows("http://localhost:8080", "http://localhost:3000")  # the kind overlay as it was
    assert not cors_allows("https://a.example", "http://a.example")
    assert origin("https://a.example:443/x") == "https://a.example"
    with pytest.raises(AssertionError, match="mixed content"):
        check_page("https://dash.run.app", "http://34.1.2.3", "https://dash.run.app", lambda _: True)
    with pytest.raises(AssertionError, match="CORS"):
        check_page("http://localhost:3000", "http://localhost:8080", "http://localhost:8080", lambda _: True)
