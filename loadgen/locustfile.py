"""Locust traffic generator for grades: random grades to POST /grades.

Aim it at the ingress (compose: http://ingress:8080, kind/GKE: the Gateway),
so the 50/50 split between grpc-client and rest-api is exercised. Every Locust
option can be set on the command line or from the environment (LOCUST_*):

    LOCUST_HOST=http://localhost:8080  target (ingress / gateway)
    LOCUST_HEADLESS=true               no web UI, print stats, exit at the end
    LOCUST_USERS=20                    concurrent simulated users
    LOCUST_SPAWN_RATE=5                users started per second
    LOCUST_RUN_TIME=2m                 stop after this long (headless)

Each request is recorded under the route that answered it (the services'
X-Route header, or the compose ingress's X-Grades-Upstream when a route never
answered), so Locust's own table, CSV and HTML report have one row per route
plus the aggregated total, failures included:

    POST /grades [grpc]   POST /grades [rest]   POST /grades [unknown route]

Options of this file (flags, or the environment; the master passes them on
to its workers):

    --rate-per-user / LOADGEN_RATE_PER_USER   constant-rate mode: each user sends
        this many requests per second (Locust's constant_throughput pacing),
        so the offered load is users x rate; 0 (default) = think time instead
    --wait-min / LOADGEN_WAIT_MIN, --wait-max / LOADGEN_WAIT_MAX
        think time between a user's requests, seconds (default 0.1..0.5)

The INGEST_TOKEN variable: when the routes require a token (docs/security.md), every request
carries it as Authorization: Bearer <token>.

Payload knobs (grades_payload.py): LOADGEN_STUDENTS, LOADGEN_STRING_RATIO,
LOADGEN_IDEMPOTENCY_RATIO, LOADGEN_YEAR_MIN, LOADGEN_YEAR_MAX.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from time import perf_counter

import gevent
from locust import FastHttpUser, events, task
from locust.runners import WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from grades_payload import PayloadConfig, idempotency_key, random_grade, route_of

CONFIG = PayloadConfig.from_env()
ACCEPTED = {200, 201}
REQUEST_NAME = "POST /grades"
AUTHORIZATION = f"Bearer {os.environ['INGEST_TOKEN']}" if os.environ.get("INGEST_TOKEN") else None


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    # Checked when parsed (flags and environment alike): a bad value stops Locust with a usage message.
    parser.add_argument(
        "--rate-per-user",
        type=_non_negative,
        default=0.0,
        env_var="LOADGEN_RATE_PER_USER",
        help="Constant-rate mode: requests per second per user (0 = think time, see --wait-min/max)",
    )
    parser.add_argument(
        "--wait-min",
        type=_non_negative,
        default=0.1,
        env_var="LOADGEN_WAIT_MIN",
        help="Shortest think time between a user's requests, seconds",
    )
    parser.add_argument(
        "--wait-max",
        type=_non_negative,
        default=0.5,
        env_var="LOADGEN_WAIT_MAX",
        help="Longest think time between a user's requests, seconds (at least --wait-min)",
    )


def request_name(route: str) -> str:
    return f"{REQUEST_NAME} [{route}]"


class GradeSubmitter(FastHttpUser):
    def on_start(self) -> None:
        self.rng = random.Random()

    def wait_time(self) -> float:
        # Read on every call (not fixed at import): in distributed mode the
        # workers receive the master's options only when a run starts.
        options = self.environment.parsed_options
        rate = getattr(options, "rate_per_user", 0.0) or 0.0
        if rate > 0:
            # constant_throughput's pacing: the wait makes up the rest of 1/rate.
            run_time = perf_counter() - self._cp_last_run - self._cp_last_wait_time
            self._cp_last_wait_time = max(0.0, 1.0 / rate - run_time)
            self._cp_last_run = perf_counter()
            return self._cp_last_wait_time
        low = getattr(options, "wait_min", 0.1)
        high = max(low, getattr(options, "wait_max", 0.5))
        return low + self.rng.random() * (high - low)

    @task
    def post_grade(self) -> None:
        grade = random_grade(self.rng, CONFIG)
        headers = {"Content-Type": "application/json"}
        if AUTHORIZATION is not None:
            headers["Authorization"] = AUTHORIZATION
        key = idempotency_key(self.rng, CONFIG)
        if key is not None:
            headers["Idempotency-Key"] = key
        with self.client.post(
            "/grades", data=json.dumps(grade), headers=headers, name=REQUEST_NAME, catch_response=True
        ) as response:
            # Renaming before the context exits files the request, success or
            # failure, under its route's row.
            response.request_meta["name"] = request_name(route_of(response.headers))
            if response.status_code in ACCEPTED:
                response.success()
            elif response.status_code == 0:
                response.failure(f"no answer: {response.error!r}")
            else:
                body = (response.text or "")[:200]
                response.failure(f"HTTP {response.status_code}: {body}")


_environments = []


@events.init.add_listener
def _remember_environment(environment, **_kwargs) -> None:
    # A worker's figures are merged into the master's: the master reports.
    if not isinstance(environment.runner, WorkerRunner):
        _environments.append(environment)


@events.quit.add_listener
def _final_report(**_kwargs) -> None:
    # At quit, not test_stop: a master receives its workers' last figures after the test stops.
    for environment in _environments:
        _print_route_split(environment)
        if environment.parsed_options is not None and environment.parsed_options.csv_prefix:
            # Locust's CSV writer snapshots the stats once a second and closes
            # its files right after this event, so the CSV could miss the run's
            # last second (its totals then disagree with the printed table and
            # the HTML report). One more writer cycle, with the users stopped,
            # writes the final figures.
            gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)


def _print_route_split(environment) -> None:
    prefix = REQUEST_NAME + " ["
    rows = {
        name[len(prefix) : -1]: entry
        for (name, _method), entry in environment.stats.entries.items()
        if name.startswith(prefix)
    }
    total = sum(entry.num_requests for entry in rows.values())
    if not total:
        print("route split: no requests")
        return
    parts = ", ".join(
        f"{route}={entry.num_requests} ({100.0 * entry.num_requests / total:.1f}%, {entry.num_failures} failed)"
        for route, entry in sorted(rows.items())
    )
    print(f"route split over {total} requests: {parts}")
