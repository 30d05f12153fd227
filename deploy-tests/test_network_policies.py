"""NetworkPolicies: default deny, and exactly the flows grades needs.

The connectivity is computed by IBM's network-config-analyzer (`nca
--connectivity`, offline) from the rendered build plus the pods outside
so1p2 that the policies name (cluster DNS in kube-system, the Envoy Gateway
pods in envoy-gateway-system on kind). Each test then asks the map "may A open
a TCP connection to B on port P?" for the required flows (allowed) and for
a list of forbidden ones (denied).
"""

from __future__ import annotations

import functools
import ipaddress
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

from conftest import BUILDS, build_docs, by_kind, pod_templates

NP_BUILDS = ["base+network-policies", "base+gateway-split+network-policies+loadgen", "kind", "gke", "kind+loadgen"]

# Pods outside so1p2 that the policies allow traffic from or to.
OUTSIDE = """
apiVersion: v1
kind: Namespace
metadata: {name: kube-system, labels: {kubernetes.io/metadata.name: kube-system}}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: coredns, image: coredns}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: envoy-gateway-system, labels: {kubernetes.io/metadata.name: envoy-gateway-system}}
---
apiVersion: v1
kind: Pod
metadata: {name: envoy, namespace: envoy-gateway-system, labels: {app.kubernetes.io/name: envoy}}
spec: {containers: [{name: envoy, image: envoy}]}
"""
DNS = "kube-system/coredns"
GATEWAY = "envoy-gateway-system/envoy"

LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.+)$")


class Connectivity:
    """nca's map ('src => dst : connections', one line per pair and protocol
    set). Endpoints are 'namespace/workload' (so1p2 workloads by name) or an
    IPv4 address."""

    def __init__(self, text: str):
        self.rules = []
        for line in text.splitlines():
            m = LINE.match(line.strip())
            if m:
                self.rules.append((self._endpoint(m["src"]), self._endpoint(m["dst"]), self._conns(m["conn"])))
        assert self.rules, f"nca printed no connectivity:\n{text}"

    @staticmethod
    def _endpoint(text: str):
        named = re.fullmatch(r"([^/]+)/([^\[]+)\[\w+\]", text)
        if named:
            return f"{named[1]}/{named[2]}" if named[1] != "so1p2" else named[2]
        low, _, high = text.partition("-")
        return ipaddress.ip_address(low), ipaddress.ip_address(high or low)

    @staticmethod
    def _conns(text: str):
        """[(protocols, port ranges or None for any port)]; None for 'All connections'."""
        if text.strip() == "All connections":
            return None
        out = []
        for body in re.findall(r"\{([^}]*)\}", text):
            protocols = set(re.search(r"protocols:([A-Z, ]+?)(?:,dst_ports:|$)", body)[1].replace(" ", "").split(","))
            ports = re.search(r"dst_ports:([\d,\-]+)", body)
            ranges = None
            if ports:
                ranges = [tuple(int(x) for x in (p.split("-") * 2)[:2]) for p in ports[1].split(",")]
            out.append((protocols, ranges))
        return out

    @staticmethod
    def _matches(endpoint, wanted) -> bool:
        if isinstance(endpoint, tuple):
            return not isinstance(wanted, str) and endpoint[0] <= wanted <= endpoint[1]
        return endpoint == wanted

    def allows(self, src, dst, port: int, protocol: str = "TCP") -> bool:
        src = ipaddress.ip_address(src) if re.fullmatch(r"[\d.]+", src) else src
        dst = ipaddress.ip_address(dst) if re.fullmatch(r"[\d.]+", dst) else dst
        for rule_src, rule_dst, conns in self.rules:
            if self._matches(rule_src, src) and self._matches(rule_dst, dst):
                if conns is None or any(
                    protocol in protocols and (ranges is None or any(a <= port <= b for a, b in ranges))
                    for protocols, ranges in conns
                ):
                    return True
        return False


@functools.cache
def connectivity(build_id: str) -> Connectivity:
    nca = shutil.which("nca")
    if not nca:
        pytest.fail("nca (network-config-analyzer) is not installed: run deploy-tests/run.sh")
    with tempfile.TemporaryDirectory(prefix="nca-") as tmp:
        resources = pathlib.Path(tmp, "resources")
        resources.mkdir()
        # Without ConfigMaps and GMP Rules: the Prometheus and Grafana templates in them (`{{ $labels.x }}`,
        # `{{route}}`) make nca take the whole file for a Helm template and skip it.
        docs = [d for d in build_docs(build_id) if d["kind"] not in ("ConfigMap", "Rules")]
        (resources / "build.yaml").write_text(yaml.safe_dump_all(docs))
        (resources / "outside.yaml").write_text(OUTSIDE)
        out = pathlib.Path(tmp, "connectivity.txt")
        proc = subprocess.run(
            [
                nca,
                "--connectivity",
                str(resources),
                "--resource_list",
                str(resources),
                "--output_format",
                "txt_no_fw_rules",
                "--output_endpoints",
                "deployments",
                "--file_out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
        return Connectivity(out.read_text())


def workloads(build_id: str) -> list[str]:
    return [d["metadata"]["name"] for d in build_docs(build_id) if d["kind"] in ("Deployment", "StatefulSet", "Job")]


# ------------------------------------------ the older interface, on nca ----
# test_loadgen.py (another owner) still asks with (policies, labels); these
# answer from the same nca map until it calls connectivity(build_id).allows().
def pods(docs) -> dict[str, dict]:
    """Workload name -> pod labels."""
    return {w["metadata"]["name"]: tpl["metadata"].get("labels") or {} for w, tpl in pod_templates(docs)}


def _build_and_name(policies, labels) -> tuple[str, str]:
    for build_id in BUILDS:
        docs = build_docs(build_id)
        if by_kind(docs, "NetworkPolicy") == policies:
            return build_id, next(name for name, pod_labels in pods(docs).items() if pod_labels == labels)
    raise AssertionError("these policies come from no build in conftest.BUILDS")


def flow(policies, src_labels, dst_labels, port) -> bool:
    build_id, src = _build_and_name(policies, src_labels)
    return connectivity(build_id).allows(src, _build_and_name(policies, dst_labels)[1], port)


def egress_allowed(policies, labels, port, *, dst_ns=None, ip=None, **_) -> bool:
    """To an IP, or to the Envoy Gateway pods when dst_ns is envoy-gateway-system."""
    assert ip or dst_ns == "envoy-gateway-system", "only IPs and the Envoy Gateway namespace are modelled"
    build_id, src = _build_and_name(policies, labels)
    return connectivity(build_id).allows(src, ip or GATEWAY, port)


@pytest.fixture(params=NP_BUILDS)
def setup(request):
    return request.param, connectivity(request.param), workloads(request.param)


def test_default_deny_everything(setup):
    build_id, _, _ = setup
    policies = by_kind(build_docs(build_id), "NetworkPolicy")
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "a default-deny policy selecting every pod"


def test_dns_for_everyone(setup):
    build_id, conn, names = setup
    for name in names:
        assert conn.allows(name, DNS, 53, "UDP") and conn.allows(name, DNS, 53, "TCP"), f"{build_id}: {name} -> DNS"


def test_internal_flows(setup):
    build_id, conn, names = setup
    allowed = [("grpc-client", "grpc-server", 50051)]
    denied = [
        ("dashboard", "grpc-server", 50051),
        ("rest-api", "grpc-server", 50051),
        ("grpc-client", "rest-api", 8002),
        ("dashboard", "rest-api", 8002),
        ("dashboard", "grpc-client", 8001),
        ("realtime", "grpc-server", 50051),
    ]
    if "mysql" in names:  # kind: in-cluster datastores
        allowed += [(n, "mysql", 3306) for n in ("grpc-server", "rest-api", "realtime", "grades-migrate")]
        allowed += [(n, "redis", 6379) for n in ("grpc-server", "rest-api", "realtime", "grpc-client")]
        denied += [("grpc-client", "mysql", 3306), ("dashboard", "mysql", 3306), ("dashboard", "redis", 6379)]
    for src, dst, port in allowed:
        assert conn.allows(src, dst, port), f"{build_id}: {src} -> {dst}:{port} must be allowed"
    for src, dst, port in denied:
        assert not conn.allows(src, dst, port), f"{build_id}: {src} -> {dst}:{port} must be denied"


def test_gateway_to_routes(setup):
    build_id, conn, _ = setup
    # GKE: the Google front ends / health checkers (35.191.0.0/16); elsewhere the Envoy Gateway pods
    gateway = "35.191.1.1" if build_id.startswith("gke") else GATEWAY
    for name, port in {"grpc-client": 8001, "rest-api": 8002, "realtime": 8003}.items():
        assert conn.allows(gateway, name, port), f"{build_id}: gateway -> {name}:{port}"
    # grpc-server is internal only
    assert not conn.allows(gateway, "grpc-server", 50051)
    assert not conn.allows(gateway, "grpc-server", 8011)
    # the dashboard is public, the routes are not
    assert conn.allows("203.0.113.9", "dashboard", 8080)
    assert not conn.allows("203.0.113.9", "rest-api", 8002)


def test_gke_datastore_egress():
    conn = connectivity("gke")
    for name in ("grpc-server", "rest-api", "realtime", "grades-migrate"):
        assert conn.allows(name, "10.100.0.5", 3307), f"{name}: Cloud SQL private IP"
        assert conn.allows(name, "169.254.169.254", 80), f"{name}: metadata server"
        assert conn.allows(name, "10.100.0.9", 6379), f"{name}: Memorystore"
    assert not conn.allows("dashboard", "10.100.0.5", 3307)
    assert not conn.allows("grpc-client", "10.100.0.5", 3307)
    names = {x["metadata"]["name"] for x in by_kind(build_docs("gke"), "NetworkPolicy")}
    assert "allow-clients-to-mysql" not in names and "allow-clients-to-redis" not in names


def test_connectivity_parser():
    """The reading of nca's lines (the analysis itself is nca's)."""
    conn = Connectivity(
        "\n".join(
            [
                "so1p2/a[Deployment] => so1p2/b[Deployment] : {protocols:TCP,dst_ports:8001-8003,9000}",
                "so1p2/a[Deployment] => kube-system/coredns[Pod] : {protocols:TCP, UDP,dst_ports:53}",
                "10.0.0.0-10.0.0.255 => so1p2/b[Deployment] : All connections",
                "so1p2/b[Deployment] => 169.254.169.254 : {protocols:TCP}",
            ]
        )
    )
    assert conn.allows("a", "b", 8002) and conn.allows("a", "b", 9000)
    assert not conn.allows("a", "b", 8004) and not conn.allows("a", "b", 8002, "UDP")
    assert conn.allows("a", DNS, 53, "UDP") and not conn.allows("a", DNS, 54, "UDP")
    assert conn.allows("10.0.0.7", "b", 1) and not conn.allows("10.0.1.7", "b", 1)
    assert conn.allows("b", "169.254.169.254", 12345) and not conn.allows("b", "a", 1)
