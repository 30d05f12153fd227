"""The build context each tool sends for each image, assembled file by file, and the sources
each Dockerfile copies from it.

* compose: the service's `build.context`, filtered by BuildKit's rule: `<Dockerfile>.dockerignore`
  next to the Dockerfile when it exists, else `<context>/.dockerignore`.
* Tilt: `docker_build(context=...)` from tilt/Tiltfile, keeping only the `only=` paths, minus
  `<context>/.dockerignore` and the `ignore=` patterns.

The files are the repository's tracked files (what a fresh clone holds); generated inputs (the
dev image's target/tilt-dev) are staged for real by tilt/scripts/dev-binaries.sh in the tests.

By hand, to build an image from exactly what one tool would send:

    .venv-deploy/bin/python deploy-tests/build_contexts.py tilt grades /tmp/ctx
    docker build -f Dockerfile --build-arg RUST_IMAGE=... /tmp/ctx
"""

from __future__ import annotations

import functools
import json
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from conftest import ROOT  # noqa: E402

# image -> compose service building it
COMPOSE_SERVICES = {"grades": "migrate", "grades-dashboard": "dashboard", "grades-loadgen": "loadgen"}


# ------------------------------------------------------ .dockerignore ----
def _pattern_regex(pattern: str) -> re.Pattern:
    """moby's patternmatcher: `**` any path, `*` and `?` within one path element."""
    out, i = "^", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out, i = out + "(?:.*/)?", i + 1
            else:
                out += ".*"
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
            continue
        elif c == "\\" and i + 1 < len(pattern):
            out, i = out + re.escape(pattern[i + 1]), i + 2
            continue
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + "$")


def read_ignore_file(path: pathlib.Path) -> list[str]:
    """Patterns of a .dockerignore file, cleaned as Docker cleans them."""
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        patterns.append(_clean(line))
    return patterns


def _clean(pattern: str) -> str:
    """As Docker reads a pattern: no leading or trailing slash, `.` and `..` resolved."""
    negated = pattern.startswith("!")
    body = pattern[1:].strip() if negated else pattern
    body = str(pathlib.PurePosixPath("/" + body)).lstrip("/") or "."
    return ("!" if negated else "") + body


def excluded(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories wins;
    `!` patterns bring files back."""
    parents = [str(p) for p in reversed(pathlib.PurePosixPath(path).parents) if str(p) != "."]
    result = False
    for pattern in map(_clean, patterns):
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern[1:] if negated else pattern)
        if regex.match(path) or any(regex.match(parent) for parent in parents):
            result = not negated
    return result


# ------------------------------------------------------------ contexts ----
@functools.cache
def tracked_files() -> tuple[str, ...]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    return tuple(name for name in listed.stdout.split("\0") if name and (ROOT / name).is_file())


def files_under(directory: pathlib.Path) -> list[str]:
    """Tracked files under `directory`, relative to it."""
    prefix = "" if directory == ROOT else str(directory.relative_to(ROOT)) + "/"
    return [name[len(prefix) :] for name in tracked_files() if name.startswith(prefix)]


def compose_build(image: str) -> dict:
    """compose's build of an image: context directory, Dockerfile, ignore file in effect."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    build = compose["services"][COMPOSE_SERVICES[image]]["build"]
    context = (ROOT / build["context"]).resolve()
    dockerfile = (context / build.get("dockerfile", "Dockerfile")).resolve()
    per_dockerfile = dockerfile.with_name(dockerfile.name + ".dockerignore")
    ignore_file = per_dockerfile if per_dockerfile.is_file() else context / ".dockerignore"
    return {"context": context, "dockerfile": dockerfile, "ignore_file": ignore_file}


def compose_context(image: str) -> set[str]:
    build = compose_build(image)
    patterns = read_ignore_file(build["ignore_file"])
    return {f for f in files_under(build["context"]) if not excluded(patterns, f)}


def tilt_context(build: dict) -> set[str]:
    """What Tilt sends for one docker_build (kwargs as tiltfile.docker_builds resolves them)."""
    context = build["context"]
    only = [str(pathlib.PurePosixPath(o)) for o in build.get("only", [])]
    patterns = read_ignore_file(context / ".dockerignore") + list(build.get("ignore", []))

    def in_only(f: str) -> bool:
        return not only or any(f == o or f.startswith(o + "/") for o in only)

    return {f for f in files_under(context) if in_only(f) and not excluded(patterns, f)}


def materialize(files: set[str], source: pathlib.Path, destination: pathlib.Path) -> None:
    """Copies exactly `files` (relative to `source`) into `destination`, for a docker build."""
    for name in sorted(files):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)


# ---------------------------------------------------------- Dockerfiles ----
def copy_sources(dockerfile: pathlib.Path) -> list[str]:
    """Context paths every COPY/ADD (not --from a stage) reads, in order."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    sources = []
    for line in text.splitlines():
        match = re.match(r"^\s*(COPY|ADD)\s+(.*)$", line, re.I)
        if not match:
            continue
        rest = match.group(2).strip()
        flags = re.findall(r"--(\S+)", rest.split("[", 1)[0] if rest.startswith("--") else "")
        if any(flag.startswith("from=") for flag in flags):
            continue
        rest = re.sub(r"^(?:--\S+\s+)*", "", rest)
        args = json.loads(rest) if rest.startswith("[") else rest.split()
        sources += [str(pathlib.PurePosixPath(s)) for s in args[:-1]]
    return sources


def provides(context: set[str], source: str) -> bool:
    """Whether a COPY source finds something in the context (a file, or files under a directory)."""
    if source == ".":
        return bool(context)
    return source in context or any(f.startswith(source.rstrip("/") + "/") for f in context)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("compose", "tilt") or argv[1] not in COMPOSE_SERVICES:
        print(__doc__.strip().splitlines()[-3:], file=sys.stderr)
        print("usage: build_contexts.py compose|tilt grades|grades-dashboard|grades-loadgen DIR", file=sys.stderr)
        return 64
    tool, image, out = argv[0], argv[1], pathlib.Path(argv[2])
    if tool == "compose":
        build = compose_build(image)
        files = compose_context(image)
    else:
        import tiltfile

        build = tiltfile.docker_builds(tiltfile.evaluate())[f"localhost:5001/{image}"]
        files = tilt_context(build)
    materialize(files, build["context"], out)
    print(f"{len(files)} files of {build['context']} -> {out}; Dockerfile: {build['dockerfile']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
