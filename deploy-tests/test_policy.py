"""The project's own rules over every rendered build (see conftest.BUILDS):
namespace so1p2, the contract's probes, binaries, ports and environment, HPAs
1..3 at 50 % CPU, the POST /grades 50/50 split, images, Secrets, GKE and kind
specifics. Generic Kubernetes policy (requests/limits, probes, security
context, pinned tags): test_checkov.py."""

from __future__ import annotations

import re

import pytest

from conftest import (
    BUILDS,
    CLUSTER_SCOPED,
    MIGRATING_BINARIES,
    NAMESPACE,
    PROJECT_IMAGES,
    ROUTE_DEPLOYMENTS,
    THIRD_PARTY_IMAGES,
    all_containers,
    build_docs,
    by_kind,
    contract,
    declared_binaries,
    find,
    image_name,
    image_tag,
    labels_match,
    pod_templates,
    storage_subcommands,
)

ALL = sorted(BUILDS)
APP_BUILDS = [b for b in ALL if b != "tilt-loadgen"]


def _containers(docs):
    for workload, tpl in pod_templates(docs):
        spec = tpl["spec"]
        for role, c in all_containers(spec):
            yield workload, spec, role, c


@pytest.mark.parametrize("build_id", ALL)
def test_everything_namespaced_is_in_so1p2(build_id):
    for d in build_docs(build_id):
        if d["kind"] in CLUSTER_SCOPED:
            if d["kind"] == "Namespace":
                assert d["metadata"]["name"] == NAMESPACE
            continue
        assert d["metadata"].get("namespace") == NAMESPACE, f"{d['kind']}/{d['metadata']['name']}"


@pytest.mark.parametrize("build_id", ALL)
def test_app_probes_use_contract_endpoints(build_id):
    """docs/CONTRACTS.md: /readyz for readiness, /healthz for liveness."""
    for workload, _, role, c in _containers(build_docs(build_id)):
        if role != "container" or image_name(c["image"]) not in ("grades", "grades-dashboard"):
            continue
        if workload["kind"] in ("Job", "CronJob"):
            continue
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", c["name"]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", c["name"]


@pytest.mark.parametrize("build_id", ALL)
def test_project_images_run_as_10001(build_id):
    """The uid the Dockerfiles' USER gives and the volumes are owned by (the
    rest of the security context: test_checkov.py)."""
    for workload, spec, role, c in _containers(build_docs(build_id)):
        if image_name(c["image"]) in PROJECT_IMAGES:
            uid = (c.get("securityContext") or {}).get(
                "runAsUser", (spec.get("securityContext") or {}).get("runAsUser")
            )
            assert uid == 10001, f"{workload['kind']}/{workload['metadata']['name']} {role} {c['name']}: uid {uid}"


@pytest.mark.parametrize("build_id", APP_BUILDS)
def test_route_hpas(build_id):
    docs = build_docs(build_id)
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    for hpa in hpas:
        ref = hpa["spec"]["scaleTargetRef"]
        assert find(docs, ref["kind"], ref["name"]), f"HPA {hpa['metadata']['name']} targets a missing {ref}"
    for name in ROUTE_DEPLOYMENTS:
        assert find(docs, "Deployment", name), name
        mine = [
            h
            for h in hpas
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        assert len(mine) == 1, f"{name}: expected one HPA, got {len(mine)}"
        spec = mine[0]["spec"]
        assert mine[0]["apiVersion"] == "autoscaling/v2"
        assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 3), name
        # The application container's CPU (ContainerResource), not the pod's: a pod's Resource
        # metric averages in every container, the GKE Cloud SQL Auth Proxy sidecar included.
        dep = find(docs, "Deployment", name)
        pod = dep["spec"]["template"]["spec"]
        app = pod["containers"][0]
        assert [m["type"] for m in spec["metrics"]] == ["ContainerResource"], name
        metric = spec["metrics"][0]["containerResource"]
        assert metric == {
            "name": "cpu",
            "container": app["name"],
            "target": {"type": "Utilization", "averageUtilization": 50},
        }, name
        # utilisation is relative to requests: the container must request CPU
        assert app["resources"]["requests"]["cpu"], name
        others = [c["name"] for role, c in all_containers(pod) if role in ("container", "sidecar") and c is not app]
        if build_id.startswith("gke") and name != "grpc-client":
            assert others == ["cloud-sql-proxy"], (name, others)  # the reason for ContainerResource


def _service_ports(docs, name):
    svc = find(docs, "Service", name)
    return {p["port"] for p in svc["spec"]["ports"]} if svc else set()


@pytest.mark.parametrize("build_id", [b for b in APP_BUILDS if "gateway-split" in b or b.startswith(("kind", "gke"))])
def test_post_grades_split_50_50(build_id):
    docs = build_docs(build_id)
    matches = []
    for route in by_kind(docs, "HTTPRoute"):
        for rule in route["spec"].get("rules", []):
            for m in rule.get("matches", []):
                if (m.get("path") or {}).get("value") == "/grades":
                    matches.append((route, rule, m))
    assert len(matches) == 1, f"exactly one rule must match /grades, got {len(matches)}"
    route, rule, match = matches[0]
    # path only: GKE's Gateway rejects a method match (test_gateway_capabilities.py); the
    # routes answer 405 to anything but POST
    assert match == {"path": {"type": "Exact", "value": "/grades"}}
    refs = rule["backendRefs"]
    assert len(refs) == 2
    assert {r["name"] for r in refs} == {"grpc-client", "rest-api"}
    weights = [r.get("weight", 1) for r in refs]
    assert weights[0] == weights[1] == 50, weights
    for r in refs:
        assert r.get("kind", "Service") == "Service" and r.get("group", "") == ""
        assert r["port"] in _service_ports(docs, r["name"]), f"{r['name']} does not expose port {r['port']}"
    # and the ports are the ones docs/CONTRACTS.md gives the routes
    assert {r["name"]: r["port"] for r in refs} == {"grpc-client": 8001, "rest-api": 8002}


@pytest.mark.parametrize("build_id", [b for b in APP_BUILDS if "gateway-split" in b or b.startswith(("kind", "gke"))])
def test_all_routes_resolve(build_id):
    docs = build_docs(build_id)
    gateways = {g["metadata"]["name"]: g for g in by_kind(docs, "Gateway")}
    paths = set()
    for route in by_kind(docs, "HTTPRoute"):
        for parent in route["spec"]["parentRefs"]:
            gw = gateways.get(parent["name"])
            assert gw, f"{route['metadata']['name']}: no Gateway {parent['name']}"
            if "sectionName" in parent:
                assert parent["sectionName"] in {listener["name"] for listener in gw["spec"]["listeners"]}
        for rule in route["spec"]["rules"]:
            for ref in rule.get("backendRefs", []):
                assert ref["port"] in _service_ports(docs, ref["name"]), f"{ref} has no matching Service port"
            for m in rule.get("matches", []):
                paths.add(m["path"]["value"])
    assert {"/grades", "/api", "/socket.io"} <= paths


@pytest.mark.parametrize("build_id", ALL)
def test_images_are_known(build_id):
    for _workload, _, _role, c in _containers(build_docs(build_id)):
        name = image_name(c["image"])
        assert name in PROJECT_IMAGES | THIRD_PARTY_IMAGES, f"{c['name']}: unexpected image {c['image']}"
        if name in THIRD_PARTY_IMAGES:  # (pinned in the deployable builds: CKV_K8S_14 in test_checkov.py)
            assert image_tag(c["image"]) not in (None, "latest"), f"{c['image']}: third-party images must be pinned"


def test_overlay_images_come_from_their_registry():
    for build_id, prefix in (
        ("kind", "localhost:5001/"),
        ("kind+loadgen", "localhost:5001/"),
        ("tilt-loadgen", "localhost:5001/"),
        ("gke", "GCP_REGION-docker.pkg.dev/GCP_PROJECT_ID/grades/"),
    ):
        for _, _, _, c in _containers(build_docs(build_id)):
            if image_name(c["image"]) in PROJECT_IMAGES:
                assert c["image"].startswith(prefix), f"{build_id}: {c['image']}"


def test_images_are_set_in_one_place():
    """Image names/tags live only in kustomization `images:` blocks: the
    manifests themselves use bare names."""
    from conftest import KUSTOMIZE_DIR

    for path in KUSTOMIZE_DIR.rglob("*.yaml"):
        if path.name == "kustomization.yaml" or path.parent.name == "cloudrun":
            continue
        for line in path.read_text().splitlines():
            m = re.match(r"^\s*(?:-\s+)?image:\s*(\S+)", line)
            if m:
                assert ":" not in m.group(1) and "/" not in m.group(1), f"{path}: {line.strip()}"


@pytest.mark.parametrize("build_id", ALL)
def test_secrets_only_dev_only(build_id):
    secrets = by_kind(build_docs(build_id), "Secret")
    if not build_id.startswith("kind"):
        assert not secrets, f"{build_id}: Secrets must not come from git outside the kind dev overlay"
    for s in secrets:
        assert s["metadata"].get("annotations", {}).get("grades.io/dev-only") == "true", s["metadata"]["name"]
        import base64

        for key, value in (s.get("data") or {}).items():
            plain = base64.b64decode(value).decode()
            assert "dev-only" in plain, f"{key}: dev-only literal values must say so"


@pytest.mark.parametrize("build_id", ALL)
def test_config_references_resolve(build_id):
    docs = build_docs(build_id)
    configmaps = {c["metadata"]["name"]: c.get("data") or {} for c in by_kind(docs, "ConfigMap")}
    secrets = {s["metadata"]["name"]: s.get("data") or {} for s in by_kind(docs, "Secret")}
    for _workload, _, _, c in _containers(docs):
        for src in c.get("envFrom") or []:
            if "configMapRef" in src:
                ref = src["configMapRef"]
                assert ref.get("optional") or ref["name"] in configmaps, f"{c['name']}: {ref}"
            if "secretRef" in src:
                ref = src["secretRef"]
                assert ref.get("optional") or ref["name"] in secrets, f"{c['name']}: {ref}"
        for env in c.get("env") or []:
            vf = env.get("valueFrom") or {}
            if "configMapKeyRef" in vf:
                ref = vf["configMapKeyRef"]
                assert ref.get("optional") or ref["key"] in configmaps.get(ref["name"], {}), f"{c['name']}: {ref}"
            if "secretKeyRef" in vf:
                ref = vf["secretKeyRef"]
                assert ref.get("optional") or ref["key"] in secrets.get(ref["name"], {}), f"{c['name']}: {ref}"


def _env(container, docs):
    """Effective env (envFrom ConfigMaps/Secrets then env), without $(..) expansion."""
    out = {}
    cms = {c["metadata"]["name"]: c.get("data") or {} for c in by_kind(docs, "ConfigMap")}
    for src in container.get("envFrom") or []:
        if "configMapRef" in src:
            out.update(cms.get(src["configMapRef"]["name"], {}))
        if "secretRef" in src:
            out.update(
                {
                    k: "<secret>"
                    for k in next(
                        (
                            s.get("data") or {}
                            for s in by_kind(docs, "Secret")
                            if s["metadata"]["name"] == src["secretRef"]["name"]
                        ),
                        {},
                    )
                }
            )
    for e in container.get("env") or []:
        out[e["name"]] = e.get("value", "<ref>")
    return out


@pytest.mark.parametrize("build_id", APP_BUILDS)
def test_migrations_job_and_migrate_false(build_id):
    docs = build_docs(build_id)
    job = find(docs, "Job", "grades-migrate")
    assert job, "migrations Job"
    main = job["spec"]["template"]["spec"]["containers"]
    assert len(main) == 1 and image_name(main[0]["image"]) == "grades"
    cmd = main[0].get("command", []) + main[0].get("args", [])
    assert cmd[1:] == ["migrate"] and cmd[0] in MIGRATING_BINARIES, cmd
    for name in ("grpc-server", "rest-api"):
        dep = find(docs, "Deployment", name)
        c = dep["spec"]["template"]["spec"]["containers"][0]
        assert _env(c, docs).get("MIGRATE") == "false", name  # test_wait_for_schema.py: they wait for the Job


@pytest.mark.parametrize("build_id", APP_BUILDS)
def test_grades_commands_are_workspace_binaries(build_id):
    bins = declared_binaries()
    for _workload, _, _role, c in _containers(build_docs(build_id)):
        if image_name(c["image"]) != "grades":
            continue
        cmd = (c.get("command") or []) + (c.get("args") or [])
        assert cmd and cmd[0] in bins, f"{c['name']}: {cmd} is not a declared binary ({sorted(bins)})"
        if len(cmd) > 1:
            assert len(cmd) == 2 and cmd[0] in MIGRATING_BINARIES and cmd[1] in storage_subcommands(), cmd


@pytest.mark.parametrize("build_id", APP_BUILDS)
def test_contract_environment(build_id):
    """docs/CONTRACTS.md, read from the file: each binary's Deployment listens
    on the contract's ports (the Services and probes rely on them), REDIS_PREFIX
    is the contract's, and every variable whose default points at 127.0.0.1 is
    set for each binary that uses it (in a pod, loopback is the wrong host)."""
    docs = build_docs(build_id)
    spec = contract()
    assert set(spec["ports"]) == set(ROUTE_DEPLOYMENTS) | {"realtime"}
    for name, ports in spec["ports"].items():
        dep = find(docs, "Deployment", name)
        assert dep, f"no Deployment for the contract's binary {name}"
        c = dep["spec"]["template"]["spec"]["containers"][0]
        env = _env(c, docs)
        for variable, port in ports.items():
            assert env.get(variable) == port, f"{name}: {variable}={env.get(variable)}, contract: {port}"
        assert [p["containerPort"] for p in c["ports"] if p["name"] == "http"] == [int(ports["PORT"])], name
        for variable, (users, default) in spec["env"].items():
            if name in users and "127.0.0.1" in default:
                assert variable in env and "127.0.0.1" not in env[variable], f"{name}: {variable} must be set"
        assert env.get("REDIS_PREFIX") == spec["env"]["REDIS_PREFIX"][1], name
        if "MYSQL_URL" in env:
            assert (
                env["MYSQL_URL"]
                == "mysql://$(MYSQL_USER):$(MYSQL_PASSWORD)@$(MYSQL_HOST):$(MYSQL_PORT)/$(MYSQL_DATABASE)"
            )
            for part in ("MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_HOST", "MYSQL_PORT", "MYSQL_DATABASE"):
                assert part in env, f"{name}: {part} must be defined for $(..) expansion"
    grpc_port = int(spec["ports"]["grpc-server"]["GRPC_PORT"])
    client = find(docs, "Deployment", "grpc-client")["spec"]["template"]["spec"]["containers"][0]
    assert _env(client, docs)["GRPC_SERVER_URL"] == f"http://grpc-server:{grpc_port}"
    assert grpc_port in _service_ports(docs, "grpc-server")


@pytest.mark.parametrize("build_id", ALL)
def test_services_select_pods_and_ports(build_id):
    docs = build_docs(build_id)
    templates = [tpl for _, tpl in pod_templates(docs)]
    for svc in by_kind(docs, "Service"):
        sel = svc["spec"].get("selector") or {}
        pods = [t for t in templates if sel and labels_match({"matchLabels": sel}, t["metadata"].get("labels") or {})]
        assert pods, f"Service {svc['metadata']['name']} selects no pod"
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for t in pods:
                named = {
                    p.get("name"): p["containerPort"] for _, c in all_containers(t["spec"]) for p in c.get("ports", [])
                }
                if isinstance(target, str):
                    assert target in named, f"Service {svc['metadata']['name']}: no container port named {target}"
                else:
                    assert target in named.values(), f"Service {svc['metadata']['name']}: nothing on {target}"


# ------------------------------------------------------------------ GKE ----
def test_gke_cloud_sql_proxy_native_sidecar():
    docs = build_docs("gke")
    sas = {s["metadata"]["name"]: s for s in by_kind(docs, "ServiceAccount")}
    seen = 0
    for workload, tpl in pod_templates(docs):
        labels = tpl["metadata"].get("labels") or {}
        spec = tpl["spec"]
        inits = spec.get("initContainers") or []
        if labels.get("grades.io/mysql-client") != "true":
            assert all(i["name"] != "cloud-sql-proxy" for i in inits)
            continue
        seen += 1
        assert inits and inits[0]["name"] == "cloud-sql-proxy", (
            f"{workload['metadata']['name']}: proxy must start first"
        )
        proxy = inits[0]
        assert proxy["restartPolicy"] == "Always", "native sidecar"
        assert image_name(proxy["image"]) == "cloud-sql-proxy"
        assert "--auto-iam-authn" in proxy["args"] and "$(CLOUDSQL_INSTANCE)" in proxy["args"]
        assert "--port=3306" in proxy["args"]
        sa = sas[spec["serviceAccountName"]]
        assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(".iam.gserviceaccount.com")
    assert seen == 4  # grpc-server, rest-api, realtime, grades-migrate
    cm = by_kind(docs, "ConfigMap")
    config = next(c for c in cm if c["metadata"]["name"].startswith("grades-config"))["data"]
    assert config["MYSQL_HOST"] == "127.0.0.1" and config["MYSQL_PASSWORD"] == ""
    assert config["REDIS_URL"] == "redis://MEMORYSTORE_REDIS_HOST:6379"


def test_gke_sidecar_patches_are_identical():
    import yaml

    from conftest import KUSTOMIZE_DIR

    d = KUSTOMIZE_DIR / "overlays" / "gke"
    dep = yaml.safe_load((d / "cloud-sql-proxy-deployment.yaml").read_text())[0]["value"]
    job = yaml.safe_load((d / "cloud-sql-proxy-job.yaml").read_text())[0]["value"][0]
    assert dep == job


def test_gke_gateway_and_backend_policies():
    docs = build_docs("gke")
    gw = find(docs, "Gateway", "grades")
    assert gw["spec"]["gatewayClassName"].startswith("gke-l7-")
    assert gw["spec"]["addresses"] == [{"type": "NamedAddress", "value": "grades-ip"}]
    backends = {
        r["name"]
        for route in by_kind(docs, "HTTPRoute")
        for rule in route["spec"]["rules"]
        for r in rule.get("backendRefs", [])
    }
    checked = {p["spec"]["targetRef"]["name"] for p in by_kind(docs, "HealthCheckPolicy")}
    assert backends <= checked, f"backends without HealthCheckPolicy: {backends - checked}"
    for p in by_kind(docs, "HealthCheckPolicy") + by_kind(docs, "GCPBackendPolicy"):
        assert find(docs, "Service", p["spec"]["targetRef"]["name"])
    rt = find(docs, "GCPBackendPolicy", "realtime")
    assert rt["spec"]["default"]["timeoutSec"] >= 3600  # websockets


def test_kind_dev_secret_and_datastores():
    docs = build_docs("kind")
    sec = sorted(re.sub(r"-[a-z0-9]{10}$", "", s["metadata"]["name"]) for s in by_kind(docs, "Secret"))
    # root's for the MySQL pod, one per MySQL user (test_least_privilege.py)
    assert sec == ["grades-db", "grades-db-app", "grades-db-migrator", "grades-db-reader"]
    assert find(docs, "StatefulSet", "mysql") and find(docs, "Deployment", "redis")
    assert image_tag(
        find(docs, "StatefulSet", "mysql")["spec"]["template"]["spec"]["containers"][0]["image"]
    ).startswith("8.")
    assert image_tag(
        find(docs, "Deployment", "redis")["spec"]["template"]["spec"]["containers"][0]["image"]
    ).startswith("7.")
    assert find(docs, "StatefulSet", "mysql")["spec"]["volumeClaimTemplates"]
    assert find(docs, "PersistentVolumeClaim", "redis-data")
    assert find(docs, "Gateway", "grades")["spec"]["gatewayClassName"] == "eg"
