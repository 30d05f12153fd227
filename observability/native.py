"""The Prometheus configuration of services running natively on this machine: the ports of
scripts/lib/services.txt at a port base, one job per service named after it (as compose's, kind's
and GKE's scrapes name them), and observability/prometheus/alerts.yml. `just dev` writes it
for port base 8000; the panel-data test for its own instances. Python's standard library only;
JSON is YAML, so Prometheus reads the output as it is.

    python3 observability/native.py [--port-base 8000] [--interval 15s] [--instance NAME@BASE ...]
"""

from __future__ import annotations

import argparse
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SERVICES_FILE = ROOT / "scripts" / "lib" / "services.txt"
ALERTS = ROOT / "observability" / "prometheus" / "alerts.yml"
# The base at which services.txt's ports are the ports themselves.
DEFAULT_PORT_BASE = 8000


def service_ports(path: pathlib.Path = SERVICES_FILE) -> dict[str, int]:
    """Each service's HTTP port (the one serving /metrics) at the default base."""
    ports = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, port, *_ = line.split()
            ports[name] = int(port)
    return ports


def config(instances: list[tuple[str, int]], interval: str = "15s") -> dict:
    """Scrape config for (service, port base) instances: a service may run at several bases (replicas)."""
    ports = service_ports()
    targets: dict[str, list[str]] = {}
    for service, base in instances:
        targets.setdefault(service, []).append(f"127.0.0.1:{ports[service] + base - DEFAULT_PORT_BASE}")
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {"job_name": service, "static_configs": [{"targets": addresses}]} for service, addresses in targets.items()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE, help="base of every service (default 8000)")
    parser.add_argument("--interval", default="15s", help="scrape and rule evaluation interval")
    parser.add_argument(
        "--instance", action="append", default=[], metavar="NAME@BASE", help="one more instance of a service at a base"
    )
    args = parser.parse_args()
    instances = [(service, args.port_base) for service in service_ports()]
    for extra in args.instance:
        service, _, base = extra.partition("@")
        instances.append((service, int(base)))
    print(json.dumps(config(instances, args.interval), indent=2))


if __name__ == "__main__":
    main()
