"""The launcher description, scripts/lib/services.txt, read the same way by its two readers: the
shell launcher (scripts/lib/services.sh) and the fault suite (chaos_suite.services). Each starts
stand-in binaries that record the settings they were given."""

import os
import pathlib
import stat
import subprocess
import tempfile
import time
import unittest

from chaos_suite.services import Services, read_services

ROOT = pathlib.Path(__file__).resolve().parents[2]
SETTINGS = ("PORT", "GRPC_PORT", "GRPC_SERVER_URL", "MIGRATE")


def shell(script, **env):
    """Runs bash with services.sh sourced; its standard output."""
    result = subprocess.run(
        ["bash", "-c", f"set -euo pipefail; source scripts/lib/services.sh; {script}"],
        cwd=ROOT,
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def stand_ins(folder):
    """A binary per service that writes the settings it was started with to NAME.settings."""
    for name in read_services():
        binary = pathlib.Path(folder) / name
        lines = "".join(f'echo "{setting}=${{{setting}:-}}"; ' for setting in SETTINGS)
        binary.write_text(f'#!/bin/sh\n{{ {lines}}} > "{folder}/{name}.settings"\n')
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)


def settings(folder, name):
    path = pathlib.Path(folder) / f"{name}.settings"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (path.exists() and path.read_text().endswith("\n")):
        time.sleep(0.02)
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


class ServicesTable(unittest.TestCase):
    def test_the_table_holds_the_four_services_and_both_routes(self):
        services = read_services()
        self.assertEqual(list(services), ["grpc-server", "rest-api", "realtime", "grpc-client"])
        self.assertEqual({s.route for s in services.values() if s.route}, {"rest", "grpc"})
        self.assertEqual(services["grpc-client"].calls, "grpc-server")

    def test_both_readers_give_the_same_ports_at_any_base(self):
        for base in (8000, 9200):
            python = Services("bin", "work", {}, {name: (name, base) for name in read_services()})
            self.assertEqual(
                sorted(python.ports()),
                sorted(int(port) for port in shell("services_ports", SERVICES_PORT_BASE=str(base)).split()),
            )
            for route, port in python.routes():
                self.assertEqual(
                    shell(f"route_url {route}", SERVICES_PORT_BASE=str(base)).strip(),
                    f"http://127.0.0.1:{port}/grades",
                )

    def test_both_launchers_start_each_service_with_the_same_settings(self):
        names = list(read_services())
        with tempfile.TemporaryDirectory() as folder:
            stand_ins(folder)
            shell(f"services_launch {folder} {folder} {' '.join(names)}; wait", SERVICES_PORT_BASE="9200")
            from_shell = {name: settings(folder, name) for name in names}
            for name in names:
                os.remove(pathlib.Path(folder) / f"{name}.settings")
            python = Services(folder, folder, {}, {name: (name, 9200) for name in names})
            for name in names:
                python.start(name).popen.wait(10)
            from_python = {name: settings(folder, name) for name in names}
        self.assertEqual(from_shell, from_python)
        self.assertEqual(from_shell["grpc-client"]["GRPC_SERVER_URL"], "http://127.0.0.1:51251")
        self.assertEqual(
            from_shell["rest-api"], {"PORT": "9202", "GRPC_PORT": "", "GRPC_SERVER_URL": "", "MIGRATE": "false"}
        )


if __name__ == "__main__":
    unittest.main()
