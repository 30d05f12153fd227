"""Locust traffic generator for grades: random grades to POST /grades.

Aim it at the ingress (compose: http://ingress:8080, kind/GKE: the Gateway),
so the 50/50 split between grpc-client and rest-api is exercised. Every Locust
option can be set from the environment (Locust reads LOCUST_*):

    LOCUST_HOST=http://localhost:8080  target (ingress / gateway)
    LOCUST_HEADLESS=true               no web UI, print stats, exit at the end
    LOCUST_USERS=20                    concurrent simulated users
    LOCUST_SPAWN_RATE=5                users started per second
    LOCUST_RUN_TIME=2m                 stop after this long (headless)

Payload knobs: LOADGEN_STUDENTS, LOADGEN_STRING_RATIO, LOADGEN_IDEMPOTENCY_RATIO,
LOADGEN_YEAR_MIN, LOADGEN_YEAR_MAX, LOADGEN_WAIT_MIN/MAX (seconds between
requests per user). At the end the share of requests served by each route
(X-Route header) is printed, which should be close to 50/50.
"""
from __future__ import annotations

import json
import os
import random
import threading
from collections import Counter

from locust import HttpUser, between, events, task

from grades_payload import PayloadConfig, idempotency_key, random_grade

CONFIG = PayloadConfig.from_env()
WAIT_MIN = float(os.environ.get("LOADGEN_WAIT_MIN", "0.1"))
WAIT_MAX = float(os.environ.get("LOADGEN_WAIT_MAX", "0.5"))
ACCEPTED = {200, 201}

_routes: Counter[str] = Counter()
_routes_lock = threading.Lock()


class GradeSubmitter(HttpUser):
    wait_time = between(WAIT_MIN, max(WAIT_MIN, WAIT_MAX))

    def on_start(self) -> None:
        self.rng = random.Random()

    @task
    def post_grade(self) -> None:
        grade = random_grade(self.rng, CONFIG)
        headers = {"Content-Type": "application/json"}
        key = idempotency_key(self.rng, CONFIG)
        if key is not None:
            headers["Idempotency-Key"] = key
        with self.client.post(
            "/grades", data=json.dumps(grade), headers=headers, name="POST /grades", catch_response=True
        ) as response:
            if response.status_code in ACCEPTED:
                route = response.headers.get("X-Route", "unknown")
                with _routes_lock:
                    _routes[route] += 1
                response.success()
            else:
                body = (response.text or "")[:200]
                response.failure(f"HTTP {response.status_code}: {body}")


@events.test_stop.add_listener
def _print_route_split(environment, **_kwargs) -> None:
    with _routes_lock:
        total = sum(_routes.values())
        if not total:
            print("route split: no successful requests")
            return
        parts = ", ".join(f"{route}={count} ({100.0 * count / total:.1f}%)" for route, count in sorted(_routes.items()))
    print(f"route split over {total} stored grades: {parts}")
