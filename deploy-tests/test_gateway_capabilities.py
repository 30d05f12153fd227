"""Every HTTPRoute match and filter the builds use is one GKE's Gateway supports.

GKE rejects an HTTPRoute that uses an unsupported feature, and a rejected route sends nothing:
with the 50/50 split that would be every POST /grades. What GKE supports comes from its
published Gateway API conformance report (kubernetes-sigs/gateway-api,
conformance/reports/v1.3.0/gke-gateway/standard-1.33.4-managed-gxlb-report.yaml: GKE
1.33.4-gke.1134000, gatewayClass gke-l7-global-external-managed, GATEWAY-HTTP profile), copied
below; Core features are supported by every conformant implementation. kind's Envoy Gateway
supports a superset, and kind runs the same routes, so a route that passes here is the one
kind exercised."""

from __future__ import annotations

import pytest

from conftest import BUILDS, build_docs, by_kind

GKE_SUPPORTED_EXTENDED = {
    "GatewayPort8080",
    "HTTPRouteHostRewrite",
    "HTTPRoutePathRedirect",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
}
GKE_UNSUPPORTED_EXTENDED = {
    "GatewayAddressEmpty",
    "GatewayHTTPListenerIsolation",
    "GatewayInfrastructurePropagation",
    "GatewayStaticAddresses",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendTimeout",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteMethodMatching",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestTimeout",
}
GATEWAY_BUILDS = [b for b in sorted(BUILDS) if "gateway-split" in b or b.startswith(("kind", "gke"))]


def features(route: dict) -> set[str]:
    """The Gateway API features (conformance names) an HTTPRoute needs; Core ones are left out."""
    needed = set()
    for parent in route["spec"].get("parentRefs", []):
        if "port" in parent:
            needed.add("HTTPRouteParentRefPort")
    for rule in route["spec"].get("rules", []):
        for match in rule.get("matches", []):
            if "method" in match:
                needed.add("HTTPRouteMethodMatching")
            if "queryParams" in match:
                needed.add("HTTPRouteQueryParamMatching")
            if (match.get("path") or {}).get("type") == "RegularExpression":
                needed.add("HTTPRoutePathRegularExpression (implementation-specific)")
        if "timeouts" in rule:
            needed |= {"HTTPRouteRequestTimeout"} if "request" in rule["timeouts"] else set()
            needed |= {"HTTPRouteBackendTimeout"} if "backendRequest" in rule["timeouts"] else set()
        mirrors = 0
        for filter_ in rule.get("filters", []):
            kind = filter_["type"]
            if kind == "RequestRedirect":
                redirect = filter_["requestRedirect"]
                needed |= {"HTTPRouteSchemeRedirect"} if "scheme" in redirect else set()
                needed |= {"HTTPRoutePortRedirect"} if "port" in redirect else set()
                needed |= {"HTTPRoutePathRedirect"} if "path" in redirect else set()
            elif kind == "URLRewrite":
                rewrite = filter_["urlRewrite"]
                needed |= {"HTTPRouteHostRewrite"} if "hostname" in rewrite else set()
                needed |= {"HTTPRoutePathRewrite"} if "path" in rewrite else set()
            elif kind == "ResponseHeaderModifier":
                needed.add("HTTPRouteResponseHeaderModification")
            elif kind == "RequestMirror":
                mirrors += 1
                needed.add("HTTPRouteRequestMirror")
            elif kind != "RequestHeaderModifier":  # Core
                needed.add(f"filter {kind}")
        if mirrors > 1:
            needed.add("HTTPRouteRequestMultipleMirrors")
        for backend in rule.get("backendRefs", []):
            if backend.get("filters"):
                needed.add("HTTPRouteBackendRequestHeaderModification")
    return needed


def backend_protocol_features(docs: list[dict]) -> set[str]:
    """appProtocol of the Services the routes send to (WebSocket and h2c are extended features)."""
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    needed = set()
    for route in by_kind(docs, "HTTPRoute"):
        for rule in route["spec"].get("rules", []):
            for backend in rule.get("backendRefs", []):
                for port in services[backend["name"]]["spec"]["ports"]:
                    if port["port"] == backend["port"]:
                        protocol = port.get("appProtocol", "")
                        needed |= {"HTTPRouteBackendProtocolWebSocket"} if protocol == "kubernetes.io/ws" else set()
                        needed |= {"HTTPRouteBackendProtocolH2C"} if protocol == "kubernetes.io/h2c" else set()
    return needed


@pytest.mark.parametrize("build_id", GATEWAY_BUILDS)
def test_routes_use_only_what_gke_supports(build_id):
    docs = build_docs(build_id)
    for route in by_kind(docs, "HTTPRoute"):
        unsupported = features(route) - GKE_SUPPORTED_EXTENDED
        assert not unsupported, f"{build_id}: HTTPRoute {route['metadata']['name']} needs {sorted(unsupported)}"
    assert not backend_protocol_features(docs) - GKE_SUPPORTED_EXTENDED


def test_the_gke_gateway_redirects_http_with_a_supported_filter():
    docs = build_docs("gke")
    redirect = next(r for r in by_kind(docs, "HTTPRoute") if r["metadata"]["name"] == "grades-http-to-https")
    assert features(redirect) == {"HTTPRouteSchemeRedirect"}
    assert redirect["spec"]["parentRefs"] == [{"name": "grades", "sectionName": "http"}]


def test_the_check_knows_the_unsupported_features():
    """Not vacuous: the route as it was (POST matched by method) and other unsupported
    matches are caught."""
    as_it_was = {
        "spec": {
            "parentRefs": [{"name": "grades"}],
            "rules": [{"matches": [{"method": "POST", "path": {"type": "Exact", "value": "/grades"}}]}],
        }
    }
    assert features(as_it_was) & GKE_UNSUPPORTED_EXTENDED == {"HTTPRouteMethodMatching"}
    query = {"spec": {"rules": [{"matches": [{"queryParams": [{"name": "a", "value": "b"}]}]}]}}
    assert features(query) == {"HTTPRouteQueryParamMatching"}
    rewrite = {"spec": {"rules": [{"filters": [{"type": "URLRewrite", "urlRewrite": {"path": {}}}]}]}}
    assert features(rewrite) == {"HTTPRoutePathRewrite"}
    assert not GKE_SUPPORTED_EXTENDED & GKE_UNSUPPORTED_EXTENDED
