"""Every image builds the way each tool builds it: for each image, the files compose and Tilt
send (build_contexts.py assembles them file by file from the tracked files, with each tool's
filters) hold every COPY/ADD source of its Dockerfile, the two tools send the same files for
every path a Dockerfile copies, and what the sources read at compile time is in there too.
The dev image of `tilt up -- --dev` is checked against what tilt/scripts/dev-binaries.sh
really stages (run with a stand-in cargo)."""

from __future__ import annotations

import os
import re
import stat
import subprocess

import pytest

import tiltfile
from build_contexts import (
    COMPOSE_SERVICES,
    compose_build,
    compose_context,
    copy_sources,
    excluded,
    provides,
    read_ignore_file,
    tilt_context,
)
from conftest import ROOT, cargo_binaries

IMAGES = sorted(COMPOSE_SERVICES)


def _tilt_build(image: str, **evaluate) -> dict:
    return tiltfile.docker_builds(tiltfile.evaluate(**evaluate))[f"localhost:5001/{image}"]


def _contexts(image: str) -> dict[str, set[str]]:
    return {"compose": compose_context(image), "tilt": tilt_context(_tilt_build(image))}


@pytest.mark.parametrize("image", IMAGES)
def test_both_tools_build_from_the_same_dockerfile(image):
    assert compose_build(image)["dockerfile"] == _tilt_build(image)["dockerfile"]
    assert compose_build(image)["context"] == _tilt_build(image)["context"]


@pytest.mark.parametrize("tool", ("compose", "tilt"))
@pytest.mark.parametrize("image", IMAGES)
def test_every_copy_source_is_sent(image, tool):
    context = _contexts(image)[tool]
    sources = copy_sources(compose_build(image)["dockerfile"])
    assert sources, "no COPY in the Dockerfile?"
    missing = [s for s in sources if not provides(context, s)]
    assert not missing, f"{tool} does not send {missing} for {image}: the build would stop at that COPY"


@pytest.mark.parametrize("image", IMAGES)
def test_the_tools_send_the_same_files_for_each_copy(image):
    contexts = _contexts(image)
    for source in copy_sources(compose_build(image)["dockerfile"]):
        prefix = "" if source == "." else source.rstrip("/")

        def under(files, prefix=prefix):
            return {f for f in files if not prefix or f == prefix or f.startswith(prefix + "/")}

        compose, tilt = under(contexts["compose"]), under(contexts["tilt"])
        assert compose == tilt, (
            f"{image}, COPY {source}: only compose sends {sorted(compose - tilt)[:10]}, "
            f"only Tilt sends {sorted(tilt - compose)[:10]}"
        )


def test_the_rust_build_finds_what_it_compiles():
    """`cargo build` in the image reads every workspace manifest, the lockfile, the build
    scripts' inputs (proto/), and whatever include_str!/include_bytes!/sqlx::migrate! name."""
    needed = {"Cargo.toml", "Cargo.lock", "proto/grades.proto", "docker/healthcheck/main.rs"}
    needed |= {f"{crate}/Cargo.toml" for crate in set(cargo_binaries().values())}
    for source in ROOT.glob("crates/*/src/**/*.rs"):
        crate = ROOT.joinpath(*source.relative_to(ROOT).parts[:2])
        for macro, reference in re.findall(r'(include_str|include_bytes|migrate)!\(\s*"([^"]+)"', source.read_text()):
            # sqlx::migrate! resolves against the crate's manifest, include_*! against the file
            target = ((crate if macro == "migrate" else source.parent) / reference).resolve()
            files = [target] if target.is_file() else [p for p in target.rglob("*") if p.is_file()]
            assert files, f"{source}: {macro}!({reference!r}) names nothing"
            needed |= {str(p.relative_to(ROOT)) for p in files}
    for tool, context in _contexts("grades").items():
        missing = sorted(n for n in needed if n not in context)
        assert not missing, f"{tool}: the Rust build needs {missing}"


def test_a_context_without_a_copied_file_fails():
    """The check bites: Tilt's context as it was (docs/ excluded by .dockerignore, no
    docs/compare.json in only=) misses what the runtime stage copies."""
    build = _tilt_build("grades")
    old = dict(build, only=[o for o in build["only"] if o != "docs/compare.json"])
    assert not provides(tilt_context(old), "docs/compare.json")
    patterns = [p for p in read_ignore_file(ROOT / ".dockerignore") if p != "!docs/compare.json"]
    assert excluded(patterns, "docs/compare.json") and not excluded(patterns, "crates/kit/src/lib.rs")


def test_dockerignore_semantics():
    patterns = ["*", "!frontend/", "frontend/node_modules", "**/target", "!docs/compare.json", "docs/*.png"]
    assert excluded(patterns, "Cargo.toml")
    assert not excluded(patterns, "frontend/src/main.tsx")
    assert excluded(patterns, "frontend/node_modules/react/index.js")
    assert excluded(patterns, "frontend/x/target/debug/y")
    assert not excluded(patterns, "docs/compare.json")
    assert excluded(patterns, "docs/dashboard.png")
    assert read_ignore_file(ROOT / "Dockerfile.dockerignore")[0] == "*"


# ------------------------------------------------------------ dev image ----
@pytest.fixture
def staged(tmp_path):
    """tilt/scripts/dev-binaries.sh run for real, with a stand-in cargo that 'builds' each
    binary it is asked for."""
    bin_dir, target = tmp_path / "path", tmp_path / "target"
    bin_dir.mkdir()
    cargo = bin_dir / "cargo"
    cargo.write_text(
        '#!/bin/sh\nmkdir -p "$CARGO_TARGET_DIR/debug"\n'
        "while [ $# -gt 0 ]; do\n"
        '  [ "$1" = --bin ] && { shift; echo "binary $1 $BUILD" > "$CARGO_TARGET_DIR/debug/$1"; }\n'
        "  shift\n"
        "done\n"
    )
    cargo.chmod(cargo.stat().st_mode | stat.S_IEXEC)
    stage = tmp_path / "stage"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CARGO_TARGET_DIR": str(target),
        "STAGE_DIR": str(stage),
        "BUILD": "1",
    }

    def run(build: str = "1") -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["bash", str(ROOT / "tilt/scripts/dev-binaries.sh")],
            env=dict(env, BUILD=build),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return proc

    return stage, run


def test_dev_image_context_holds_what_its_dockerfile_copies(staged):
    stage, run = staged
    first = run()
    build = _tilt_build("grades", dev=True)
    assert build["context"] == (ROOT / "target" / "tilt-dev").resolve()
    files = {str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()}
    for source in copy_sources(build["dockerfile"]):
        assert provides(files, source), f"dev-binaries.sh does not stage {source}"
    services = {"grpc-client", "grpc-server", "rest-api", "realtime"}
    assert {f"bin/{s}" for s in services} <= files
    assert os.access(stage / "grades-dev-run", os.X_OK)
    assert first.stdout.count("staged bin/") == 4
    # A build that changed nothing stages nothing, so Tilt syncs nothing.
    assert "staged" not in run().stdout
    assert run(build="2").stdout.count("staged bin/") == 4


def test_dev_image_live_update_syncs_the_staged_binaries():
    build = _tilt_build("grades", dev=True)
    dockerfile = build["dockerfile"].read_text()
    steps = [list(step) for step in build["live_update"]]
    assert steps[0] == ["sync", "../target/tilt-dev/bin", "/tmp/grades-bin"]
    assert steps[1][0] == "run" and "/tmp/grades-bin/.generation" in steps[1][1]
    runner = (ROOT / "tilt/dev/grades-dev-run").read_text()
    assert "bin_dir=${GRADES_DEV_BIN_DIR:-/tmp/grades-bin}" in runner and "$bin_dir/.generation" in runner
    assert "image_bin=${GRADES_DEV_IMAGE_BIN:-/opt/grades/bin}" in runner and "COPY bin/ /opt/grades/bin/" in dockerfile
    # /tmp is the writable emptyDir of every pod running the grades image (readOnlyRootFilesystem)
    from conftest import build_docs, pod_templates

    for workload, template in pod_templates(build_docs("kind")):
        for container in template["spec"]["containers"]:
            if "localhost:5001/grades:" in container["image"]:
                mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
                assert "/tmp" in mounts, f"{workload['metadata']['name']}: Tilt could not sync into it"


# ------------------------------------------------------ grades-dev-run ----
RUNNER = ROOT / "tilt" / "dev" / "grades-dev-run"


@pytest.fixture
def dev_runner(tmp_path):
    """grades-dev-run as the dev image installs it (a link named after the service), with a
    stand-in service that records each start and its SIGTERM, and exits with $EXIT_WITH when set."""
    image_bin, bin_dir, links = tmp_path / "image-bin", tmp_path / "bin-dir", tmp_path / "links"
    for d in (image_bin, links):
        d.mkdir()
    service = image_bin / "rest-api"
    service.write_text(
        "#!/bin/sh\n"
        f'echo "start $$ $*" >> "{tmp_path}/events"\n'
        f'trap \'echo "term $$" >> "{tmp_path}/events"; exit 0\' TERM\n'
        '[ -n "${EXIT_WITH:-}" ] && exit "$EXIT_WITH"\n'
        "while :; do sleep 0.1; done\n"
    )
    service.chmod(0o755)
    (links / "rest-api").symlink_to(RUNNER)
    env = {"PATH": os.environ["PATH"], "GRADES_DEV_IMAGE_BIN": str(image_bin), "GRADES_DEV_BIN_DIR": str(bin_dir)}
    return links / "rest-api", bin_dir, tmp_path / "events", env


def _events(path, count, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"expected {count} events, got {path.read_text() if path.exists() else 'none'}")


def test_dev_runner_restarts_the_service_after_a_sync(dev_runner):
    link, bin_dir, events, env = dev_runner
    proc = subprocess.Popen([str(link), "--flag"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        first = _events(events, 1)
        assert first[0].endswith("--flag") and (bin_dir / "rest-api").is_file(), "started from its own copy"
        # A sync that replaced another service's binary only: this one keeps running.
        (bin_dir / ".generation").write_text("2\n")  # what Tilt's run() step does after every sync
        import time

        time.sleep(1)
        assert len(_events(events, 1)) == 1, "restarted for a binary that is not its own"
        # Tilt's sync replaces the file (tar writes a new one), then bumps the generation.
        replacement = bin_dir / "rest-api.new"
        replacement.write_bytes((bin_dir / "rest-api").read_bytes())
        replacement.chmod(0o755)
        replacement.replace(bin_dir / "rest-api")
        (bin_dir / ".generation").write_text("3\n")
        lines = _events(events, 3)
        assert lines[1] == "term " + first[0].split()[1], "the old process got SIGTERM first"
        assert lines[2].startswith("start ") and lines[2] != first[0] and lines[2].endswith("--flag")
        proc.terminate()  # the pod stops: the service gets SIGTERM, the runner exits with it
        assert proc.wait(timeout=10) == 0
        assert _events(events, 4)[3] == "term " + lines[2].split()[1]
    finally:
        proc.kill()


def test_dev_runner_ends_with_a_command_that_ends(dev_runner):
    """`grpc-server migrate`, `wait-for-schema`: the container ends with the command's status."""
    link, _, _, env = dev_runner
    assert subprocess.run([str(link)], env=dict(env, EXIT_WITH="3"), timeout=20).returncode == 3
    assert subprocess.run([str(link)], env=dict(env, EXIT_WITH="0"), timeout=20).returncode == 0


def test_dev_runner_without_a_writable_directory_runs_the_image_binary(dev_runner, tmp_path):
    link, _, events, env = dev_runner
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    env = dict(env, GRADES_DEV_BIN_DIR=str(read_only / "bin"), EXIT_WITH="0")
    if os.geteuid() == 0:  # root writes anywhere: a path under a file cannot be created by anyone
        (tmp_path / "a-file").write_text("")
        env["GRADES_DEV_BIN_DIR"] = str(tmp_path / "a-file" / "bin")
    assert subprocess.run([str(link)], env=env, timeout=20).returncode == 0
    assert _events(events, 1)[0].startswith("start ")
