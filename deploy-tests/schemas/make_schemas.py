#!/usr/bin/env python3
"""Writes the JSON Schemas in this folder for the custom resources that
kubernetes-validate (core Kubernetes only) does not know.

How they were made: written by hand in this script from the published API
references of each project, field by field, for the API versions we use:

  * gateway.networking.k8s.io/v1 Gateway, HTTPRoute   -- Gateway API standard
    channel (v1.2/v1.3 "apis/v1" types: limits such as 16 backendRefs per
    rule, weights 0..1,000,000, ports 1..65535, path value <= 1024 chars,
    the "Service backendRef needs a port" rule);
  * networking.gke.io/v1 HealthCheckPolicy, GCPBackendPolicy -- GKE Gateway
    policy CRDs (field names and enums checked against the type declarations
    shipped in the npm package @kubernetes-models/gke 4.6.2);
  * serving.knative.dev/v1 Service -- the Knative Serving subset that Cloud
    Run's `gcloud run services replace` accepts (containers are validated
    separately against the core Container schema by the tests).

They are stricter than the real CRDs in one way on purpose: objects list their
known fields with additionalProperties: false, so a typo fails here instead of
being silently pruned by the API server. Nothing was downloaded to make them.
An optional test (test_crd_schemas.py) cross-checks the same manifests with
the validators generated from the upstream CRDs in the npm packages
@kubernetes-models/gateway-api, /gke and /knative when node is available.

Regenerate after editing:  python deploy-tests/schemas/make_schemas.py
(test_crd_schemas.py fails if the JSON files are out of date.)
"""
from __future__ import annotations

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
DRAFT = "https://json-schema.org/draft/2020-12/schema"

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
GROUP = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
KIND = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"
HOSTNAME = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DURATION = r"^([0-9]{1,5}(h|m|s|ms)){1,4}$"
PROTOCOL = r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$"
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$"


def obj(props: dict, required: tuple = (), **extra) -> dict:
    out = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    out.update(extra)
    return out


def arr(items: dict, max_items: int | None = None, min_items: int | None = None) -> dict:
    out: dict = {"type": "array", "items": items}
    if max_items is not None:
        out["maxItems"] = max_items
    if min_items is not None:
        out["minItems"] = min_items
    return out


def string(min_len: int | None = None, max_len: int | None = None, pattern: str | None = None, enum=None) -> dict:
    out: dict = {"type": "string"}
    if min_len is not None:
        out["minLength"] = min_len
    if max_len is not None:
        out["maxLength"] = max_len
    if pattern:
        out["pattern"] = pattern
    if enum:
        out["enum"] = list(enum)
    return out


def integer(minimum: int | None = None, maximum: int | None = None) -> dict:
    out: dict = {"type": "integer"}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
ANY_OBJECT = {"type": "object"}

METADATA = {
    "type": "object",
    "properties": {
        "name": string(1, 253, DNS_SUBDOMAIN),
        "namespace": string(1, 63, DNS_LABEL),
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
    "required": ["name"],
}


def top(api_version: str, kind: str, spec: dict, title: str) -> dict:
    return {
        "$schema": DRAFT,
        "$id": f"urn:grades:deploy-tests:{api_version}:{kind}",
        "title": title,
        "type": "object",
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec,
            "status": ANY_OBJECT,
        },
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
    }


# ----------------------------------------------------------- Gateway API ----
PORT = integer(1, 65535)
SECTION_NAME = string(1, 253, DNS_SUBDOMAIN)
OBJECT_NAME = string(1, 253)
NAMESPACE = string(1, 63, DNS_LABEL)

LABEL_SELECTOR = obj({
    "matchLabels": STRING_MAP,
    "matchExpressions": arr(obj({
        "key": string(),
        "operator": string(enum=("In", "NotIn", "Exists", "DoesNotExist")),
        "values": arr(string()),
    }, ("key", "operator"))),
})

PARENT_REF = obj({
    "group": string(0, 253, GROUP),
    "kind": string(1, 63, KIND),
    "namespace": NAMESPACE,
    "name": OBJECT_NAME,
    "sectionName": SECTION_NAME,
    "port": PORT,
}, ("name",))

BACKEND_OBJECT_REF_PROPS = {
    "group": string(0, 253, GROUP),
    "kind": string(1, 63, KIND),
    "name": OBJECT_NAME,
    "namespace": NAMESPACE,
    "port": PORT,
}
def service_needs_port(schema: dict) -> dict:
    """Upstream CEL rule "Must have port for Service reference": applies when
    group/kind are absent (they default to "" / Service) or explicit."""
    schema = dict(schema)
    schema["allOf"] = [
        {
            "if": {
                "anyOf": [
                    {"not": {"required": ["kind"]}},
                    {"properties": {"kind": {"const": "Service"}}, "required": ["kind"]},
                ]
            },
            "then": {
                "if": {
                    "anyOf": [
                        {"not": {"required": ["group"]}},
                        {"properties": {"group": {"const": ""}}, "required": ["group"]},
                    ]
                },
                "then": {"required": ["port"]},
            },
        }
    ]
    return schema


HEADER_MATCH = obj({
    "type": string(enum=("Exact", "RegularExpression")),
    "name": string(1, 256, HEADER_NAME),
    "value": string(1, 4096),
}, ("name", "value"))

HTTP_HEADER = obj({"name": string(1, 256, HEADER_NAME), "value": string(1, 4096)}, ("name", "value"))
HEADER_FILTER = obj({
    "set": arr(HTTP_HEADER, 16),
    "add": arr(HTTP_HEADER, 16),
    "remove": arr(string(1, 256), 16),
})
PATH_MODIFIER = obj({
    "type": string(enum=("ReplaceFullPath", "ReplacePrefixMatch")),
    "replaceFullPath": string(0, 1024),
    "replacePrefixMatch": string(0, 1024),
}, ("type",))
HTTP_FILTER = obj({
    "type": string(enum=("RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
                         "RequestRedirect", "URLRewrite", "ExtensionRef")),
    "requestHeaderModifier": HEADER_FILTER,
    "responseHeaderModifier": HEADER_FILTER,
    "requestMirror": obj({
        "backendRef": service_needs_port(obj(BACKEND_OBJECT_REF_PROPS, ("name",))),
        "percent": integer(0, 100),
        "fraction": obj({"numerator": integer(0), "denominator": integer(1)}, ("numerator",)),
    }, ("backendRef",)),
    "requestRedirect": obj({
        "scheme": string(enum=("http", "https")),
        "hostname": string(1, 253, HOSTNAME),
        "path": PATH_MODIFIER,
        "port": PORT,
        "statusCode": {"enum": [301, 302, 303, 307, 308]},
    }),
    "urlRewrite": obj({"hostname": string(1, 253, HOSTNAME), "path": PATH_MODIFIER}),
    "extensionRef": obj({"group": string(0, 253, GROUP), "kind": string(1, 63, KIND), "name": string(1, 253)},
                        ("group", "kind", "name")),
}, ("type",))

HTTP_BACKEND_REF = service_needs_port(obj(
    dict(BACKEND_OBJECT_REF_PROPS, weight=integer(0, 1000000), filters=arr(HTTP_FILTER, 16)),
    ("name",),
))

HTTP_ROUTE_MATCH = obj({
    "path": obj({
        "type": string(enum=("Exact", "PathPrefix", "RegularExpression")),
        "value": string(0, 1024),
    }),
    "headers": arr(HEADER_MATCH, 16),
    "queryParams": arr(obj({
        "type": string(enum=("Exact", "RegularExpression")),
        "name": string(1, 256),
        "value": string(1, 1024),
    }, ("name", "value")), 16),
    "method": string(enum=("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")),
})

HTTP_ROUTE_RULE = obj({
    "name": SECTION_NAME,
    "matches": arr(HTTP_ROUTE_MATCH, 64),
    "filters": arr(HTTP_FILTER, 16),
    "backendRefs": arr(HTTP_BACKEND_REF, 16),
    "timeouts": obj({"request": string(pattern=DURATION), "backendRequest": string(pattern=DURATION)}),
})

HTTPROUTE = top(
    "gateway.networking.k8s.io/v1", "HTTPRoute",
    obj({
        "parentRefs": arr(PARENT_REF, 32),
        "hostnames": arr(string(1, 253, HOSTNAME), 16),
        "rules": arr(HTTP_ROUTE_RULE, 16),
    }),
    "Gateway API v1 HTTPRoute (standard channel)",
)

LISTENER = obj({
    "name": SECTION_NAME,
    "hostname": string(1, 253, HOSTNAME),
    "port": PORT,
    "protocol": string(1, 255, PROTOCOL),
    "tls": obj({
        "mode": string(enum=("Terminate", "Passthrough")),
        "certificateRefs": arr(obj({
            "group": string(0, 253, GROUP),
            "kind": string(1, 63, KIND),
            "name": OBJECT_NAME,
            "namespace": NAMESPACE,
        }, ("name",)), 64),
        "options": {"type": "object", "additionalProperties": string(0, 4096), "maxProperties": 16},
    }),
    "allowedRoutes": obj({
        "namespaces": obj({
            "from": string(enum=("All", "Selector", "Same")),
            "selector": LABEL_SELECTOR,
        }),
        "kinds": arr(obj({"group": string(0, 253, GROUP), "kind": string(1, 63, KIND)}, ("kind",)), 8),
    }),
}, ("name", "port", "protocol"))

GATEWAY = top(
    "gateway.networking.k8s.io/v1", "Gateway",
    obj({
        "gatewayClassName": string(1, 253),
        "listeners": arr(LISTENER, 64, 1),
        "addresses": arr(obj({
            "type": string(1, 253, r"^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$"),
            "value": string(1, 253),
        }, ("value",)), 16),
        "infrastructure": obj({
            "labels": {"type": "object", "additionalProperties": string(0, 253), "maxProperties": 8},
            "annotations": {"type": "object", "additionalProperties": string(0, 4096), "maxProperties": 8},
            "parametersRef": obj({"group": string(0, 253, GROUP), "kind": string(1, 63, KIND), "name": string(1, 253)},
                                 ("group", "kind", "name")),
        }),
    }, ("gatewayClassName", "listeners")),
    "Gateway API v1 Gateway (standard channel)",
)

# ------------------------------------------------------------- GKE policies ----
POLICY_TARGET_REF = obj({
    "group": string(),
    "kind": string(),
    "name": string(1),
    "namespace": string(),
}, ("group", "kind", "name"))
PORT_SPEC = string(enum=("USE_FIXED_PORT", "USE_NAMED_PORT", "USE_SERVING_PORT"))
HTTP_LIKE_CHECK = obj({
    "host": string(),
    "port": PORT,
    "portName": string(),
    "portSpecification": PORT_SPEC,
    "proxyHeader": string(enum=("NONE", "PROXY_V1")),
    "requestPath": string(pattern=r"^/"),
    "response": string(),
})
HEALTHCHECKPOLICY = top(
    "networking.gke.io/v1", "HealthCheckPolicy",
    obj({
        "default": obj({
            "checkIntervalSec": integer(1, 300),
            "timeoutSec": integer(1, 300),
            "healthyThreshold": integer(1, 10),
            "unhealthyThreshold": integer(1, 10),
            "logConfig": obj({"enabled": {"type": "boolean"}}),
            "config": obj({
                "type": string(enum=("TCP", "HTTP", "HTTPS", "HTTP2", "GRPC")),
                "httpHealthCheck": HTTP_LIKE_CHECK,
                "httpsHealthCheck": HTTP_LIKE_CHECK,
                "http2HealthCheck": HTTP_LIKE_CHECK,
                "grpcHealthCheck": obj({"grpcServiceName": string(), "port": PORT, "portName": string(),
                                        "portSpecification": PORT_SPEC}),
                "tcpHealthCheck": obj({"port": PORT, "portName": string(), "portSpecification": PORT_SPEC,
                                       "proxyHeader": string(enum=("NONE", "PROXY_V1")),
                                       "request": string(), "response": string()}),
            }),
        }),
        "targetRef": POLICY_TARGET_REF,
    }, ("targetRef",)),
    "GKE Gateway HealthCheckPolicy (networking.gke.io/v1)",
)
GCPBACKENDPOLICY = top(
    "networking.gke.io/v1", "GCPBackendPolicy",
    obj({
        "default": obj({
            "backendPreference": string(enum=("DEFAULT", "PREFERRED")),
            "connectionDraining": obj({"drainingTimeoutSec": integer(0, 3600)}),
            "iap": obj({"enabled": {"type": "boolean"}, "clientID": string(),
                        "oauth2ClientSecret": obj({"name": string()})}),
            "logging": obj({"enabled": {"type": "boolean"}, "sampleRate": integer(0, 1000000)}),
            "maxRatePerEndpoint": integer(1),
            "securityPolicy": string(),
            "sessionAffinity": obj({
                "type": string(enum=("CLIENT_IP", "CLIENT_IP_PORT_PROTO", "CLIENT_IP_PROTO", "GENERATED_COOKIE",
                                     "HEADER_FIELD", "HTTP_COOKIE", "NONE")),
                "cookieTtlSec": integer(0),
            }),
            "timeoutSec": integer(1, 86400),
        }),
        "targetRef": POLICY_TARGET_REF,
    }, ("targetRef",)),
    "GKE Gateway GCPBackendPolicy (networking.gke.io/v1)",
)

# ---------------------------------------------------------- Knative / Cloud Run ----
KNATIVE_SERVICE = top(
    "serving.knative.dev/v1", "Service",
    obj({
        "template": obj({
            "metadata": {"type": "object", "properties": {
                "name": string(1, 63),
                "labels": STRING_MAP,
                "annotations": STRING_MAP,
            }, "additionalProperties": False},
            "spec": obj({
                "containerConcurrency": integer(0, 1000),
                "timeoutSeconds": integer(1, 3600),
                "serviceAccountName": string(1),
                # Each container is validated against the core Container schema
                # by the tests; here only its shape inside the Service.
                "containers": arr({"type": "object", "required": ["image"]}, 10, 1),
                "volumes": arr(ANY_OBJECT),
                "nodeSelector": STRING_MAP,
            }, ("containers",)),
        }, ("spec",)),
        "traffic": arr(obj({
            "latestRevision": {"type": "boolean"},
            "revisionName": string(1),
            "percent": integer(0, 100),
            "tag": string(1, 63),
        }), 100),
    }, ("template",)),
    "Knative Serving v1 Service, Cloud Run subset",
)

SCHEMAS = {
    "gateway.networking.k8s.io_v1_gateway.json": GATEWAY,
    "gateway.networking.k8s.io_v1_httproute.json": HTTPROUTE,
    "networking.gke.io_v1_healthcheckpolicy.json": HEALTHCHECKPOLICY,
    "networking.gke.io_v1_gcpbackendpolicy.json": GCPBACKENDPOLICY,
    "serving.knative.dev_v1_service.json": KNATIVE_SERVICE,
}


def render() -> dict[str, str]:
    return {name: json.dumps(schema, indent=2, sort_keys=False) + "\n" for name, schema in SCHEMAS.items()}


if __name__ == "__main__":
    for name, text in render().items():
        (HERE / name).write_text(text)
        print(f"wrote {name}")
