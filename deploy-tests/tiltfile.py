"""tilt/Tiltfile evaluated by starlark-rust (starlark-pyo3), with Tilt's built-ins replaced by
recorders: what the Tiltfile asks Tilt to do, as a list of (built-in, args, kwargs) calls.

`os`, `config`, `read_file` and the trigger modes are stubs too, so a test chooses the
environment, the repository's .env and the `--dev` flag the Tiltfile sees."""

from __future__ import annotations

import pathlib

from conftest import ROOT

TILT = ROOT / "tilt"
RECORDED = (
    "allow_k8s_contexts",
    "update_settings",
    "docker_build",
    "k8s_yaml",
    "kustomize",
    "k8s_resource",
    "local_resource",
    "link",
    "port_forward",
    "local",
    "sync",
    "run",
)
# Prepended to the Tiltfile: Tilt's modules as structs over the recorders above.
PRELUDE = """
os = struct(getenv = _os_getenv)
config = struct(define_bool = _config_define_bool, parse = _config_parse)
TRIGGER_MODE_AUTO = "auto"
TRIGGER_MODE_MANUAL = "manual"
"""


def evaluate(*, dev: bool = False, environ: dict[str, str] | None = None, dotenv: str = "") -> list[tuple]:
    """The Tiltfile's calls, evaluated as `tilt up` (or `tilt up -- --dev`) would with this
    environment and this content of the repository's .env."""
    import starlark as sl  # starlark-pyo3 (deploy-tests/requirements.txt)

    environ = environ or {}
    recorded: list[tuple] = []
    module = sl.Module()

    def recorder(name):
        def call(*args, **kwargs):
            recorded.append((name, args, kwargs))
            if name == "kustomize":
                return ("kustomize", args[0])
            if name == "link":
                return ("link", args[0])
            if name == "port_forward":
                return ("port_forward", args[0], args[1])
            if name in ("sync", "run"):
                return (name, *args)
            return None

        return call

    for name in RECORDED:
        module.add_callable(name, recorder(name))

    def read_file(path, default=None):
        target = (TILT / path).resolve()
        if target == (ROOT / ".env").resolve():
            return dotenv if dotenv else default
        return target.read_text()

    module.add_callable("read_file", read_file)
    module.add_callable("_os_getenv", lambda name, default=None: environ.get(name, default))
    module.add_callable("_config_define_bool", lambda name, **kwargs: recorded.append(("define_bool", (name,), kwargs)))
    module.add_callable("_config_parse", lambda: {"dev": dev} if dev else {})
    source = PRELUDE + (TILT / "Tiltfile").read_text()
    ast = sl.parse("Tiltfile", source, sl.Dialect.extended())
    sl.eval(module, ast, sl.Globals.extended_by([sl.LibraryExtension.StructType]))
    return recorded


def calls_of(calls: list[tuple], name: str) -> list[tuple]:
    """(args, kwargs) of every call of one built-in."""
    return [(args, kwargs) for n, args, kwargs in calls if n == name]


def docker_builds(calls: list[tuple]) -> dict[str, dict]:
    """Image name -> docker_build's keyword arguments, paths resolved against tilt/."""
    builds = {}
    for args, kwargs in calls_of(calls, "docker_build"):
        resolved = dict(kwargs)
        resolved["context"] = (TILT / kwargs["context"]).resolve()
        resolved["dockerfile"] = (TILT / kwargs["dockerfile"]).resolve()
        builds[args[0]] = resolved
    return builds


def relative(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT))
