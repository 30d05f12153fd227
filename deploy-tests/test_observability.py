"""Observability manifests: Prometheus and Grafana in compose (profile observability) and on kind
(kustomize/components/observability), GMP's PodMonitorings and Rules on GKE
(kustomize/overlays/gke/monitoring). Every service is scraped on the port the contract gives it,
`job` is the service's name everywhere, the copies kustomize needs equal observability/, and the
NetworkPolicies let exactly the scrapes through.

Not covered: the PodMonitoring and Rules objects against GMP's CRDs (no package carries their
schema; their fields are checked here by hand, the Rules' groups by promtool). Whether Prometheus
and Grafana run with these files: `just test-observability` (Prometheus, natively) and
observability/README.md (Grafana, which cannot run here).
"""

from __future__ import annotations

import functools
import json
import pathlib
import shutil
import subprocess
import tempfile

import pytest
import yaml

from conftest import ROOT, all_containers, build_docs, by_kind, contract, find, labels_match
from test_network_policies import OUTSIDE, Connectivity

SERVICES = ("grpc-client", "grpc-server", "rest-api", "realtime")
OBSERVABILITY = ROOT / "observability"
COMPONENT = ROOT / "kustomize" / "components" / "observability"
GKE_MONITORING = ROOT / "kustomize" / "overlays" / "gke" / "monitoring"
GMP_COLLECTORS = """
---
apiVersion: v1
kind: Namespace
metadata: {name: gmp-system, labels: {kubernetes.io/metadata.name: gmp-system}}
---
apiVersion: v1
kind: Pod
metadata: {name: collector, namespace: gmp-system, labels: {app.kubernetes.io/name: collector}}
spec: {containers: [{name: prometheus, image: prometheus}]}
"""


def contract_port(service: str) -> int:
    return int(contract()["ports"][service]["PORT"])


def scrape_jobs(config: dict) -> dict[str, dict]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


# ------------------------------------------------------------------ compose ----
@pytest.fixture(scope="module")
def compose_services():
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]


def test_compose_observability_is_a_profile_with_upstream_defaults(compose_services):
    prometheus, grafana = compose_services["prometheus"], compose_services["grafana"]
    assert "observability" in prometheus["profiles"] and grafana["profiles"] == ["observability"]
    assert prometheus["image"] == "${PROMETHEUS_IMAGE:-prom/prometheus:v3.5.0}"
    assert grafana["image"].startswith("${GRAFANA_IMAGE:-grafana/grafana:")
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert "./observability/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "./observability/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./observability/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    for service in (prometheus, grafana):
        assert service["ports"][0].startswith("127.0.0.1:"), "published on loopback only"


def test_compose_prometheus_scrapes_every_replica_of_every_service(compose_services):
    config = yaml.safe_load((OBSERVABILITY / "prometheus" / "prometheus.yml").read_text())
    jobs = scrape_jobs(config)
    for service in SERVICES:
        (discovery,) = jobs[service]["dns_sd_configs"]
        assert discovery["names"] == [service] and discovery["type"] == "A", service
        assert discovery["port"] == int(compose_services[service]["environment"]["PORT"]) == contract_port(service)
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_provisioning_points_at_prometheus_and_the_dashboards():
    provisioning = OBSERVABILITY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert (source["type"], source["url"], source["uid"]) == ("prometheus", "http://prometheus:9090", "prometheus")
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "grades.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    board = json.loads((OBSERVABILITY / "grafana" / "dashboards" / "grades.json").read_text())
    assert board["uid"] == "grades" and board["panels"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"


# --------------------------------------------------------------------- kind ----
def test_kind_component_copies_equal_observability():
    """kustomize reads nothing outside the component, so it holds copies (`just observability`)."""
    pairs = {
        "files/alerts.yml": OBSERVABILITY / "prometheus" / "alerts.yml",
        "files/grades.json": OBSERVABILITY / "grafana" / "dashboards" / "grades.json",
        "files/datasources.yml": OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "prometheus.yml",
        "files/dashboards.yml": OBSERVABILITY / "grafana" / "provisioning" / "dashboards" / "grades.yml",
    }
    for copy, original in pairs.items():
        assert (COMPONENT / copy).read_text() == original.read_text(), f"{copy}: run `just observability`"


def test_kind_prometheus_finds_every_pod_of_every_service():
    docs = build_docs("kind")
    config = yaml.safe_load((COMPONENT / "prometheus.yml").read_text())
    jobs = scrape_jobs(config)
    templates = {w["metadata"]["name"]: w["spec"]["template"] for w in by_kind(docs, "Deployment")}
    for service in SERVICES:
        (discovery,) = jobs[service]["dns_sd_configs"]
        (name,) = discovery["names"]
        headless = find(docs, "Service", name.split(".")[0])
        assert headless, name
        assert name == f"{headless['metadata']['name']}.so1p2.svc.cluster.local"
        spec = headless["spec"]
        assert spec["clusterIP"] == "None" and spec["publishNotReadyAddresses"] is True, name
        assert labels_match({"matchLabels": spec["selector"]}, templates[service]["metadata"]["labels"]), name
        assert discovery["port"] == spec["ports"][0]["port"] == contract_port(service), name
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_kind_prometheus_and_grafana_mount_what_they_read():
    docs = build_docs("kind")
    configmaps = {c["metadata"]["name"]: c for c in by_kind(docs, "ConfigMap")}

    def mounts(deployment: str) -> dict[str, dict]:
        pod = find(docs, "Deployment", deployment)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = [c for _, c in all_containers(pod)]
        out = {}
        for mount in container["volumeMounts"]:
            volume = volumes[mount["name"]]
            out[mount["mountPath"]] = configmaps[volume["configMap"]["name"]]["data"] if "configMap" in volume else {}
        return out

    prometheus = mounts("prometheus")
    assert set(prometheus["/etc/prometheus"]) == {"prometheus.yml", "alerts.yml"}
    grafana = mounts("grafana")
    assert json.loads(grafana["/var/lib/grafana/dashboards"]["grades.json"])["uid"] == "grades"
    assert "prometheus.yml" in grafana["/etc/grafana/provisioning/datasources"]
    assert "grades.yml" in grafana["/etc/grafana/provisioning/dashboards"]
    service = find(docs, "Service", "prometheus")
    assert service and service["spec"]["ports"][0]["port"] == 9090, "the data source's http://prometheus:9090"


# ---------------------------------------------------------------------- GKE ----
def test_gke_pod_monitorings_scrape_every_service_as_its_job():
    docs = build_docs("gke")
    monitorings = {m["metadata"]["name"]: m for m in by_kind(docs, "PodMonitoring")}
    assert set(monitorings) == set(SERVICES), "GMP names `job` after the PodMonitoring"
    for service, monitoring in monitorings.items():
        assert monitoring["apiVersion"] == "monitoring.googleapis.com/v1"
        pod = find(docs, "Deployment", service)["spec"]["template"]
        assert labels_match(monitoring["spec"]["selector"], pod["metadata"]["labels"]), service
        (endpoint,) = monitoring["spec"]["endpoints"]
        ports = {p["name"]: p["containerPort"] for _, c in all_containers(pod["spec"]) for p in c.get("ports", [])}
        assert ports[endpoint["port"]] == contract_port(service), service
        assert endpoint["path"] == "/metrics"


def test_gke_rules_are_the_alerts_and_promtool_accepts_them(tmp_path):
    docs = build_docs("gke")
    (rules,) = by_kind(docs, "Rules")
    assert rules["apiVersion"] == "monitoring.googleapis.com/v1"
    alerts = yaml.safe_load((OBSERVABILITY / "prometheus" / "alerts.yml").read_text())
    groups = rules["spec"]["groups"]
    assert all(group.get("interval") for group in groups), "GMP requires each group's interval"
    without_interval = [{k: v for k, v in group.items() if k != "interval"} for group in groups]
    assert without_interval == alerts["groups"], "run `just observability`"
    bindir = subprocess.run(["bash", str(ROOT / "scripts" / "prometheus-debian.sh")], capture_output=True, text=True)
    assert bindir.returncode == 0, bindir.stderr
    extracted = tmp_path / "rules.yml"
    extracted.write_text(yaml.safe_dump({"groups": groups}))
    promtool = f"{bindir.stdout.strip()}/promtool"
    check = subprocess.run([promtool, "check", "rules", str(extracted)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


# ---------------------------------------------------------- NetworkPolicies ----
@functools.cache
def connectivity(build_id: str) -> Connectivity:
    nca = shutil.which("nca")
    if not nca:
        pytest.fail("nca (network-config-analyzer) is not installed: run deploy-tests/run.sh")
    with tempfile.TemporaryDirectory(prefix="nca-observability-") as tmp:
        resources = pathlib.Path(tmp, "resources")
        resources.mkdir()
        # Without the ConfigMaps and Rules: their Prometheus and Grafana templates (`{{ $labels.x }}`,
        # `{{route}}`) make nca take the whole file for a Helm template and skip it.
        docs = [d for d in build_docs(build_id) if d["kind"] not in ("ConfigMap", "Rules")]
        (resources / "build.yaml").write_text(yaml.safe_dump_all(docs))
        (resources / "outside.yaml").write_text(OUTSIDE + GMP_COLLECTORS)
        out = pathlib.Path(tmp, "connectivity.txt")
        proc = subprocess.run(
            [nca, "--connectivity", str(resources), "--resource_list", str(resources), "--output_format",
             "txt_no_fw_rules", "--output_endpoints", "deployments", "--file_out", str(out)],
            capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
        return Connectivity(out.read_text())


def test_kind_prometheus_reaches_the_metrics_ports_and_nothing_else():
    conn = connectivity("kind")
    for service in SERVICES:
        assert conn.allows("prometheus", service, contract_port(service)), service
        assert not conn.allows("grafana", service, contract_port(service)), service
    assert conn.allows("grafana", "prometheus", 9090)
    for src, dst, port in (("prometheus", "mysql", 3306), ("prometheus", "redis", 6379),
                           ("dashboard", "prometheus", 9090), ("rest-api", "prometheus", 9090),
                           ("prometheus", "grpc-server", 50051)):  # fmt: skip
        assert not conn.allows(src, dst, port), f"{src} -> {dst}:{port} must be denied"


def test_gke_managed_collectors_reach_the_metrics_ports_only():
    conn = connectivity("gke")
    for service in SERVICES:
        assert conn.allows("gmp-system/collector", service, contract_port(service)), service
    assert not conn.allows("gmp-system/collector", "grpc-server", 50051)
    assert not conn.allows("gmp-system/collector", "rest-api", 9090), "only the HTTP ports"
