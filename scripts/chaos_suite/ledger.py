"""Load through the routes with a ledger: every grade has its own Idempotency-Key and is retried
with that key until acknowledged, as a real client would; a few malformed bodies ride along."""

import http.client
import json
import random
import threading
import time

COURSES = ["SO1", "BD1", "LFP", "SA", "AYD1"]

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
            return http.client.HTTPConnection("127.0.0.1", port, timeout=15), (
                None,
                type(error).__name__,
                None,
                time.monotonic() - started,
            )

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
        grade = {
            "carnet": 1_000_000 + seq,
            "nombre": f"chaos {key}",
            "curso": COURSES[seq % len(COURSES)],
            "nota": seq % 101,
            "semestre": "1S" if seq % 2 else "2S",
            "year": 2020 + seq % 5,
        }
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
