"""Every panel of the Grafana dashboard and every alert has data: a real Prometheus (Debian's, from
scripts/prometheus-debian.sh) scrapes the real services (the debug binaries, two rest-api replicas)
while grades flow through both routes, then each panel target and each alert's expression is
evaluated through Prometheus' HTTP API. A query of a metric nobody exports, a label nobody sets or
a route missing from a per-route panel fails here.

What Grafana itself would do with the JSON is not run (Grafana is packaged in neither Debian, npm
nor PyPI): its `$__rate_interval` is given the value Grafana computes for this scrape interval.

Environment: PROMETHEUS_BIN (directory of `prometheus`, default what scripts/prometheus-debian.sh
prints), GRADES_BIN (the services' binaries, default $CARGO_TARGET_DIR/debug), TEST_MYSQL_URL,
TEST_REDIS_URL (servers; database grades_observability and keys under observability: are made
fresh), OBSERVABILITY_PORT_BASE (9700; Prometheus on base + 90).
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = pathlib.Path(__file__).resolve().parents[1]
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))

import native  # noqa: E402

from chaos_suite.processes import Process  # noqa: E402
from chaos_suite.services import Services  # noqa: E402

DASHBOARD = HERE / "grafana" / "dashboards" / "grades.json"
ALERTS = HERE / "prometheus" / "alerts.yml"
BASE = int(os.environ.get("OBSERVABILITY_PORT_BASE", "9700"))
REPLICA_BASE = BASE + 20
PROMETHEUS_PORT = BASE + 90
DATABASE = "grades_observability"
REDIS_PREFIX = "observability:"
SCRAPE = "1s"
# Grafana's $__rate_interval: max($__interval + scrape interval, 4 × scrape interval); $__interval
# is at most a few seconds on a dashboard of the last minutes.
RATE_INTERVAL = "15s"
LOAD_SECONDS = 40
EVALUATE_AFTER = 22
EXPECTED = {"route": {"grpc", "rest"}, "projection": {"terms", "students"}}
SERVICES = {"grpc-client", "grpc-server", "rest-api", "realtime"}
KUBE_STATE_METRICS = "KSM"
COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}


def request(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 5.0):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError):
        return None, b""  # nothing answered (yet)


def server_args(url: str) -> list[str]:
    parsed = urllib.parse.urlparse(url)
    args = ["-h", parsed.hostname or "127.0.0.1", "-P", str(parsed.port or 3306), "-u", parsed.username or "root"]
    if parsed.password:
        args.append(f"-p{parsed.password}")
    return args


class Prometheus:
    """Prometheus' HTTP API."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params) -> dict:
        status, body = request(f"{self.url}{path}?{urllib.parse.urlencode(params)}", timeout=30)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise AssertionError(f"{path} {params}: {status} {body[:500]!r}")
        return answer["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.get("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", (expr, data["resultType"])
        return data["result"]


def printed(node: dict) -> str:
    """PromQL text of a node of Prometheus' parse_query AST (the kinds alert expressions use)."""
    kind = node["type"]
    if kind == "numberLiteral":
        return node["val"]
    if kind == "stringLiteral":
        return json.dumps(node["val"])
    if kind == "parenExpr":
        return f"({printed(node['expr'])})"
    if kind == "unaryExpr":
        return f"{node['op']}{printed(node['expr'])}"
    if kind in ("vectorSelector", "matrixSelector"):
        matchers = [m for m in node["matchers"] if not (m["name"] == "__name__" and m["value"] == node["name"])]
        text = node["name"] + (
            "{" + ", ".join(f"{m['name']}{m['type']}{json.dumps(m['value'])}" for m in matchers) + "}"
            if matchers
            else ""
        )
        if kind == "matrixSelector":
            text += f"[{node['range']}ms]"
        assert not node.get("offset"), node
        return text
    if kind == "call":
        return f"{node['func']['name']}({', '.join(printed(arg) for arg in node['args'])})"
    if kind == "aggregation":
        grouping = f" {'without' if node['without'] else 'by'} ({', '.join(node['grouping'])})"
        param = f"{printed(node['param'])}, " if node.get("param") else ""
        return f"{node['op']}{grouping} ({param}{printed(node['expr'])})"
    if kind == "binaryExpr":
        op = node["op"] + (" bool" if node.get("bool") else "")
        matching = node.get("matching")
        if matching and (matching["on"] or matching["labels"]):
            op += f" {'on' if matching['on'] else 'ignoring'} ({', '.join(matching['labels'])})"
        if matching and matching["card"] in ("many-to-one", "one-to-many"):
            op += (
                f" group_{'left' if matching['card'] == 'many-to-one' else 'right'} ({', '.join(matching['include'])})"
            )
        return f"({printed(node['lhs'])}) {op} ({printed(node['rhs'])})"
    raise AssertionError(f"no printer for {kind}: {node}")


def signals(node: dict) -> list[dict]:
    """What an alert compares: its expression without the thresholds (`x > 0.01` is `x`), each side
    of an `and`/`unless` on its own. These must have data on a healthy system; the comparisons
    themselves are promtool's unit tests (alerts.test.yml)."""
    if node["type"] == "parenExpr":
        return signals(node["expr"])
    if node["type"] == "binaryExpr":
        if node["op"] in ("and", "unless"):
            return signals(node["lhs"]) + signals(node["rhs"])
        if node["op"] in COMPARISONS and not node.get("bool"):
            if node["rhs"]["type"] == "numberLiteral":
                return signals(node["lhs"])
            if node["lhs"]["type"] == "numberLiteral":
                return signals(node["rhs"])
    return [node]


def selectors(node: dict) -> set[str]:
    """Metric names a parsed expression reads."""
    if node.get("type") in ("vectorSelector", "matrixSelector"):
        return {node["name"]}
    found: set[str] = set()
    for value in node.values():
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, dict):
                found |= selectors(child)
    return found


def alert_rules() -> list[tuple[str, str]]:
    import yaml

    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"] if "alert" in rule]


def panel_targets() -> list[tuple[str, str, str]]:
    """(panel title, refId, expr) of every query of the dashboard."""
    board = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in board["panels"]
        if panel["type"] != "row"
        for target in panel.get("targets", [])
    ]


class Load(threading.Thread):
    """Grades through both routes (a few refused ones among them), realtime's API and a Socket.IO
    client kept connected, for LOAD_SECONDS."""

    def __init__(self, services: Services):
        super().__init__(daemon=True)
        self.services, self.answers, self.stop = services, {}, threading.Event()

    def post(self, port: int, body: dict, content_type: str = "application/json") -> None:
        status, _ = request(
            f"http://127.0.0.1:{port}/grades", json.dumps(body).encode(), {"content-type": content_type}
        )
        self.answers[status] = self.answers.get(status, 0) + 1

    def socket_client(self) -> None:
        realtime = f"http://127.0.0.1:{self.services.port('realtime')}/socket.io/?EIO=4&transport=polling"
        status, body = request(realtime)
        assert status == 200 and body.startswith(b"0{"), (status, body)
        sid = json.loads(body[1:])["sid"]
        assert request(f"{realtime}&sid={sid}", b"40")[0] == 200

    def run(self) -> None:
        fronts = [port for _, port in self.services.routes()]
        self.socket_client()
        deadline, n = time.monotonic() + LOAD_SECONDS, 0
        while time.monotonic() < deadline and not self.stop.is_set():
            n += 1
            for port in fronts:
                grade = {
                    "carnet": 201900000 + n,
                    "nombre": f"Alumno {n}",
                    "curso": "SO1",
                    "nota": n % 101,
                    "semestre": "2S",
                    "year": 2023,
                }
                self.post(port, grade)
                if n % 10 == 0:
                    self.post(port, dict(grade, nota=150))  # 422
                    self.post(port, grade, "text/plain")  # 415
            if n % 5 == 0:
                for path in ("/api/live", "/api/stats/routes", "/api/stats/projector"):
                    request(f"http://127.0.0.1:{self.services.port('realtime')}{path}")
            time.sleep(0.04)


class PanelsHaveData(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = pathlib.Path(tempfile.mkdtemp(prefix="grades-observability-"))
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        bindir = pathlib.Path(os.environ.get("GRADES_BIN", target / "debug"))
        prometheus_dir = (
            os.environ.get("PROMETHEUS_BIN")
            or subprocess.run(
                ["bash", str(ROOT / "scripts" / "prometheus-debian.sh")], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
        for binary in [bindir / name for name in SERVICES] + [pathlib.Path(prometheus_dir) / "prometheus"]:
            if not binary.exists():
                raise AssertionError(f"{binary} is missing: `just test-observability` builds and fetches what it needs")
        server = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
        redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
        client = shutil.which("mariadb") or shutil.which("mysql")
        if not client or not shutil.which("redis-cli"):
            raise AssertionError("a mysql/mariadb client and redis-cli are needed (.ci/run installs them)")
        subprocess.run([client, *server_args(server), "-e", f"DROP DATABASE IF EXISTS {DATABASE}"], check=True)
        keys = subprocess.run(
            ["redis-cli", "-u", redis, "--scan", "--pattern", f"{REDIS_PREFIX}*"],
            capture_output=True,
            text=True,
            check=True,
        )
        if keys.stdout.split():
            subprocess.run(["redis-cli", "-u", redis, "del", *keys.stdout.split()], check=True, capture_output=True)

        env = dict(
            os.environ,
            MYSQL_URL=f"{server}/{DATABASE}",
            REDIS_URL=redis,
            REDIS_PREFIX=REDIS_PREFIX,
            LOG_FORMAT="json",
            RUST_LOG="warn",
        )
        instances = {name: (name, BASE) for name in ("grpc-server", "rest-api", "realtime", "grpc-client")}
        instances["rest-api-2"] = ("rest-api", REPLICA_BASE)
        cls.services = Services(str(bindir), str(cls.work), env, instances)
        cls.prometheus_process = None
        try:
            cls.services.start("rest-api", migrate=True)
            cls.services.wait_ready("rest-api")
            for name in ("grpc-server", "rest-api-2", "realtime", "grpc-client"):
                cls.services.start(name)
            for name in instances:
                cls.services.wait_ready(name)
            config = native.config([(service, base) for service, base in instances.values()], SCRAPE)
            (cls.work / "prometheus.yml").write_text(json.dumps(config))
            argv = [
                str(pathlib.Path(prometheus_dir) / "prometheus"),
                f"--config.file={cls.work / 'prometheus.yml'}",
                f"--storage.tsdb.path={cls.work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
            ]
            cls.prometheus_process = Process(
                "prometheus", argv, dict(os.environ), str(cls.work / "prometheus.log")
            ).start()
            cls.prometheus = Prometheus(PROMETHEUS_PORT)
            for _ in range(300):
                if request(f"{cls.prometheus.url}/-/ready")[0] == 200:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"Prometheus not ready in 30 s: {cls.work / 'prometheus.log'}")
            load = Load(cls.services)
            load.start()
            time.sleep(EVALUATE_AFTER)  # a few rate windows of traffic, still flowing while we ask
            cls.answers = dict(load.answers)
            cls.results = {
                expr: cls.prometheus.query(expr.replace("$__rate_interval", RATE_INTERVAL))
                for _, _, expr in panel_targets()
            }
            cls.alert_signals = {}
            for name, expr in alert_rules():
                tree = cls.prometheus.get("/api/v1/parse_query", query=expr)
                cls.alert_signals[name] = [(printed(s), cls.prometheus.query(printed(s))) for s in signals(tree)]
            cls.report_figures()
            cls.rules = cls.prometheus.get("/api/v1/rules")
            cls.targets = cls.prometheus.get("/api/v1/targets")
            cls.ksm = {
                expr: selectors(
                    cls.prometheus.get("/api/v1/parse_query", query=expr.replace("$__rate_interval", RATE_INTERVAL))
                )
                for _, ref, expr in panel_targets()
                if ref.startswith(KUBE_STATE_METRICS)
            }
            cls.lint = {}
            for name in instances:
                text = request(f"http://127.0.0.1:{cls.services.port(name)}/metrics")[1]
                lint = subprocess.run(
                    [str(pathlib.Path(prometheus_dir) / "promtool"), "check", "metrics"],
                    input=text,
                    capture_output=True,
                )
                cls.lint[name] = (text.decode(), (lint.stdout + lint.stderr).decode())
            load.stop.set()
            load.join(10)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def report_figures(cls):
        """A few panels' figures, per route, into the test's output (measured, not asserted)."""
        figures = {
            "requests/s": f"sum by (route) (rate(grades_http_request_duration_seconds_count[{RATE_INTERVAL}]))",
            "p99 ms": "1000 * histogram_quantile(0.99, sum by (le, route) "
            f"(rate(grades_http_request_duration_seconds_bucket[{RATE_INTERVAL}])))",
            "CPU-s/1000 grades": "1000 * sum by (route) (rate(process_cpu_seconds_total"
            f"[{RATE_INTERVAL}]) * ignoring (route) group_left (route) grades_route_info) / sum by (route) "
            f'(rate(grades_http_requests_total{{status="201"}}[{RATE_INTERVAL}]))',
            "grades/commit": f"sum by (route) (rate(grades_writer_batch_grades_sum[{RATE_INTERVAL}])) / sum by (route) "
            f"(rate(grades_writer_batch_grades_count[{RATE_INTERVAL}]))",
        }
        for name, expr in figures.items():
            values = {s["metric"].get("route"): float(s["value"][1]) for s in cls.prometheus.query(expr)}
            print(f"  {name:18} " + "  ".join(f"{route} {value:.3f}" for route, value in sorted(values.items())))

    @classmethod
    def tearDownClass(cls):
        if cls.prometheus_process:
            cls.prometheus_process.terminate(10)
        cls.services.stop_all(10)
        shutil.rmtree(cls.work, ignore_errors=True)

    def assert_has_data(self, what: str, result: list[dict]) -> None:
        finite = [s for s in result if math.isfinite(float(s["value"][1]))]
        self.assertTrue(finite, f"{what}: no series with a value ({result})")
        for label, wanted in EXPECTED.items():
            seen = {s["metric"][label] for s in finite if label in s["metric"]}
            if seen:
                self.assertTrue(wanted <= seen, f"{what}: {label} {sorted(seen)}, expected all of {sorted(wanted)}")

    def test_grades_went_through_both_routes_and_some_were_refused(self):
        self.assertGreater(self.answers.get(201, 0), 400, self.answers)
        self.assertGreater(self.answers.get(422, 0), 0, self.answers)
        self.assertGreater(self.answers.get(415, 0), 0, self.answers)

    def test_every_service_and_replica_is_scraped_and_up(self):
        ours = [t for t in self.targets["activeTargets"] if t["labels"]["job"] in SERVICES]
        self.assertEqual({t["labels"]["job"] for t in ours}, SERVICES)
        self.assertEqual(len([t for t in ours if t["labels"]["job"] == "rest-api"]), 2, "both rest-api replicas")
        self.assertEqual([t["scrapeUrl"] for t in ours if t["health"] != "up"], [], "every target up")

    def test_every_panel_query_returns_series_for_both_routes(self):
        for title, ref, expr in panel_targets():
            if ref.startswith(KUBE_STATE_METRICS):
                continue  # kube-state-metrics: no cluster here; test_kube_state_metrics_targets
            with self.subTest(panel=title, ref=ref):
                self.assert_has_data(f"{title} [{ref}] {expr}", self.results[expr])

    def test_kube_state_metrics_targets_read_only_kube_state_metrics(self):
        """The only targets not evaluated with data: they need kube-state-metrics, which runs on GKE
        (managed package) and not here. A grades metric hidden among them would go unchecked."""
        self.assertTrue(self.ksm, "the replicas panel has kube-state-metrics targets")
        for expr, names in self.ksm.items():
            self.assertTrue(names and all(n.startswith("kube_deployment_") for n in names), (expr, names))

    def test_every_alert_expression_has_data(self):
        for name, evaluated in self.alert_signals.items():
            for expr, result in evaluated:
                with self.subTest(alert=name, signal=expr):
                    self.assert_has_data(f"{name}: {expr}", result)

    def test_metric_names_pass_promtools_linter(self):
        """promtool check metrics (Prometheus' naming rules: snake_case, base units, `_total` on
        counters, no reserved suffixes, ...) on every service's /metrics. It reads the classic text
        format, where a counter's HELP names the sample (`x_total`); OpenMetrics, which the services
        serve, names the family (`x`): that one complaint is the format's, and is the only one allowed."""
        for name, (text, problems) in self.lint.items():
            with self.subTest(service=name):
                self.assertIn("# TYPE grades_", text)
                for line in problems.splitlines():
                    family = line.removesuffix("_total no help text")
                    self.assertTrue(family != line and f"# HELP {family} " in text, f"{name}: {line}")

    def test_prometheus_evaluates_every_rule_without_error_and_nothing_fires(self):
        rules = [r for g in self.rules["groups"] for r in g["rules"]]
        self.assertEqual(len(rules), len(alert_rules()))
        self.assertEqual([(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"], [])
        # A healthy system under light load: nothing pending or firing (GradesRouteNoTraffic would be
        # if one route's counters were missing).
        self.assertEqual([r["name"] for r in rules if r["state"] != "inactive"], [])


if __name__ == "__main__":
    unittest.main()
