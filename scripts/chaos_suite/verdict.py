"""After a phase: the ledger against MySQL, the live total against MySQL, every service alive."""

from chaos_suite.processes import http_json, wait_until
from chaos_suite.stores import DATABASE

REDIS_CONVERGE_SECONDS = 10


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


def live_total(services):
    """The total the dashboard shows: realtime's GET /api/live, which reads the Redis live state
    (0 while it is missing); raises while realtime cannot answer."""
    return http_json(services.port("realtime"), "/api/live")["total"]


def live_total_or_none(services):
    try:
        return live_total(services)
    except (OSError, RuntimeError, ValueError):
        return None


def verify(result, load, mysql, services):
    """Ledger against MySQL, then the live total against MySQL, then every service still alive."""
    result.sent, result.acked = len(load.sent), len(load.acked)
    rows = mysql.query(f"SELECT id, nombre FROM grades WHERE nombre LIKE 'chaos c-{load.phase}-%'", DATABASE)
    stored = {}
    for grade_id, nombre in rows:
        stored.setdefault(nombre[len("chaos ") :], []).append(int(grade_id))
    result.stored = len(stored)
    result.duplicated = sum(len(ids) - 1 for ids in stored.values())
    result.lost = sum(1 for key in load.acked if key not in stored)
    never_sent = [key for key in stored if key not in load.sent]
    wrong_id = [key for key, grade_id in load.acked.items() if key in stored and grade_id not in stored[key]]
    result.phantom = len(never_sent) + len(wrong_id)
    bad_stored = int(
        mysql.query(f"SELECT COUNT(*) FROM grades WHERE nombre LIKE 'chaos-bad c-{load.phase}-%'", DATABASE)[0][0]
    )
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
    converged = wait_until(lambda: live_total(services) == mysql.count(), REDIS_CONVERGE_SECONDS, 0.1)
    result.check(
        converged is not None,
        f"live total {live_total_or_none(services)} != MySQL {mysql.count()} {REDIS_CONVERGE_SECONDS} s after the load",
    )
    dead = services.dead()
    result.check(not dead, f"died: {', '.join(dead)}")
