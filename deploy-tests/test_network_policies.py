"""NetworkPolicies: default deny, and exactly the flows grades needs.

A small evaluator of the rendered policies answers "may pod A open a TCP
connection to pod B on port P?" (egress of A and ingress of B must both allow
it, as Kubernetes requires) for in-namespace flows, and "may traffic from a
namespace / IP block reach pod B?" for the gateway.
"""
from __future__ import annotations

import ipaddress

import pytest

from conftest import NAMESPACE, build_docs, by_kind, labels_match, pod_templates

NP_BUILDS = ["base+network-policies", "base+gateway-split+network-policies+loadgen", "kind", "gke", "kind+loadgen"]


def pods(docs):
    out = {}
    for workload, tpl in pod_templates(docs):
        out[workload["metadata"]["name"]] = tpl["metadata"].get("labels") or {}
    return out


def selecting(policies, labels, direction):
    return [p for p in policies if direction in p["spec"].get("policyTypes", ["Ingress"])
            and labels_match(p["spec"].get("podSelector") or {}, labels)]


def _port_ok(rule, port):
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)


def _peer_ok(peers, *, labels=None, namespace=NAMESPACE, ns_labels=None, ip=None):
    if peers is None or peers == []:
        return True
    ns_labels = ns_labels or {"kubernetes.io/metadata.name": namespace}
    for peer in peers:
        if "ipBlock" in peer:
            if ip and ipaddress.ip_address(ip) in ipaddress.ip_network(peer["ipBlock"]["cidr"]):
                return True
            continue
        if ip is not None:
            continue
        ns_sel = peer.get("namespaceSelector")
        pod_sel = peer.get("podSelector")
        ns_match = labels_match(ns_sel, ns_labels) if ns_sel is not None else namespace == NAMESPACE
        pod_match = labels_match(pod_sel, labels or {}) if pod_sel is not None else True
        if ns_match and pod_match and (labels is not None or pod_sel is None):
            return True
    return False


def egress_allowed(policies, src_labels, port, *, dst_labels=None, dst_ns=NAMESPACE, dst_ns_labels=None, ip=None):
    pols = selecting(policies, src_labels, "Egress")
    if not pols:
        return True
    return any(_port_ok(r, port) and _peer_ok(r.get("to"), labels=dst_labels, namespace=dst_ns,
                                               ns_labels=dst_ns_labels, ip=ip)
               for p in pols for r in p["spec"].get("egress") or [])


def ingress_allowed(policies, dst_labels, port, *, src_labels=None, src_ns=NAMESPACE, src_ns_labels=None, ip=None):
    pols = selecting(policies, dst_labels, "Ingress")
    if not pols:
        return True
    return any(_port_ok(r, port) and _peer_ok(r.get("from"), labels=src_labels, namespace=src_ns,
                                               ns_labels=src_ns_labels, ip=ip)
               for p in pols for r in p["spec"].get("ingress") or [])


def flow(policies, src, dst, port):
    return egress_allowed(policies, src, port, dst_labels=dst) and ingress_allowed(policies, dst, port, src_labels=src)


@pytest.fixture(params=NP_BUILDS)
def setup(request):
    docs = build_docs(request.param)
    return request.param, by_kind(docs, "NetworkPolicy"), pods(docs)


def test_default_deny_everything(setup):
    _, policies, _ = setup
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and
            set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} and
            not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert deny, "a default-deny policy selecting every pod"


def test_dns_for_everyone(setup):
    _, policies, pods_ = setup
    kube_dns = {"k8s-app": "kube-dns"}
    for name, labels in pods_.items():
        for proto_port in (53,):
            assert egress_allowed(policies, labels, proto_port, dst_labels=kube_dns, dst_ns="kube-system"), name


def test_internal_flows(setup):
    build_id, policies, p = setup
    allowed = [("grpc-client", "grpc-server", 50051)]
    denied = [("dashboard", "grpc-server", 50051), ("rest-api", "grpc-server", 50051),
              ("grpc-client", "rest-api", 8002), ("dashboard", "rest-api", 8002)]
    if "mysql" in p:  # kind: in-cluster datastores
        allowed += [(n, "mysql", 3306) for n in ("grpc-server", "rest-api", "realtime", "grades-migrate")]
        allowed += [(n, "redis", 6379) for n in ("grpc-server", "rest-api", "realtime", "grpc-client")]
        denied += [("grpc-client", "mysql", 3306), ("dashboard", "mysql", 3306), ("dashboard", "redis", 6379)]
    for src, dst, port in allowed:
        assert flow(policies, p[src], p[dst], port), f"{build_id}: {src} -> {dst}:{port} must be allowed"
    for src, dst, port in denied:
        assert not flow(policies, p[src], p[dst], port), f"{build_id}: {src} -> {dst}:{port} must be denied"


def test_gateway_to_routes(setup):
    build_id, policies, p = setup
    targets = {"grpc-client": 8001, "rest-api": 8002, "realtime": 8003}
    if build_id.startswith("gke"):
        source = dict(ip="35.191.1.1")  # Google front end / health checker range
    else:
        source = dict(src_ns="envoy-gateway-system",
                      src_ns_labels={"kubernetes.io/metadata.name": "envoy-gateway-system"}, src_labels={})
    for name, port in targets.items():
        assert ingress_allowed(policies, p[name], port, **source), f"{build_id}: gateway -> {name}:{port}"
    # grpc-server is internal only
    assert not ingress_allowed(policies, p["grpc-server"], 50051, **source)
    assert not ingress_allowed(policies, p["grpc-server"], 8011, **source)
    # the dashboard is public
    assert ingress_allowed(policies, p["dashboard"], 8080, ip="203.0.113.9")


def test_gke_datastore_egress():
    policies = by_kind(build_docs("gke"), "NetworkPolicy")
    p = pods(build_docs("gke"))
    for name in ("grpc-server", "rest-api", "realtime", "grades-migrate"):
        assert egress_allowed(policies, p[name], 3307, ip="10.100.0.5"), f"{name}: Cloud SQL private IP"
        assert egress_allowed(policies, p[name], 80, ip="169.254.169.254"), f"{name}: metadata server"
        assert egress_allowed(policies, p[name], 6379, ip="10.100.0.9"), f"{name}: Memorystore"
    assert not egress_allowed(policies, p["dashboard"], 3307, ip="10.100.0.5")
    assert not egress_allowed(policies, p["grpc-client"], 3307, ip="10.100.0.5")
    names = {x["metadata"]["name"] for x in policies}
    assert "allow-clients-to-mysql" not in names and "allow-clients-to-redis" not in names
