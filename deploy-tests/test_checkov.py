"""Generic Kubernetes and Dockerfile policy: checkov (offline, settings and
skipped checks with their reasons in deploy-tests/.checkov.yaml).

Kubernetes: the deployable builds (both overlays, with and without the load
generator, and tilt/loadgen) rendered to files. Between them they contain
every object of base and of every component; base alone is not deployable
(its images carry the placeholder tag `latest` that the overlays replace).
checkov covers requests/limits (CKV_K8S_10..13, init containers too),
liveness/readiness probes (CKV_K8S_8/9), the restricted security context
(CKV_K8S_16/20/22/23/25/28/31/37), service account tokens (CKV_K8S_38),
pinned tags (CKV_K8S_14) and more. Dockerfiles: the three images.

The same checkov run (it takes ~15 s to start) also scans a canary folder of
known-bad files, so the test fails if checkov stops checking anything.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import textwrap

import pytest
import yaml

from conftest import ROOT, build_text

CONFIG = ROOT / "deploy-tests" / ".checkov.yaml"
CHECKED_BUILDS = ("kind", "kind+loadgen", "gke", "gke+loadgen", "tilt-loadgen")
DOCKERFILES = {
    "grades": "Dockerfile",
    "grades-dashboard": "docker/dashboard.Dockerfile",
    "grades-loadgen": "loadgen/Dockerfile",
    "grades-dev": "tilt/dev.Dockerfile",
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
# The checks that stand for the project's policy: each must have run and
# passed on every workload (a skip in .checkov.yaml or a checkov upgrade that
# drops one fails here).
REQUIRED_K8S = {
    "CKV_K8S_10",
    "CKV_K8S_11",
    "CKV_K8S_12",
    "CKV_K8S_13",  # cpu/memory requests+limits
    "CKV_K8S_14",  # tag pinned
    "CKV_K8S_16",
    "CKV_K8S_20",
    "CKV_K8S_22",
    "CKV_K8S_23",
    "CKV_K8S_25",
    "CKV_K8S_28",
    "CKV_K8S_31",
    "CKV_K8S_37",  # restricted security context
    "CKV_K8S_38",
    "CKV_K8S_21",
}  # no token automount, not the default namespace
REQUIRED_SERVING = {"CKV_K8S_8", "CKV_K8S_9"}  # liveness + readiness (long-running pods)
REQUIRED_DOCKER = {"CKV_DOCKER_3"}  # a non-root USER

# Two known-bad Deployments: one whose only fault is its init container
# (proves init containers are checked), one with a careless app container.
CANARY_DEPLOYMENTS = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: canary-init, namespace: so1p2}
    spec:
      selector: {matchLabels: {app: canary-init}}
      template:
        metadata: {labels: {app: canary-init}}
        spec:
          automountServiceAccountToken: false
          securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
          initContainers:
          - name: setup
            image: busybox:1.36
            securityContext: {allowPrivilegeEscalation: true}
          containers:
          - name: app
            image: example/app:1.0
            resources: {requests: {cpu: 10m, memory: 8Mi}, limits: {cpu: 10m, memory: 8Mi}}
            readinessProbe: {httpGet: {path: /readyz, port: 8080}}
            livenessProbe: {httpGet: {path: /healthz, port: 8080}}
            securityContext:
              allowPrivilegeEscalation: false
              readOnlyRootFilesystem: true
              capabilities: {drop: [ALL]}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: canary-app, namespace: so1p2}
    spec:
      selector: {matchLabels: {app: canary-app}}
      template:
        metadata: {labels: {app: canary-app}}
        spec:
          containers:
          - name: app
            image: example/app:latest
            securityContext: {privileged: true}
    """)
CANARY_DOCKERFILE = 'FROM debian:bookworm\nADD app /app\nCMD ["/app"]\n'


def with_default_bases(dockerfile: str) -> str:
    """The Dockerfile as built when no base image argument is given: `FROM ${NAME}` becomes
    `FROM <the ARG's default>` (checkov does not expand ARGs, and would judge `${NAME}` an
    unpinned image; the arguments' upstream defaults are what it should judge)."""
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.M))
    return re.sub(
        r"^(FROM\s+)\$\{(\w+)\}", lambda m: m.group(1) + defaults.get(m.group(2), m.group(0)), dockerfile, flags=re.M
    )


def _checkov() -> str:
    binary = shutil.which("checkov")
    if not binary:
        pytest.fail("checkov is not installed: run deploy-tests/run.sh (it installs deploy-tests/requirements.txt)")
    return binary


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, dict]:
    # One folder, one scan: checkov ignores -f next to -d and prints one JSON
    # document per -d. The Dockerfiles are copied as <image>/Dockerfile.
    work = tmp_path_factory.mktemp("checkov")
    for build_id in CHECKED_BUILDS:
        (work / "manifests").mkdir(exist_ok=True)
        (work / "manifests" / f"{build_id}.yaml").write_text(build_text(build_id))
    for image, path in DOCKERFILES.items():
        (work / "dockerfiles" / image).mkdir(parents=True)
        (work / "dockerfiles" / image / "Dockerfile").write_text(with_default_bases((ROOT / path).read_text()))
    (work / "canary").mkdir()
    (work / "canary" / "deployments.yaml").write_text(CANARY_DEPLOYMENTS)
    (work / "canary" / "Dockerfile").write_text(CANARY_DOCKERFILE)
    proc = subprocess.run(
        [_checkov(), "--config-file", str(CONFIG), "--output", "json", "--compact", "-d", str(work)],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=600,
    )
    # exit 1 = failed checks (the canary's, at least); anything else is checkov itself failing
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    reports = {r["check_type"]: r for r in (out if isinstance(out, list) else [out])}
    assert set(reports) == {"kubernetes", "dockerfile"}, sorted(reports)
    for r in reports.values():
        assert r["summary"]["parsing_errors"] == 0, r["summary"]
        for result in ("passed_checks", "failed_checks"):
            for check in r["results"][result]:
                relative = pathlib.Path(check["file_abs_path"]).relative_to(work)
                check["canary"] = relative.parts[0] == "canary"
                check["source"] = relative.parts[1] if relative.parts[0] == "dockerfiles" else relative.stem
    return reports


def _failures(checks) -> list[str]:
    return [f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['source']})" for c in checks]


@pytest.mark.parametrize("framework", ("kubernetes", "dockerfile"))
def test_no_policy_failures(report, framework):
    failed = [c for c in report[framework]["results"]["failed_checks"] if not c["canary"]]
    assert not failed, "\n".join(_failures(failed))


def test_policy_checks_ran_on_every_workload(report):
    passed: dict[tuple[str, str], set[str]] = {}
    for c in report["kubernetes"]["results"]["passed_checks"]:
        if not c["canary"]:
            passed.setdefault((c["source"], c["resource"]), set()).add(c["check_id"])
    workloads = []
    for build_id in CHECKED_BUILDS:
        for d in yaml.safe_load_all(build_text(build_id)):
            if d and d["kind"] in WORKLOAD_KINDS:
                workloads.append(
                    (build_id, f"{d['kind']}.{d['metadata']['namespace']}.{d['metadata']['name']}", d["kind"])
                )
    assert len(workloads) >= 30, workloads
    for build_id, resource, kind in workloads:
        required = REQUIRED_K8S | (REQUIRED_SERVING if kind != "Job" else set())
        missing = required - passed.get((build_id, resource), set())
        assert not missing, f"{build_id} {resource}: {sorted(missing)} did not pass"


def test_every_dockerfile_was_checked(report):
    passed: dict[str, set[str]] = {}
    for c in report["dockerfile"]["results"]["passed_checks"]:
        if not c["canary"]:
            passed.setdefault(c["source"], set()).add(c["check_id"])
    for image, path in DOCKERFILES.items():
        checks = passed.get(image, set())
        assert REQUIRED_DOCKER <= checks, f"{path}: {sorted(checks)}"


def test_checkov_catches_the_canaries(report):
    """The known-bad files fail the checks this suite relies on: init
    containers are covered too, and the skip list did not switch them off."""
    failed: dict[str, set[str]] = {}
    for framework in ("kubernetes", "dockerfile"):
        for c in report[framework]["results"]["failed_checks"]:
            if c["canary"]:
                failed.setdefault(c["resource"].rsplit(".", 1)[-1], set()).add(c["check_id"])
    init_faults = {"CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13", "CKV_K8S_20", "CKV_K8S_22"}
    assert init_faults <= failed.get("canary-init", set()), failed
    assert {
        "CKV_K8S_8",
        "CKV_K8S_9",
        "CKV_K8S_10",
        "CKV_K8S_13",
        "CKV_K8S_14",
        "CKV_K8S_16",
        "CKV_K8S_23",
        "CKV_K8S_28",
        "CKV_K8S_31",
        "CKV_K8S_38",
    } <= failed.get("canary-app", set()), failed
    docker = set().union(*(v for k, v in failed.items() if k not in ("canary-init", "canary-app")))
    assert {"CKV_DOCKER_3", "CKV_DOCKER_4"} <= docker, failed


def test_base_image_arguments_are_judged_at_their_defaults():
    text = "ARG RUST_IMAGE=rust:1.95-bookworm\nFROM ${RUST_IMAGE} AS chef\nFROM chef AS builder\n"
    assert with_default_bases(text).splitlines()[1:] == ["FROM rust:1.95-bookworm AS chef", "FROM chef AS builder"]
