"""Child processes, polling and HTTP probes."""

import http.client
import json
import signal
import subprocess
import time


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Failure(Exception):
    """The suite itself could not run (a process would not start): not a verdict."""


class Process:
    """A child process this suite started; signalled by its own pid only."""

    def __init__(self, name, argv, env, logfile):
        self.name, self.argv, self.env, self.logfile = name, argv, env, logfile
        self.popen = None

    def start(self):
        with open(self.logfile, "ab") as log_handle:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
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


def http_get(port, path, timeout=1.0):
    """(status, body) of GET 127.0.0.1:port/path, or (None, None) when nothing answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return None, None
    finally:
        conn.close()


def http_json(port, path, timeout=1.0):
    """The JSON body of a 200 answer to GET 127.0.0.1:port/path; raises otherwise."""
    status, body = http_get(port, path, timeout)
    if status != 200:
        raise RuntimeError(f"GET :{port}{path} answered {status}")
    return json.loads(body)
