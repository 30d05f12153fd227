"""The suite's private MariaDB and Redis, on ports of their own, never the shared servers."""

import os
import shutil
import subprocess

from chaos_suite.processes import Failure, Process, wait_until

MYSQL_PORT, REDIS_PORT = 9291, 9292
DATABASE = "grades_chaos"


class MySQL:
    def __init__(self, work):
        self.datadir = os.path.join(work, "mysql-data")
        self.work = work
        self.process = None
        self.client = shutil.which("mariadb") or shutil.which("mysql")
        self.server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"

    def url(self):
        return f"mysql://root@127.0.0.1:{MYSQL_PORT}/{DATABASE}"

    def install(self):
        shutil.rmtree(self.datadir, ignore_errors=True)
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        argv = [
            installer,
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        if os.geteuid() == 0:
            argv.append("--user=root")
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"mariadb-install-db failed:\n{result.stdout}{result.stderr}")

    def start(self):
        argv = [
            self.server,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={MYSQL_PORT}",
            "--bind-address=127.0.0.1",
            f"--socket={self.work}/mysql.sock",
            f"--pid-file={self.work}/mysql.pid",
            f"--log-error={self.work}/mysql.err",
            "--innodb-buffer-pool-size=128M",
            "--max-connections=500",
        ]
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

    def url(self):
        return f"redis://127.0.0.1:{REDIS_PORT}"

    def start(self):
        # No persistence: a killed Redis comes back EMPTY, the case the reconciler must repair.
        argv = [
            shutil.which("redis-server"),
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.work,
        ]
        self.process = Process("redis-server", argv, os.environ.copy(), f"{self.work}/redis.log").start()
        if wait_until(lambda: self.cli("PING") == "PONG", 20) is None:
            raise Failure(f"private Redis did not answer on port {REDIS_PORT}")

    def cli(self, *args):
        result = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), *args], capture_output=True, text=True, timeout=10)
        return result.stdout.strip()
