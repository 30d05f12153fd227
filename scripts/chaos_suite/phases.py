"""The faults, one phase each: load through the routes, the fault, the repair, more load, then the
verdict (chaos_suite.verdict)."""

import os
import shutil
import socket
import time

from chaos_suite.ledger import Load
from chaos_suite.processes import Failure, log, wait_until
from chaos_suite.services import Services
from chaos_suite.stores import DATABASE, MYSQL_PORT, REDIS_PORT, MySQL, Redis
from chaos_suite.verdict import REDIS_CONVERGE_SECONDS, Result, live_total, verify

# The services at this port base (scripts/lib/services.txt's ports shifted by 1200); the second
# rest-api of the cold start at a base of its own.
PORT_BASE, SECOND_REST_API_PORT_BASE = 9200, 9220
# Short enough that the slow-client phase is quick; the default (10 s) behaves the same, only slower.
HEADER_TIMEOUT_SECONDS = 3
DRAIN_DEADLINE_SECONDS = 10
MYSQL_DOWN_503_SECONDS = 1.0
PREFIX = "chaos:"
FAULTS = [
    "redis-kill",
    "mysql-kill",
    "grpc-server-kill",
    "sigterm-rest-api",
    "sigterm-grpc-server",
    "sigterm-grpc-client",
    "slow-clients",
    "redis-restart-idle",
]


def fmt_seconds(value):
    return "-" if value is None else f"{value:.2f}"


class Suite:
    def __init__(self, args):
        self.args = args
        self.short = args.short
        self.rate = args.rate or (60 if self.short else 200)
        self.before = 3 if self.short else 10  # seconds of load before the fault
        self.after = 4 if self.short else 15  # seconds of load after the repair
        self.outage = 3 if self.short else 8  # seconds a killed dependency stays down
        self.work = os.path.abspath(args.work)
        self.mysql = MySQL(self.work)
        self.redis = Redis(self.work)
        env = dict(
            os.environ,
            MYSQL_URL=self.mysql.url(),
            REDIS_URL=self.redis.url(),
            REDIS_PREFIX=PREFIX,
            LOG_FORMAT="json",
            RUST_LOG="info",
            HTTP_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT_SECONDS),
            HTTP_BODY_TIMEOUT_SECONDS=str(HEADER_TIMEOUT_SECONDS),
            DRAIN_DEADLINE_SECONDS=str(DRAIN_DEADLINE_SECONDS),
        )
        # The driver sends no bearer token: a token in the caller's environment would make every grade a 401.
        env.pop("INGEST_TOKEN", None)
        instances = {name: (name, PORT_BASE) for name in ("grpc-server", "rest-api", "realtime", "grpc-client")}
        instances["rest-api-2"] = ("rest-api", SECOND_REST_API_PORT_BASE)
        self.services = Services(os.path.abspath(args.bin), self.work, env, instances)
        self.results = []
        self.shutdown_failures = []

    def routes(self):
        return self.services.routes()

    def run(self, faults):
        os.makedirs(self.work, exist_ok=True)
        for name in os.listdir(self.work):
            if name.endswith(".log") or name.endswith(".out"):
                os.remove(os.path.join(self.work, name))
        ports = [MYSQL_PORT, REDIS_PORT, *self.services.ports()]
        for port in ports:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                continue
            raise Failure(f"port {port} is already in use (another chaos run?): this suite needs {ports} free")
        # A copy: a rebuild during the run (a shared checkout) must not change what a restart starts.
        bindir = os.path.join(self.work, "bin")
        os.makedirs(bindir, exist_ok=True)
        for binary in self.services.binaries():
            shutil.copy2(os.path.join(self.services.bindir, binary), os.path.join(bindir, binary))
        self.services.bindir = bindir
        log(f"private MariaDB :{MYSQL_PORT} and Redis :{REDIS_PORT} in {self.work}")
        self.mysql.install()
        self.mysql.start()
        self.redis.start()
        self.cold_start()
        for fault in faults:
            getattr(self, fault.replace("-", "_"))()

    def record(self, result):
        self.results.append(result)
        verdict = "PASS" if result.passed else "FAIL: " + "; ".join(result.failures)
        log(
            f"{result.fault}: sent {result.sent} acked {result.acked} stored {result.stored} lost {result.lost} "
            f"duplicated {result.duplicated} recovery {fmt_seconds(result.recovery)} ({'; '.join(result.notes)}) "
            f"{verdict}"
        )

    def loaded(self, phase, fault, targets=None):
        """Load for `before` s, fault(result, load), load for `after` s, stop, verify."""
        result = Result(phase)
        load = Load(phase, targets or self.routes(), self.rate).start()
        time.sleep(self.before)
        try:
            fault(result, load)
        except Failure as error:
            result.check(False, str(error))
        time.sleep(self.after)
        load.stop()
        verify(result, load, self.mysql, self.services)
        self.record(result)

    def cold_start(self):
        log("cold start: rest-api, grpc-server and a second rest-api migrate a fresh database at the same instant")
        self.services.stop_all(DRAIN_DEADLINE_SECONDS)
        self.mysql.query(f"DROP DATABASE IF EXISTS {DATABASE}; CREATE DATABASE {DATABASE}")
        self.redis.cli("FLUSHALL")  # the private instance: nothing else lives there
        result = Result("cold start, 3 writers")
        started = time.monotonic()
        for name in ("rest-api", "grpc-server", "rest-api-2"):
            self.services.start(name, migrate=True)
        self.services.start("grpc-client")
        try:
            for name in ("rest-api", "grpc-server", "rest-api-2", "grpc-client"):
                self.services.wait_ready(name, 120)
        except Failure as error:
            result.check(False, str(error))
            self.record(result)
            raise
        result.recovery = time.monotonic() - started
        # realtime (the live total of every verdict) after the migration: it never migrates.
        self.services.start("realtime")
        self.services.wait_ready("realtime")
        migrations = self.mysql.query("SELECT COUNT(*) FROM _sqlx_migrations", DATABASE)[0][0]
        result.notes.append(f"all ready, {migrations} migrations applied once")
        load = Load("cold", self.routes() + [("rest2", self.services.port("rest-api-2"))], self.rate).start()
        time.sleep(self.before + self.after)
        load.stop()
        verify(result, load, self.mysql, self.services)
        code, seconds = self.services.procs.pop("rest-api-2").terminate(DRAIN_DEADLINE_SECONDS)
        result.check(code == 0, f"second rest-api exited {code} on SIGTERM")
        self.record(result)

    def redis_kill(self):
        def fault(result, load):
            self.redis.process.kill()
            time.sleep(self.outage)
            restarted = time.monotonic()
            self.redis.start()
            stored_then = self.mysql.count()
            took = wait_until(lambda: live_total(self.services) >= stored_then, 30)
            took = None if took is None else time.monotonic() - restarted
            result.recovery = took
            result.notes.append(f"live state rebuilt to ≥ {stored_then} grades")
            result.check(
                took is not None and took <= REDIS_CONVERGE_SECONDS,
                f"live state not rebuilt within {REDIS_CONVERGE_SECONDS} s of Redis returning",
            )

        self.loaded("redis-kill", fault)

    def mysql_kill(self):
        def fault(result, load):
            killed = time.monotonic()
            self.mysql.process.kill()
            time.sleep(self.outage)
            restarted = time.monotonic()
            self.mysql.start()
            wait_until(lambda: all(load.first_ack_after(label, restarted) for label, _ in self.routes()), 60)
            firsts = [load.first_ack_after(label, restarted) for label, _ in self.routes()]
            result.recovery = max(firsts) - restarted if all(firsts) else None
            result.check(
                result.recovery is not None, "a route did not acknowledge a grade within 60 s of MySQL returning"
            )
            # Requests sent while MySQL was down (not those caught in flight by the kill).
            with load.lock:
                down = [entry for entry in load.slow_503 if killed + 0.1 <= entry[2] <= restarted]
            for label, _ in self.routes():
                mine = [entry for entry in down if entry[1] == label]
                if not mine:
                    result.check(False, f"no {label} request was answered 503 while MySQL was down")
                    continue
                seconds, _, sent = max(mine)
                result.notes.append(
                    f"{label}: {len(mine)} 503s while down, slowest {seconds:.2f} s "
                    f"(sent {sent - killed:.1f} s after the kill)"
                )
                result.check_timing(
                    seconds <= MYSQL_DOWN_503_SECONDS,
                    f"a {label} 503 took {seconds:.2f} s (over {MYSQL_DOWN_503_SECONDS} s) while MySQL was down",
                    strict=not self.short,
                )
            if not down:
                result.check(False, "no request was answered 503 while MySQL was down")

        self.loaded("mysql-kill", fault)

    def grpc_server_kill(self):
        def fault(result, load):
            self.services.procs["grpc-server"].kill()
            time.sleep(self.outage)
            self.restart(result, load, "grpc-server", "grpc")

        self.loaded("grpc-server-kill", fault)

    def restart(self, result, load, name, label):
        self.services.start(name)
        restarted = time.monotonic()
        self.services.wait_ready(name)
        wait_until(lambda: load.first_ack_after(label, restarted), 30)
        first = load.first_ack_after(label, restarted)
        result.recovery = first - restarted if first else None
        result.check(first is not None, f"no {label} grade acknowledged within 30 s of {name} restarting")

    def sigterm(self, name, label):
        def fault(result, load):
            code, seconds = self.services.procs[name].terminate(DRAIN_DEADLINE_SECONDS)
            result.notes.append(f"exit {code} in {seconds:.2f} s")
            result.check(
                code == 0 and seconds <= DRAIN_DEADLINE_SECONDS + 0.5,
                f"{name} exited {code} after {seconds:.2f} s of SIGTERM (deadline {DRAIN_DEADLINE_SECONDS} s)",
            )
            self.restart(result, load, name, label)

        self.loaded(f"sigterm-{name}", fault)

    def sigterm_rest_api(self):
        self.sigterm("rest-api", "rest")

    def sigterm_grpc_client(self):
        self.sigterm("grpc-client", "grpc")

    def sigterm_grpc_server(self):
        self.sigterm("grpc-server", "grpc")

    def slow_clients(self):
        count = 10 if self.short else 50  # connections of each kind, per front
        # What a slow or stuck client may have sent when it stalls: nothing, less than the HTTP/2
        # preface the server reads to pick a protocol, half a header, or a header and half a body.
        kinds = {
            "silent": b"",
            "3 bytes": b"POS",
            "half header": b"POST /grades HTTP/1.1\r\nHost: chaos\r\nContent-Type: app",
            "half body": b"POST /grades HTTP/1.1\r\nHost: chaos\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"carnet": 1',
        }

        def stall(port, payload):
            sockets = []
            for _ in range(count):
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                if payload:
                    sock.sendall(payload)
                sockets.append(sock)
            return sockets

        def cut_after(sockets, limit):
            """Seconds until the server answered or closed every socket (None: one still hangs at `limit`)."""
            started, latest = time.monotonic(), 0.0
            for sock in sockets:
                try:
                    sock.settimeout(max(0.05, limit - (time.monotonic() - started)))
                    sock.recv(4096)  # a response (408) or the close: either way the server let go
                except TimeoutError:
                    return None
                except OSError:
                    pass
                finally:
                    sock.close()
                latest = time.monotonic() - started
            return latest

        def fault(result, load):
            limit = HEADER_TIMEOUT_SECONDS + 2
            stuck_kinds = []
            for name in ("rest-api", "grpc-client"):
                for kind, payload in kinds.items():
                    took = cut_after(stall(self.services.port(name), payload), limit)
                    if took is None:
                        stuck_kinds.append(f"{name} {kind}")
                    result.recovery = max(result.recovery or 0, took if took is not None else limit)
            result.notes.append(
                f"{count} clients of each kind ({', '.join(kinds)}) per front cut within "
                f"{fmt_seconds(result.recovery)} s"
            )
            result.check(not stuck_kinds, f"still open {limit} s later: {', '.join(stuck_kinds)}")
            # Stuck clients must not hold a shutdown open either.
            rest_port = self.services.port("rest-api")
            stuck = [sock for payload in kinds.values() for sock in stall(rest_port, payload)]
            code, seconds = self.services.procs["rest-api"].terminate(DRAIN_DEADLINE_SECONDS)
            for sock in stuck:
                sock.close()
            result.notes.append(f"rest-api SIGTERM with {len(stuck)} stuck clients: exit {code} in {seconds:.2f} s")
            result.check(
                code == 0 and seconds <= DRAIN_DEADLINE_SECONDS + 0.5,
                f"rest-api with stuck clients exited {code} after {seconds:.2f} s of SIGTERM",
            )
            self.services.start("rest-api")
            self.services.wait_ready("rest-api")

        self.loaded("slow-clients", fault)

    def redis_restart_idle(self):
        result = Result("redis-restart-idle")
        expected = self.mysql.count()
        self.redis.process.kill()
        time.sleep(1)
        restarted = time.monotonic()
        self.redis.start()
        took = wait_until(lambda: live_total(self.services) == expected, 30)
        took = None if took is None else time.monotonic() - restarted
        result.recovery = took
        result.stored = expected
        result.notes.append(f"no traffic; live total back to {expected}")
        result.check(
            took is not None and took <= REDIS_CONVERGE_SECONDS,
            f"live total not back within {REDIS_CONVERGE_SECONDS} s of Redis returning (took {fmt_seconds(took)})",
        )
        dead = self.services.dead()
        result.check(not dead, f"died: {', '.join(dead)}")
        self.record(result)

    def shutdown(self):
        """Every remaining service by SIGTERM (exit 0 expected), then the private stores."""
        for name, proc in list(self.services.procs.items()):
            code, seconds = proc.terminate(DRAIN_DEADLINE_SECONDS)
            if code != 0:
                self.shutdown_failures.append(f"{name} exited {code} after {seconds:.2f} s of SIGTERM at the end")
                log(self.shutdown_failures[-1])
        self.services.procs = {}
        for store in (self.redis, self.mysql):
            if store.process:
                store.process.kill()
