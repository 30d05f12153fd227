#!/usr/bin/env python3
"""`just chaos` / `just chaos-short`: the fault suite (issue 9).

Starts its own MariaDB and Redis on private ports (never the shared ones), the services against
them, drives steady load through both routes with an Idempotency-Key ledger and injects one fault
per phase. After each phase the ledger is compared with MySQL:

  lost        acknowledged (201/200) but not stored: must be 0
  duplicated  stored more than once: must be 0
  phantom     stored but never sent, or stored under another id than the one acknowledged: must be 0

and the Redis live total must equal MySQL's count within 10 s. The client retries 503s (after
Retry-After), connection errors and timeouts with the SAME key, as a real client would, so every
grade ends acknowledged once the fault is repaired. A few malformed bodies ride along: none may
get a 5xx or store a row.

Python standard library only (threads + http.client); MySQL and Redis through their CLIs.
  --short           the CI form: shorter phases, lower rate, prints the table, exits 1 on a failure
  --write FILE      also write the report (docs/reliability.md in the full form)
  --bin DIR         where rest-api, grpc-server and grpc-client are (target/release or target/debug)
  --faults a,b      run only these phases (after the cold start, which always runs first)
Ports 9201-9214 (this suite's range 9200-9299); work files in target/chaos.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

MYSQL_PORT, REDIS_PORT = 9201, 9202
REST_PORT, REST2_PORT = 9210, 9211
GRPC_SERVER_HTTP_PORT, GRPC_PORT, GRPC_CLIENT_PORT = 9212, 9213, 9214
DATABASE = "grades_chaos"
PREFIX = "chaos:"
# Short enough that the slow-client phase is quick; the default (10 s) behaves the same, only slower.
HEADER_TIMEOUT_SECONDS = 3
DRAIN_DEADLINE_SECONDS = 10
REDIS_CONVERGE_SECONDS = 10
MYSQL_DOWN_503_SECONDS = 1.0
COURSES = ["SO1", "BD1", "LFP", "SA", "AYD1"]


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Failure(Exception):
    """The suite itself could not run (a process would not start): not a verdict."""


# ---------------------------------------------------------------- processes


class Process:
    """A child process this suite started; signalled by its own pid only."""

    def __init__(self, name, argv, env, logfile):
        self.name, self.argv, self.env, self.logfile = name, argv, env, logfile
        self.popen = None

    def start(self):
        log_handle = open(self.logfile, "ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log_handle.close()
        return self

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self):
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def terminate(self, deadline):
        """SIGTERM, then the exit status and the seconds it took (None, deadline if it overran: killed)."""
        if not self.alive():
            return self.popen.returncode if self.popen else None, 0.0
        started = time.monotonic()
        self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=deadline + 2)
        except subprocess.TimeoutExpired:
            self.kill()
            return None, time.monotonic() - started
        return code, time.monotonic() - started


def wait_until(predicate, seconds, step=0.05):
    """Seconds until predicate() held, or None after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if predicate():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - a probe failing just means "not yet"
            pass
        time.sleep(step)
    return None


def http_status(port, path, timeout=1.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


class MySQL:
    def __init__(self, work):
        self.datadir = os.path.join(work, "mysql-data")
        self.work = work
        self.process = None
        self.client = shutil.which("mariadb") or shutil.which("mysql")
        self.server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"

    def install(self):
        shutil.rmtree(self.datadir, ignore_errors=True)
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        argv = [installer, "--no-defaults", f"--datadir={self.datadir}", "--auth-root-authentication-method=normal", "--skip-test-db"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"mariadb-install-db failed:\n{result.stdout}{result.stderr}")

    def start(self):
        argv = [self.server, "--no-defaults", f"--datadir={self.datadir}", f"--port={MYSQL_PORT}", "--bind-address=127.0.0.1",
                f"--socket={self.work}/mysql.sock", f"--pid-file={self.work}/mysql.pid", f"--log-error={self.work}/mysql.err",
                "--innodb-buffer-pool-size=128M", "--max-connections=500"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        self.process = Process("mariadbd", argv, os.environ.copy(), f"{self.work}/mysql.out").start()
        if wait_until(lambda: self.query("SELECT 1") == [["1"]], 60, 0.1) is None:
            raise Failure(f"private MariaDB did not answer on port {MYSQL_PORT} within 60 s: see {self.work}/mysql.err")

    def query(self, sql, database=None):
        argv = [self.client, "-h127.0.0.1", f"-P{MYSQL_PORT}", "-uroot", "-N", "-B", "-e", sql]
        if database:
            argv.append(database)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"mysql: {result.stderr.strip()}")
        return [line.split("\t") for line in result.stdout.splitlines()]

    def count(self):
        return int(self.query("SELECT COUNT(*) FROM grades", DATABASE)[0][0])


class Redis:
    def __init__(self, work):
        self.work = work
        self.process = None

    def start(self):
        # No persistence: a killed Redis comes back EMPTY, the case the reconciler must repair.
        argv = [shutil.which("redis-server"), "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.work]
        self.process = Process("redis-server", argv, os.environ.copy(), f"{self.work}/redis.log").start()
        if wait_until(lambda: self.cli("PING") == "PONG", 20) is None:
            raise Failure(f"private Redis did not answer on port {REDIS_PORT}")

    def cli(self, *args):
        result = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), *args], capture_output=True, text=True, timeout=10)
        return result.stdout.strip()

    def live_total(self):
        value = self.cli("HGET", f"{PREFIX}live", "total")
        return int(value) if value else None


class Services:
    """rest-api, grpc-server, grpc-client (and a second rest-api for the cold start)."""

    def __init__(self, bindir, work):
        self.bindir, self.work = bindir, work
        self.procs = {}
        base = os.environ.copy()
        base.update({
            "MYSQL_URL": f"mysql://root@127.0.0.1:{MYSQL_PORT}/{DATABASE}",
            "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}",
            "REDIS_PREFIX": PREFIX,
            "LOG_FORMAT": "json",
            "RUST_LOG": "info",
            "HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_SECONDS),
            "HTTP_BODY_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_SECONDS),
            "DRAIN_DEADLINE_SECONDS": str(DRAIN_DEADLINE_SECONDS),
        })
        # The driver sends no bearer token: a token in the caller's environment would make every grade a 401.
        base.pop("INGEST_TOKEN", None)
        self.base = base
        self.specs = {
            "rest-api": ("rest-api", {"PORT": str(REST_PORT)}, REST_PORT),
            "rest-api-2": ("rest-api", {"PORT": str(REST2_PORT)}, REST2_PORT),
            "grpc-server": ("grpc-server", {"PORT": str(GRPC_SERVER_HTTP_PORT), "GRPC_PORT": str(GRPC_PORT)}, GRPC_SERVER_HTTP_PORT),
            "grpc-client": ("grpc-client", {"PORT": str(GRPC_CLIENT_PORT), "GRPC_SERVER_URL": f"http://127.0.0.1:{GRPC_PORT}"},
                            GRPC_CLIENT_PORT),
        }

    def start(self, name, migrate=False):
        binary, extra, _ = self.specs[name]
        env = dict(self.base, **extra, MIGRATE="true" if migrate else "false")
        self.procs[name] = Process(name, [os.path.join(self.bindir, binary)], env, f"{self.work}/{name}.log").start()
        return self.procs[name]

    def port(self, name):
        return self.specs[name][2]

    def wait_ready(self, name, seconds=60):
        proc = self.procs[name]
        took = wait_until(lambda: (not proc.alive()) or http_status(self.port(name), "/readyz") == 200, seconds)
        if took is None or not proc.alive():
            raise Failure(f"{name} not ready within {seconds} s (alive: {proc.alive()}): see {proc.logfile}")
        return took

    def dead(self):
        return [name for name, proc in self.procs.items() if not proc.alive()]

    def stop_all(self):
        for proc in self.procs.values():
            proc.terminate(DRAIN_DEADLINE_SECONDS)
        self.procs = {}


# ---------------------------------------------------------------- load with a ledger

BAD_BODIES = [
    ("application/json", b'{"carnet": 2019, "nombre": '),  # malformed JSON
    ("application/json", b'\xff\xfe{"carnet": 1}'),  # not UTF-8
    ("text/plain", b'{"carnet": 1, "nombre": "x", "curso": "SO1", "nota": 1, "semestre": "1S", "year": 2023}'),
    ("application/json", b"{" + b" " * (17 * 1024) + b"}"),  # over 16 KiB
]


def bad_valid_json(key):
    """Well-formed JSON with one bad field: a 422 that must store nothing (recognised by its nombre)."""
    grade = {"carnet": 1, "nombre": f"chaos-bad {key}", "curso": "SO1", "nota": 50, "semestre": "1S", "year": 2023}
    field, value = random.choice([("nota", 101), ("curso", "NOPE9"), ("semestre", "3S"), ("year", 1800), ("carnet", 0)])
    grade[field] = value
    return "application/json", json.dumps(grade).encode()


class Load:
    """Steady load through some routes; every grade has its own Idempotency-Key and is retried with it
    until acknowledged. Closed loop per worker: a worker stuck retrying sends nothing new."""

    def __init__(self, phase, targets, rate, workers_per_target=6, bad_every=25):
        self.phase = phase
        self.targets = targets  # [(route_label, port)]
        self.rate = rate
        self.workers_per_target = workers_per_target
        self.bad_every = bad_every
        self.lock = threading.Lock()
        self.sent = {}  # key -> route label
        self.acked = {}  # key -> id acknowledged
        self.ack_times = {label: [] for label, _ in targets}
        self.status_counts = {}
        self.attempts = 0
        self.errors = []  # protocol violations
        self.bad_sent = 0
        self.slow_503 = []  # (seconds, route, sent at) of every 503
        self.unresolved = 0
        self.stop_event = threading.Event()
        self.give_up_at = None
        self.threads = []
        self.seq = 0

    def start(self):
        per_worker = self.rate / (len(self.targets) * self.workers_per_target)
        for label, port in self.targets:
            for w in range(self.workers_per_target):
                thread = threading.Thread(target=self._worker, args=(label, port, w, per_worker), daemon=True)
                thread.start()
                self.threads.append(thread)
        return self

    def stop(self, settle_seconds=45):
        """No new grades; those in flight keep retrying for up to settle_seconds."""
        self.give_up_at = time.monotonic() + settle_seconds
        self.stop_event.set()
        for thread in self.threads:
            thread.join(settle_seconds + 20)

    def first_ack_after(self, label, moment):
        with self.lock:
            later = [t for t in self.ack_times[label] if t >= moment]
        return min(later) if later else None

    def _next_key(self, label):
        with self.lock:
            self.seq += 1
            return f"c-{self.phase}-{label}-{self.seq}", self.seq

    def _count(self, status):
        with self.lock:
            self.attempts += 1
            self.status_counts[status] = self.status_counts.get(status, 0) + 1

    def _violation(self, text):
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(text)

    def _worker(self, label, port, index, rate):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        interval = 1.0 / rate
        next_send = time.monotonic() + random.random() * interval
        count = 0
        while not self.stop_event.is_set():
            delay = next_send - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_send = max(next_send + interval, time.monotonic())
            count += 1
            if self.bad_every and count % self.bad_every == 0:
                conn = self._send_bad(conn, port, label)
            else:
                conn = self._send_grade(conn, port, label)
        conn.close()

    def _post(self, conn, port, body, content_type, key):
        """(status, headers, body, seconds) or (None, error, None, seconds); reconnects after an error."""
        headers = {"content-type": content_type}
        if key:
            headers["idempotency-key"] = key
        started = time.monotonic()
        try:
            conn.request("POST", "/grades", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return conn, (response.status, response.getheader("retry-after"), data, time.monotonic() - started)
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            return http.client.HTTPConnection("127.0.0.1", port, timeout=15), (None, type(error).__name__, None, time.monotonic() - started)

    def _send_bad(self, conn, port, label):
        key = self._next_key(label)[0] + "-bad"
        content_type, body = random.choice(BAD_BODIES + [bad_valid_json(key)] * 2)
        conn, (status, _, _, _) = self._post(conn, port, body, content_type, None)
        with self.lock:
            self.bad_sent += 1
        self._count(f"bad:{status}")
        if status is not None and status >= 500 and status != 503:
            self._violation(f"{label}: a malformed body got {status}")
        return conn

    def _send_grade(self, conn, port, label):
        key, seq = self._next_key(label)
        grade = {"carnet": 1_000_000 + seq, "nombre": f"chaos {key}", "curso": COURSES[seq % len(COURSES)], "nota": seq % 101,
                 "semestre": "1S" if seq % 2 else "2S", "year": 2020 + seq % 5}
        body = json.dumps(grade).encode()
        with self.lock:
            self.sent[key] = label
        while True:
            conn, (status, retry_after, data, seconds) = self._post(conn, port, body, "application/json", key)
            self._count(status if status is not None else "connection error")
            if status in (200, 201):
                try:
                    grade_id = int(json.loads(data)["id"])
                except (ValueError, KeyError, TypeError):
                    self._violation(f"{label}: {status} without an id: {data[:200]!r}")
                    grade_id = None
                with self.lock:
                    self.acked[key] = grade_id
                    self.ack_times[label].append(time.monotonic())
                return conn
            if status == 503:
                with self.lock:
                    self.slow_503.append((seconds, label, time.monotonic() - seconds))
                if not retry_after:
                    self._violation(f"{label}: 503 without Retry-After")
                pause = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
            elif status is None:
                pause = 0.1 + random.random() * 0.2
            else:
                if status >= 500:
                    self._violation(f"{label}: a valid grade got {status}: {data[:200]!r}")
                else:
                    self._violation(f"{label}: a valid grade got {status} (key {key}): {data[:200]!r}")
                    return conn
                pause = 0.5
            if self.give_up_at is not None and time.monotonic() + pause > self.give_up_at:
                with self.lock:
                    self.unresolved += 1
                return conn
            time.sleep(pause)


# ---------------------------------------------------------------- verification


class Result:
    def __init__(self, fault):
        self.fault = fault
        self.sent = self.acked = self.stored = self.lost = self.duplicated = self.phantom = 0
        self.recovery = None
        self.notes = []
        self.failures = []

    @property
    def passed(self):
        return not self.failures

    def check(self, ok, text):
        if not ok:
            self.failures.append(text)

    def check_timing(self, ok, text, strict):
        """A latency bound: a failure in the full form, a warning in the short form (CI runs on a
        shared, noisy machine, where timings are reported, not asserted)."""
        if strict:
            self.check(ok, text)
        elif not ok:
            self.notes.append(f"WARN: {text}")


def verify(result, load, mysql, redis, services):
    """Ledger against MySQL, then Redis against MySQL, then every service still alive."""
    result.sent, result.acked = len(load.sent), len(load.acked)
    rows = mysql.query(f"SELECT id, nombre FROM grades WHERE nombre LIKE 'chaos c-{load.phase}-%'", DATABASE)
    stored = {}
    for grade_id, nombre in rows:
        stored.setdefault(nombre[len("chaos "):], []).append(int(grade_id))
    result.stored = len(stored)
    result.duplicated = sum(len(ids) - 1 for ids in stored.values())
    result.lost = sum(1 for key in load.acked if key not in stored)
    never_sent = [key for key in stored if key not in load.sent]
    wrong_id = [key for key, grade_id in load.acked.items() if key in stored and grade_id not in stored[key]]
    result.phantom = len(never_sent) + len(wrong_id)
    bad_stored = int(mysql.query(f"SELECT COUNT(*) FROM grades WHERE nombre LIKE 'chaos-bad c-{load.phase}-%'", DATABASE)[0][0])
    result.check(result.lost == 0, f"{result.lost} acknowledged grades not stored")
    result.check(result.duplicated == 0, f"{result.duplicated} duplicate rows")
    result.check(not never_sent, f"{len(never_sent)} stored grades never sent")
    result.check(not wrong_id, f"{len(wrong_id)} grades stored under another id than acknowledged")
    result.check(bad_stored == 0, f"{bad_stored} malformed grades stored")
    result.check(load.unresolved == 0, f"{load.unresolved} grades never acknowledged after the repair")
    for error in load.errors:
        result.check(False, error)
    retries = load.attempts - result.sent - load.bad_sent
    result.notes.append(f"{retries} retries, {load.bad_sent} bad bodies")
    # The live total chases MySQL; with the load stopped it must meet it within the reconcile bound.
    converged = wait_until(lambda: redis.live_total() == mysql.count(), REDIS_CONVERGE_SECONDS, 0.1)
    result.check(converged is not None,
                 f"Redis live total {redis.live_total()} != MySQL {mysql.count()} {REDIS_CONVERGE_SECONDS} s after the load")
    dead = services.dead()
    result.check(not dead, f"died: {', '.join(dead)}")


# ---------------------------------------------------------------- the faults


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
        self.services = Services(os.path.abspath(args.bin), self.work)
        self.results = []
        self.shutdown_failures = []

    def routes(self):
        return [("rest", REST_PORT), ("grpc", GRPC_CLIENT_PORT)]

    def run(self, faults):
        os.makedirs(self.work, exist_ok=True)
        for name in os.listdir(self.work):
            if name.endswith(".log") or name.endswith(".out"):
                os.remove(os.path.join(self.work, name))
        for port in (MYSQL_PORT, REDIS_PORT, REST_PORT, REST2_PORT, GRPC_SERVER_HTTP_PORT, GRPC_PORT, GRPC_CLIENT_PORT):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                continue
            raise Failure(f"port {port} is already in use (another chaos run?): this suite needs 9201-9214 free")
        # A copy: a rebuild during the run (a shared checkout) must not change what a restart starts.
        bindir = os.path.join(self.work, "bin")
        os.makedirs(bindir, exist_ok=True)
        for binary in ("rest-api", "grpc-server", "grpc-client"):
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
        log(f"{result.fault}: sent {result.sent} acked {result.acked} stored {result.stored} lost {result.lost} "
            f"duplicated {result.duplicated} recovery {fmt_seconds(result.recovery)} ({'; '.join(result.notes)}) {verdict}")

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
        verify(result, load, self.mysql, self.redis, self.services)
        self.record(result)

    def cold_start(self):
        log("cold start: rest-api, grpc-server and a second rest-api migrate a fresh database at the same instant")
        self.services.stop_all()
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
        migrations = self.mysql.query("SELECT COUNT(*) FROM _sqlx_migrations", DATABASE)[0][0]
        result.notes.append(f"all ready, {migrations} migrations applied once")
        load = Load("cold", self.routes() + [("rest2", REST2_PORT)], self.rate).start()
        time.sleep(self.before + self.after)
        load.stop()
        verify(result, load, self.mysql, self.redis, self.services)
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
            took = wait_until(lambda: (self.redis.live_total() or -1) >= stored_then, 30)
            took = None if took is None else time.monotonic() - restarted
            result.recovery = took
            result.notes.append(f"live state rebuilt to ≥ {stored_then} grades")
            result.check(took is not None and took <= REDIS_CONVERGE_SECONDS,
                         f"live state not rebuilt within {REDIS_CONVERGE_SECONDS} s of Redis returning")
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
            result.check(result.recovery is not None, "a route did not acknowledge a grade within 60 s of MySQL returning")
            # Requests sent while MySQL was down (not those caught in flight by the kill).
            with load.lock:
                down = [entry for entry in load.slow_503 if killed + 0.1 <= entry[2] <= restarted]
            for label, _ in self.routes():
                mine = [entry for entry in down if entry[1] == label]
                if not mine:
                    result.check(False, f"no {label} request was answered 503 while MySQL was down")
                    continue
                seconds, _, sent = max(mine)
                result.notes.append(f"{label}: {len(mine)} 503s while down, slowest {seconds:.2f} s (sent {sent - killed:.1f} s after the kill)")
                result.check_timing(seconds <= MYSQL_DOWN_503_SECONDS,
                                    f"a {label} 503 took {seconds:.2f} s (over {MYSQL_DOWN_503_SECONDS} s) while MySQL was down",
                                    strict=not self.short)
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
            result.check(code == 0 and seconds <= DRAIN_DEADLINE_SECONDS + 0.5,
                         f"{name} exited {code} after {seconds:.2f} s of SIGTERM (deadline {DRAIN_DEADLINE_SECONDS} s)")
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
                         b"Content-Length: 100\r\n\r\n{\"carnet\": 1",
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
                except socket.timeout:
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
            result.notes.append(f"{count} clients of each kind ({', '.join(kinds)}) per front cut within "
                                f"{fmt_seconds(result.recovery)} s")
            result.check(not stuck_kinds, f"still open {limit} s later: {', '.join(stuck_kinds)}")
            # Stuck clients must not hold a shutdown open either.
            stuck = [sock for payload in kinds.values() for sock in stall(REST_PORT, payload)]
            code, seconds = self.services.procs["rest-api"].terminate(DRAIN_DEADLINE_SECONDS)
            for sock in stuck:
                sock.close()
            result.notes.append(f"rest-api SIGTERM with {len(stuck)} stuck clients: exit {code} in {seconds:.2f} s")
            result.check(code == 0 and seconds <= DRAIN_DEADLINE_SECONDS + 0.5,
                         f"rest-api with stuck clients exited {code} after {seconds:.2f} s of SIGTERM")
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
        took = wait_until(lambda: self.redis.live_total() == expected, 30)
        took = None if took is None else time.monotonic() - restarted
        result.recovery = took
        result.stored = expected
        result.notes.append(f"no traffic; live total back to {expected}")
        result.check(took is not None and took <= REDIS_CONVERGE_SECONDS,
                     f"live total not back within {REDIS_CONVERGE_SECONDS} s of Redis returning (took {fmt_seconds(took)})")
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


FAULTS = ["redis-kill", "mysql-kill", "grpc-server-kill", "sigterm-rest-api", "sigterm-grpc-server", "sigterm-grpc-client",
          "slow-clients", "redis-restart-idle"]


def fmt_seconds(value):
    return "-" if value is None else f"{value:.2f}"


def table(results):
    lines = ["| fault | sent | acknowledged | stored | lost | duplicated | recovery s | verdict | checks |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        verdict = "pass" if r.passed else "**FAIL**: " + "; ".join(r.failures)
        lines.append(f"| {r.fault} | {r.sent} | {r.acked} | {r.stored} | {r.lost} | {r.duplicated} | {fmt_seconds(r.recovery)} | "
                     f"{verdict} | {'; '.join(r.notes)} |")
    return "\n".join(lines)


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--bin", default="target/release")
    parser.add_argument("--work", default="target/chaos")
    parser.add_argument("--rate", type=int, default=0, help="grades per second over all routes (60 short, 200 full)")
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--write", help="write the report into this Markdown file")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
    for binary in ("rest-api", "grpc-server", "grpc-client"):
        if not os.access(os.path.join(args.bin, binary), os.X_OK):
            parser.error(f"{args.bin}/{binary} missing: run `cargo build --bins` (or --release) first")
    suite = Suite(args)
    started = time.monotonic()
    # SIGTERM/Ctrl-C of the suite still stops what it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    crashed = None
    try:
        suite.run(faults)
    except Failure as error:
        crashed = str(error)
    finally:
        suite.shutdown()
    elapsed = time.monotonic() - started
    report = table(suite.results)
    print("\n" + report + "\n")
    acked = sum(r.acked for r in suite.results)
    failed = [r.fault for r in suite.results if not r.passed]
    log(f"{len(suite.results)} phases, {acked} acknowledged grades, {len(failed)} failed, {elapsed:.0f} s")
    if crashed:
        log(f"the suite could not finish: {crashed}")
    if args.write:
        write_report(args, suite, report, elapsed, acked)
    sys.exit(1 if failed or crashed or suite.shutdown_failures else 0)


def write_report(args, suite, report, elapsed, acked):
    command = "python3 " + " ".join(sys.argv)
    header = f"""# Reliability: the fault suite

`just chaos` rewrites this page. Measured by `{command}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC,
{machine()}, binaries from `{args.bin}`, {suite.rate} grades/s offered over both routes, {acked} grades
acknowledged in {elapsed:.0f} s. Each row is one phase: steady load through rest-api (`rest`) and
grpc-client -> grpc-server (`grpc`), the fault, the repair, more load, then the ledger against MySQL.

"""
    footer = f"""

**Columns.** *sent*: grades (distinct Idempotency-Keys) the driver sent; *acknowledged*: answered
201 or 200; *stored*: distinct keys found in MySQL (a grade sent while its route was down may be
stored without an acknowledgement, never the other way round); *lost*: acknowledged but not
stored (must be 0); *duplicated*: rows beyond the first per key (must be 0). A grade stored under
another id than its 201 named, or a stored grade never sent, fails the phase too. *recovery s*:
for a killed process, seconds from its restart to the first grade acknowledged through the route
it serves (the slower route for MySQL); for Redis, until the live total is rebuilt; for the cold
start, until every process is ready; for slow clients, until the server cut the half-sent headers.

**The client** retries a 503 after its `Retry-After`, and a refused or cut connection or a timeout
after 0.1-0.3 s, always with the same Idempotency-Key, until the grade is acknowledged. Every
25th request of each worker is a malformed body (bad JSON, not UTF-8, wrong content type, over
16 KiB, or one bad field): it must get a 4xx (a 503 is tolerated) and store nothing.

**After every phase**: the Redis live total equals MySQL's count within {REDIS_CONVERGE_SECONDS} s
of the load stopping, and no service died.

**Faults.** *redis-kill*: SIGKILL Redis under load, {suite.outage} s down, restart EMPTY (no
persistence) on the same port. *mysql-kill*: SIGKILL MariaDB, {suite.outage} s down, restart on the
same datadir (crash recovery); every 503 while it is down must come within {MYSQL_DOWN_503_SECONDS:.0f} s.
*grpc-server-kill*: SIGKILL, restart. *sigterm-X*: SIGTERM under load, exit 0 within the drain
deadline ({DRAIN_DEADLINE_SECONDS} s), restart. *cold start*: rest-api, grpc-server and a second
rest-api started at the same instant with `MIGRATE=true` on an empty database: all ready, none
dies, then load through all three. *slow-clients*: connections that send nothing, 3 bytes, half a
request header, or a header and half a body, are cut (or answered) within the header/body timeout
(`HTTP_HEADER_TIMEOUT_SECONDS` = `HTTP_BODY_TIMEOUT_SECONDS` = {HEADER_TIMEOUT_SECONDS} here) + 2 s on both
fronts, and rest-api still exits 0 within the deadline on SIGTERM while such clients hang on.
*redis-restart-idle*: Redis killed and restarted empty with no traffic at all: the live total must
come back within {REDIS_CONVERGE_SECONDS} s from the reconciler alone.

Private instances only: MariaDB on :{MYSQL_PORT} and Redis on :{REDIS_PORT} (started by the suite
from `mariadb-install-db` / `redis-server`, data in `target/chaos`), services on :9210-9214. The short
form (`just chaos-short`, part of `just test`) runs the same phases with shorter load
(60 grades/s, debug binaries) and fails on any broken invariant, except the 1 s bound on a 503
while MySQL is down: a latency, so only a warning there (CI shares a noisy machine).
"""
    with open(args.write, "w") as out:
        out.write(header + report + footer)
    log(f"wrote {args.write}")


if __name__ == "__main__":
    main()
