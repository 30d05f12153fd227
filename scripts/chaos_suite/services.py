"""The grades services as scripts/lib/services.txt describes them (the table the shell launcher
reads too), started as instances: a service's binary at a port base."""

import os
import pathlib
from dataclasses import dataclass

from chaos_suite.processes import Failure, Process, http_get, wait_until

SERVICES_FILE = pathlib.Path(__file__).resolve().parents[1] / "lib" / "services.txt"
# The base at which services.txt's ports are the ports themselves (docs/CONTRACTS.md's defaults).
DEFAULT_PORT_BASE = 8000


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    grpc_port: int | None
    route: str | None
    calls: str | None


def read_services(path=SERVICES_FILE):
    """services.txt as {name: Service}, in start order."""
    services = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, port, grpc_port, route, calls = line.split()
        services[name] = Service(
            name,
            int(port),
            None if grpc_port == "-" else int(grpc_port),
            None if route == "-" else route,
            None if calls == "-" else calls,
        )
    return services


class Services:
    """Instances of the services: {instance: (service, port base)}, each started from bindir with
    `env` and its own ports; an instance that calls another service calls its instance of the same
    name at the same base."""

    def __init__(self, bindir, work, env, instances):
        self.bindir, self.work, self.env = bindir, work, env
        self.catalogue = read_services()
        unknown = {service for service, _ in instances.values()} - set(self.catalogue)
        if unknown:
            raise Failure(f"not in {SERVICES_FILE}: {', '.join(sorted(unknown))}")
        self.instances = instances
        self.procs = {}

    def binaries(self):
        """The binaries the instances run."""
        return sorted({service for service, _ in self.instances.values()})

    def _shift(self, port, instance):
        return port + self.instances[instance][1] - DEFAULT_PORT_BASE

    def port(self, instance):
        return self._shift(self.catalogue[self.instances[instance][0]].port, instance)

    def grpc_port(self, instance):
        return self._shift(self.catalogue[self.instances[instance][0]].grpc_port, instance)

    def ports(self):
        """Every port of every instance."""
        return [
            self._shift(port, instance)
            for instance, (service, _) in self.instances.items()
            for port in (self.catalogue[service].port, self.catalogue[service].grpc_port)
            if port is not None
        ]

    def routes(self):
        """[(route, HTTP port of the instance that answers its POST /grades)], in services.txt's order."""
        return [
            (self.catalogue[service].route, self.port(instance))
            for instance, (service, _) in self.instances.items()
            if self.catalogue[service].route and instance == service
        ]

    def start(self, instance, migrate=False):
        service = self.catalogue[self.instances[instance][0]]
        env = dict(self.env, PORT=str(self.port(instance)), MIGRATE="true" if migrate else "false")
        if service.grpc_port is not None:
            env["GRPC_PORT"] = str(self.grpc_port(instance))
        if service.calls:
            env["GRPC_SERVER_URL"] = f"http://127.0.0.1:{self.grpc_port(service.calls)}"
        argv = [os.path.join(self.bindir, service.name)]
        self.procs[instance] = Process(instance, argv, env, f"{self.work}/{instance}.log").start()
        return self.procs[instance]

    def wait_ready(self, instance, seconds=60):
        proc = self.procs[instance]
        port = self.port(instance)
        took = wait_until(lambda: (not proc.alive()) or http_get(port, "/readyz")[0] == 200, seconds)
        if took is None or not proc.alive():
            raise Failure(f"{instance} not ready within {seconds} s (alive: {proc.alive()}): see {proc.logfile}")
        return took

    def dead(self):
        return [name for name, proc in self.procs.items() if not proc.alive()]

    def stop_all(self, deadline):
        for proc in self.procs.values():
            proc.terminate(deadline)
        self.procs = {}
