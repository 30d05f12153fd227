"""Random grade payloads for POST /grades (docs/CONTRACTS.md, "Ingestion"),
and the route an answer came from.

Kept free of Locust imports so deploy-tests can check it without a load run.

Body: {"carnet", "nombre", "curso", "nota", "semestre", "year"}.
Like the original course generators, a share of requests sends the numeric
fields as numeric strings ("carnet": "201900123", "nota": "87"), which both
routes must accept.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

COURSES = ("SO1", "BD1", "LFP", "SA", "AYD1")
SEMESTERS = ("1S", "2S")
NUMERIC_FIELDS = ("carnet", "nota", "year")


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class PayloadConfig:
    """Tunable from the environment (LOADGEN_*), with sensible defaults."""

    students: int = 500  # size of the student pool (distinct carnets)
    first_carnet: int = 201900000
    year_min: int = 2019
    year_max: int = 2025
    string_ratio: float = 0.3  # share of requests with numbers as strings
    idempotency_ratio: float = 0.1  # share of requests with an Idempotency-Key

    @classmethod
    def from_env(cls) -> PayloadConfig:
        d = cls()
        cfg = cls(
            students=max(1, _env_int("LOADGEN_STUDENTS", d.students)),
            first_carnet=_env_int("LOADGEN_FIRST_CARNET", d.first_carnet),
            year_min=_env_int("LOADGEN_YEAR_MIN", d.year_min),
            year_max=_env_int("LOADGEN_YEAR_MAX", d.year_max),
            string_ratio=min(1.0, max(0.0, _env_float("LOADGEN_STRING_RATIO", d.string_ratio))),
            idempotency_ratio=min(1.0, max(0.0, _env_float("LOADGEN_IDEMPOTENCY_RATIO", d.idempotency_ratio))),
        )
        if cfg.year_max < cfg.year_min:
            raise ValueError("LOADGEN_YEAR_MAX must be >= LOADGEN_YEAR_MIN")
        return cfg


def random_grade(rng: random.Random, cfg: PayloadConfig = PayloadConfig()) -> dict:
    """One valid grade; a student's name is stable for its carnet."""
    index = rng.randrange(cfg.students)
    grade: dict = {
        "carnet": cfg.first_carnet + index,
        "nombre": f"Alumno {index + 1}",
        "curso": rng.choice(COURSES),
        "nota": rng.randint(0, 100),
        "semestre": rng.choice(SEMESTERS),
        "year": rng.randint(cfg.year_min, cfg.year_max),
    }
    if rng.random() < cfg.string_ratio:
        for field in NUMERIC_FIELDS:
            grade[field] = str(grade[field])
    return grade


def idempotency_key(rng: random.Random, cfg: PayloadConfig = PayloadConfig()) -> str | None:
    """An Idempotency-Key (visible ASCII, <= 128 chars) for a share of requests."""
    if rng.random() < cfg.idempotency_ratio:
        return f"loadgen-{rng.getrandbits(64):016x}"
    return None


UNKNOWN_ROUTE = "unknown route"
# The compose ingress (docker/ingress/nginx.conf) names the upstream it chose
# even when that route never answered (its 502/504 carry no X-Route).
INGRESS_UPSTREAMS = {"grpc_client": "grpc", "rest_api": "rest"}


def route_of(headers) -> str:
    """The route that answered (X-Route), else the one the ingress chose, else UNKNOWN_ROUTE.

    `headers`: any case-insensitive mapping with .get, or None (no answer at all).
    """
    if headers:
        route = headers.get("X-Route")
        if route:
            return route
        upstream = headers.get("X-Grades-Upstream")
        if upstream in INGRESS_UPSTREAMS:
            return INGRESS_UPSTREAMS[upstream]
    return UNKNOWN_ROUTE
