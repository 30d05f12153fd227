#!/usr/bin/env python3
"""`just chaos` / `just chaos-short`: the fault suite.

Starts its own MariaDB and Redis on private ports (never the shared ones), the services against
them, drives steady load through both routes with an Idempotency-Key ledger and injects one fault
per phase. After each phase the ledger is compared with MySQL:

  lost        acknowledged (201/200) but not stored: must be 0
  duplicated  stored more than once: must be 0
  phantom     stored but never sent, or stored under another id than the one acknowledged: must be 0

and the live total the dashboard is given (realtime's GET /api/live) must equal MySQL's count
within 10 s. The client retries 503s (after Retry-After), connection errors and timeouts with the
SAME key, as a real client would, so every grade ends acknowledged once the fault is repaired. A
few malformed bodies ride along: none may get a 5xx or store a row.

Python standard library only (threads + http.client); MySQL and Redis through their CLIs. The
suite itself is the package chaos_suite/ beside this file.
  --short           the CI form: shorter phases, lower rate, prints the table, exits 1 on a failure
  --write FILE      also write the report (docs/reliability.md in the full form)
  --bin DIR         where the services' binaries are (target/release or target/debug)
  --faults a,b      run only these phases (after the cold start, which always runs first)
Ports: the services at port base 9200 (scripts/lib/services.txt's ports shifted by 1200: 9201-9211
and gRPC 51251), a second rest-api at 9222, MariaDB 9291, Redis 9292; work files in target/chaos.
"""

import argparse
import os
import signal
import sys
import time

from chaos_suite.phases import FAULTS, Suite
from chaos_suite.processes import Failure, log
from chaos_suite.report import table, write_report
from chaos_suite.services import read_services


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
    for binary in read_services():
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


if __name__ == "__main__":
    main()
