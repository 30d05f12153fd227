"""tilt/: the Tiltfile evaluates (starlark-rust via starlark-pyo3, with the Tilt built-ins
stubbed and recorded: tiltfile.py), in both modes (release images, and `-- --dev`), every path
it names exists, its resources match the kind overlay, the dependency order is the intended
one, and the base images reach the builds as the environment and .env say."""

from __future__ import annotations

import pytest
import yaml

from conftest import build_docs, image_name, pod_templates
from tiltfile import TILT, calls_of, docker_builds, evaluate


@pytest.fixture(scope="module", params=[False, True], ids=["release", "dev"])
def calls(request):
    return evaluate(dev=request.param)


def of(calls, name):
    return calls_of(calls, name)


def test_context_is_the_kind_cluster(calls):
    config = yaml.safe_load((TILT / "kind-config.yaml").read_text())
    assert of(calls, "allow_k8s_contexts") == [((f"kind-{config['name']}",), {})]
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert 'config_path = "/etc/containerd/certs.d"' in config["containerdConfigPatches"][0]


def test_paths_exist(calls):
    for args, _ in of(calls, "kustomize"):
        d = TILT / args[0]
        assert (d / "kustomization.yaml").exists(), args[0]
    for args, kw in of(calls, "docker_build"):
        context = (TILT / kw["context"]).resolve()
        if "tilt-dev" not in kw["context"]:  # staged by the grades-binaries resource (test_build_contexts.py)
            assert context.is_dir(), kw["context"]
        assert (TILT / kw["dockerfile"]).is_file(), kw["dockerfile"]
        for entry in kw.get("only", []):
            assert (context / entry).exists(), f"{args[0]}: only={entry}"
    for args, kw in of(calls, "local_resource"):
        for dep in kw.get("deps", []):
            assert (TILT / dep).exists(), f"{args[0]}: deps={dep}"
        if "cmd" in kw:
            script = kw["cmd"].split()[-1]
            assert (TILT / script).is_file(), kw["cmd"]


def test_images_match_the_manifests(calls):
    built = {args[0] for args, _ in of(calls, "docker_build")}
    used = set()
    for build in ("kind", "tilt-loadgen"):
        for _, tpl in pod_templates(build_docs(build)):
            for c in tpl["spec"].get("containers", []) + tpl["spec"].get("initContainers", []):
                if c["image"].startswith("localhost:5001/"):
                    used.add(c["image"])
    used_names = {u.rsplit(":", 1)[0] for u in used}  # drop the tag (the registry has a port)
    assert built == used_names, (built, used_names)
    assert {image_name(b) for b in built} == {"grades", "grades-dashboard", "grades-loadgen"}


def _workloads():
    names = {}
    for build in ("kind", "tilt-loadgen"):
        for w, _ in pod_templates(build_docs(build)):
            names[w["metadata"]["name"]] = w["kind"]
    return names


def _objects():
    out = set()
    for build in ("kind", "tilt-loadgen"):
        for d in build_docs(build):
            out.add(f"{d['metadata']['name']}:{d['kind'].lower()}")
    return out


def test_resources_exist(calls):
    workloads = _workloads()
    objects = _objects()
    defined = set()
    for args, kw in of(calls, "k8s_resource"):
        if args:
            assert args[0] in workloads, f"k8s_resource {args[0]}: no such workload"
            defined.add(args[0])
        else:
            defined.add(kw["new_name"])
        for obj in kw.get("objects", []):
            assert obj in objects, f"object selector {obj} matches nothing"
    for args, _kw in of(calls, "local_resource"):
        defined.add(args[0])
    for _args, kw in of(calls, "k8s_resource") + of(calls, "local_resource"):
        for dep in kw.get("resource_deps", []):
            assert dep in defined, f"unknown resource_dep {dep}"
    # every workload is configured explicitly
    assert set(workloads) <= defined, set(workloads) - defined


def _deps(calls):
    graph = {}
    for args, kw in of(calls, "k8s_resource") + of(calls, "local_resource"):
        name = args[0] if args else kw["new_name"]
        graph[name] = set(kw.get("resource_deps", []))
    return graph


def _reaches(graph, start, goal, seen=None):
    seen = seen or set()
    for d in graph.get(start, ()):
        if d == goal or (d not in seen and _reaches(graph, d, goal, seen | {d})):
            return True
    return False


def test_dependency_order(calls):
    g = _deps(calls)
    for node in g:
        assert not _reaches(g, node, node), f"cycle through {node}"
    chain = [
        ("grades-migrate", "mysql"),
        ("grpc-server", "grades-migrate"),
        ("rest-api", "grades-migrate"),
        ("grpc-server", "redis"),
        ("grpc-client", "grpc-server"),
        ("realtime", "grpc-client"),
        ("realtime", "rest-api"),
        ("dashboard", "realtime"),
        ("gateway-port-forward", "gateway"),
    ]
    for later, earlier in chain:
        assert _reaches(g, later, earlier), f"{later} must wait for {earlier}"


def test_port_forwards(calls):
    local_ports = []
    for _args, kw in of(calls, "k8s_resource"):
        for pf in kw.get("port_forwards", []):
            local_ports.append(int(pf.split(":")[0]) if isinstance(pf, str) else pf[1])
    assert len(local_ports) == len(set(local_ports)), local_ports
    assert 3000 in local_ports  # dashboard
    serve = [kw["serve_cmd"] for a, kw in of(calls, "local_resource") if a[0] == "gateway-port-forward"][0]
    assert "svc/grades-gateway 8080:8080" in serve
    assert 8080 not in local_ports
    # the kind overlay tells the dashboard to use that forwarded Gateway
    cm = next(
        d for d in build_docs("kind") if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("grades-config")
    )
    assert cm["data"]["DASHBOARD_API_BASE_URL"] == "http://localhost:8080"


def test_dashboard_link(calls):
    dash = [kw for a, kw in of(calls, "k8s_resource") if a and a[0] == "dashboard"][0]
    assert ["link", "http://localhost:3000"] in [list(link) for link in dash["links"]]


def test_kind_up_matches_the_rest():
    script = (TILT / "scripts" / "kind-up.sh").read_text()
    assert 'REGISTRY_NAME="${REGISTRY_NAME:-kind-registry}"' in script
    assert 'REGISTRY_PORT="${REGISTRY_PORT:-5001}"' in script
    assert "--kubelet-insecure-tls" in script
    assert "gateway.envoyproxy.io/gatewayclass-controller" in script
    assert "gateway.envoyproxy.io/owning-gateway-name: grades" in script
    assert "gateway.envoyproxy.io/owning-gateway-namespace: so1p2" in script
    assert "local-registry-hosting" in script
    gw = next(d for d in build_docs("kind") if d["kind"] == "Gateway")
    assert gw["spec"]["gatewayClassName"] == "eg" and gw["spec"]["listeners"][0]["port"] == 8080
    assert "name: eg" in script


# ---------------------------------------------------------- base images ----
def _base_image_args(dockerfile) -> set[str]:
    import re

    return set(re.findall(r"^ARG (\w+_IMAGE)=", dockerfile.read_text(), re.M))


def test_base_images_default_to_the_dockerfiles_upstream_ones():
    for mode in (False, True):
        for image, build in docker_builds(evaluate(dev=mode)).items():
            assert not build.get("build_args"), f"{image}: nothing set, so the Dockerfile's defaults must apply"


def test_base_images_come_from_the_environment_then_the_dotenv_file():
    """What `just base-images` writes to .env (and compose reads) reaches every build; the
    environment wins, as with compose. Other .env entries (passwords) are not passed."""
    import re

    from conftest import ROOT

    written = set(re.findall(r"^(\w+_IMAGE)=\$prefix", (ROOT / "scripts/base-images.sh").read_text(), re.M))
    dotenv = "".join(f"{name}=grades-base/{name.lower()}:sid\n" for name in sorted(written))
    dotenv += "MYSQL_APP_PASSWORD=kept-out\n# a comment\n\n"
    for mode in (False, True):
        builds = docker_builds(evaluate(dev=mode, dotenv=dotenv, environ={"NODE_IMAGE": "from-the-environment"}))
        for image, build in builds.items():
            wanted = _base_image_args(build["dockerfile"])
            assert wanted, f"{image}: its Dockerfile takes no base image argument?"
            args = build.get("build_args") or {}
            if wanted <= written:  # the release images: every argument set by .env
                assert set(args) == wanted, (image, args)
            assert "MYSQL_APP_PASSWORD" not in args
        dashboard = builds["localhost:5001/grades-dashboard"]["build_args"]
        assert dashboard["NODE_IMAGE"] == "from-the-environment"
        assert dashboard["NGINX_IMAGE"] == "grades-base/nginx_image:sid"
    release = docker_builds(evaluate(dotenv=dotenv))["localhost:5001/grades"]["build_args"]
    assert release == {"RUST_IMAGE": "grades-base/rust_image:sid", "RUNTIME_IMAGE": "grades-base/runtime_image:sid"}
    dev = docker_builds(evaluate(dev=True, environ={"DEV_RUNTIME_IMAGE": "grades-base/runtime:sid"}))
    assert dev["localhost:5001/grades"]["build_args"] == {"DEV_RUNTIME_IMAGE": "grades-base/runtime:sid"}


def test_compose_passes_the_same_base_image_arguments():
    from build_contexts import COMPOSE_SERVICES
    from conftest import ROOT

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    builds = docker_builds(evaluate())
    for image, service in COMPOSE_SERVICES.items():
        dockerfile = builds[f"localhost:5001/{image}"]["dockerfile"]
        assert set(compose["services"][service]["build"]["args"]) == _base_image_args(dockerfile), image


# -------------------------------------------------------------- --dev ----
def test_dev_mode_compiles_on_the_host_and_serves_the_dashboard_with_vite():
    dev, release = evaluate(dev=True), evaluate()
    assert [a[0] for a, _ in of(dev, "define_bool")] == ["dev"]
    local = {a[0]: kw for a, kw in of(dev, "local_resource")}
    resources = {a[0]: kw for a, kw in of(dev, "k8s_resource") if a}
    assert local["grades-binaries"]["cmd"] == "bash scripts/dev-binaries.sh"
    # every workload running the grades image waits for the binaries (through the migrations Job)
    assert "grades-binaries" in resources["grades-migrate"]["resource_deps"]
    assert resources["dashboard"]["trigger_mode"] == "manual"
    vite = local["dashboard-vite"]["serve_cmd"]
    assert "cd ../frontend" in vite and "--port 5173 --strictPort" in vite
    assert ["link", "http://localhost:5173"] in [list(link) for link in local["dashboard-vite"]["links"]]
    assert "dashboard-vite" not in {a[0] for a, _ in of(release, "local_resource")}
    assert {a[0]: kw for a, kw in of(release, "k8s_resource") if a}["dashboard"]["trigger_mode"] == "auto"
    # the release build is the Dockerfile's, the dev one never runs cargo in Docker
    assert docker_builds(release)["localhost:5001/grades"]["dockerfile"].name == "Dockerfile"
    dev_dockerfile = docker_builds(dev)["localhost:5001/grades"]["dockerfile"].read_text().splitlines()
    instructions = [line for line in dev_dockerfile if line.strip() and not line.lstrip().startswith("#")]
    assert instructions and not any("cargo" in line for line in instructions)
