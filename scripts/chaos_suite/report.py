"""The suite's results: the table it prints, and docs/reliability.md (`--write`)."""

import datetime
import sys

from bench_report import machine
from chaos_suite.phases import DRAIN_DEADLINE_SECONDS, HEADER_TIMEOUT_SECONDS, MYSQL_DOWN_503_SECONDS, fmt_seconds
from chaos_suite.processes import log
from chaos_suite.stores import MYSQL_PORT, REDIS_PORT
from chaos_suite.verdict import REDIS_CONVERGE_SECONDS


def table(results):
    lines = [
        "| fault | sent | acknowledged | stored | lost | duplicated | recovery s | verdict | checks |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        verdict = "pass" if r.passed else "**FAIL**: " + "; ".join(r.failures)
        lines.append(
            f"| {r.fault} | {r.sent} | {r.acked} | {r.stored} | {r.lost} | {r.duplicated} "
            f"| {fmt_seconds(r.recovery)} | {verdict} | {'; '.join(r.notes)} |"
        )
    return "\n".join(lines)


def write_report(args, suite, report, elapsed, acked):
    command = "python3 " + " ".join(sys.argv)
    header = f"""# Reliability: the fault suite

`just chaos` rewrites this page. Measured by `{command}` on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC,
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

**After every phase**: the live total the dashboard is given (realtime's `GET /api/live`, read from
the Redis live state) equals MySQL's count within {REDIS_CONVERGE_SECONDS} s of the load stopping, and
no service died.

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
from `mariadb-install-db` / `redis-server`, data in `target/chaos`), services on
:{", :".join(map(str, sorted(suite.services.ports())))} (scripts/lib/services.txt's ports shifted). The short
form (`just chaos-short`, part of `just test`) runs the same phases with shorter load
(60 grades/s, debug binaries) and fails on any broken invariant, except the 1 s bound on a 503
while MySQL is down: a latency, so only a warning there (CI shares a noisy machine).
"""
    with open(args.write, "w") as out:
        out.write(header + report + footer)
    log(f"wrote {args.write}")
