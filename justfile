# grades: task runner. `just` lists the recipes; README.md explains them.

import 'deploy.just'

mysql_url := env("MYSQL_URL", "mysql://root@127.0.0.1:3306/grades")
redis_url := env("REDIS_URL", "redis://127.0.0.1:6379")
test_mysql_url := env("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
test_redis_url := env("TEST_REDIS_URL", "redis://127.0.0.1:6379")
# The images of the containers the tests start: the environment's, else those `just base-images`
# recorded in .env, else (empty) testkit's defaults, production's mysql:8.4 and redis:7.4-alpine.
test_mysql_image := env("TEST_MYSQL_IMAGE", `sed -n 's/^TEST_MYSQL_IMAGE=//p' .env 2>/dev/null | tail -n 1`)
test_redis_image := env("TEST_REDIS_IMAGE", `sed -n 's/^TEST_REDIS_IMAGE=//p' .env 2>/dev/null | tail -n 1`)
# Virtual environments of the Python-packaged tools (.ci/run keeps them between its runs).
lint_venv := env("LINT_VENV", ".venv-lint")
observability_venv := env("OBSERVABILITY_VENV", ".venv-observability")
schemathesis_venv := env("SCHEMATHESIS_VENV", ".venv-schemathesis")

# List the recipes.
default:
    @just --list

# Everything CI runs: format and lint, Rust tests (MariaDB, then MySQL in containers), schemathesis against rest-api from docs/openapi.json, dashboard unit tests, the scripts' tests, the alerts' unit tests, the Grafana panels and alerts against the real services, browser end-to-end test, deployment checks, the fault suite's short form, the compose sandbox for real.
test: lint test-rust fuzz-rest test-frontend test-scripts test-alerts test-observability test-e2e check-deploy chaos-short smoke

# Rust tests twice: every test against the MariaDB/Redis of TEST_MYSQL_URL / TEST_REDIS_URL, then the database tests against MySQL and Redis containers (test-rust-containers).
test-rust *args:
    TEST_MYSQL_URL={{ test_mysql_url }} TEST_REDIS_URL={{ test_redis_url }} cargo nextest run --workspace --no-fail-fast {{ args }}
    just test-rust-containers {{ args }}

# The tests of every crate that uses a database, against containers they start themselves (no TEST_*_URL: a MySQL of TEST_MYSQL_IMAGE and a Redis of TEST_REDIS_IMAGE, one pair for the run, removed when it ends); fails if a test container is left behind.
test-rust-containers *args:
    env -u TEST_MYSQL_URL -u TEST_REDIS_URL TEST_MYSQL_IMAGE={{ test_mysql_image }} TEST_REDIS_IMAGE={{ test_redis_image }} \
        cargo nextest run --workspace --no-fail-fast -E 'rdeps(grades-testkit)' {{ args }}
    bash scripts/test-containers-left.sh

# Dashboard unit tests (Vitest).
test-frontend:
    cd frontend && (test -d node_modules || npm ci --no-audit --no-fund) && npm test

# Tests of the scripts' own code (unittest): the launcher description read alike by shell and Python, the report writer.
test-scripts:
    cd scripts && python3 -m unittest discover --start-directory tests --top-level-directory .

# Prometheus files: promtool checks the scrape configs and the rules, and runs the alerts' unit tests (observability/prometheus/alerts.test.yml); Debian's promtool (scripts/prometheus-debian.sh).
test-alerts:
    #!/usr/bin/env bash
    set -euo pipefail
    bin=$(bash scripts/prometheus-debian.sh)
    "$bin/promtool" check config --syntax-only observability/prometheus/prometheus.yml kustomize/components/observability/prometheus.yml
    "$bin/promtool" check rules observability/prometheus/alerts.yml
    "$bin/promtool" test rules observability/prometheus/alerts.test.yml

# Every Grafana panel and every alert has data: a real Prometheus (Debian's) scrapes the real services while grades flow through both routes, each query is evaluated through its HTTP API; and the files `just observability` writes are current.
test-observability: _observability-venv
    cargo build --bins
    {{ observability_venv }}/bin/python observability/generate.py --check
    PROMETHEUS_BIN=$(bash scripts/prometheus-debian.sh) TEST_MYSQL_URL={{ test_mysql_url }} TEST_REDIS_URL={{ test_redis_url }} \
        {{ observability_venv }}/bin/python -m unittest discover --start-directory observability/tests --top-level-directory observability -v

# Write the Grafana dashboard (observability/dashboard.py, through Grafana's Foundation SDK) and the copies kustomize needs (kind component, GKE Rules).
observability: _observability-venv
    {{ observability_venv }}/bin/python observability/generate.py

# Grafana's Foundation SDK and PyYAML, pinned in observability/requirements.txt, in .venv-observability (OBSERVABILITY_VENV).
_observability-venv:
    bash -c 'source scripts/lib/venv.sh && venv_sync {{ observability_venv }} observability/requirements.txt observability'

# Browser end-to-end test: real services + built dashboard in headless Chromium.
test-e2e:
    cargo build --bins
    cd frontend && (test -d node_modules || npm ci --no-audit --no-fund) && npm run build
    cd frontend && MYSQL_URL={{ test_mysql_url }}/grades_e2e REDIS_URL={{ test_redis_url }} npm run e2e

# Refresh docs/dashboard.png from the end-to-end run.
screenshot:
    cargo build --bins
    cd frontend && (test -d node_modules || npm ci --no-audit --no-fund) && npm run build
    cd frontend && MYSQL_URL={{ test_mysql_url }}/grades_e2e REDIS_URL={{ test_redis_url }} npm run screenshot

# Run every service natively (no Docker) with interleaved logs; Ctrl-C stops them all.
dev:
    MYSQL_URL={{ mysql_url }} REDIS_URL={{ redis_url }} bash scripts/dev.sh

# Post one grade to a route: `just post rest` or `just post grpc` (with INGEST_TOKEN set, it sends the token).
post route="rest" carnet="201900123" curso="SO1" nota="90":
    curl -sS -i -X POST http://127.0.0.1:{{ if route == "grpc" { "8001" } else { "8002" } }}/grades \
        -H 'content-type: application/json' ${INGEST_TOKEN:+-H "Authorization: Bearer $INGEST_TOKEN"} \
        -d '{"carnet": {{ carnet }}, "nombre": "Alumno {{ carnet }}", "curso": "{{ curso }}", "nota": {{ nota }}, "semestre": "2S", "year": 2023}'

# Rebuild the Redis live state from MySQL's summary tables now (the services also do it on their own within seconds).
reconcile:
    MYSQL_URL={{ mysql_url }} REDIS_URL={{ redis_url }} cargo run -q --bin rest-api -- reconcile

# Load N realistic grades (with their summaries and the live state) into MYSQL_URL: `just seed 1000000` (options: `grades-bench seed --help`). Refuses a non-empty database unless `--append`.
seed count *args:
    cargo build --release -q --bin grades-bench
    MYSQL_URL={{ mysql_url }} REDIS_URL={{ redis_url }} target/release/grades-bench seed {{ count }} {{ args }}

# Regenerate frontend/src/lib/wire.ts (the dashboard's types) from the Rust types realtime sends; `just test` fails while it is stale.
wire-types:
    UPDATE_WIRE_TYPES=1 cargo test -q -p realtime --lib wire

# Regenerate docs/openapi.json (the HTTP API of both ingestion routes, from the Rust types in crates/front/src/openapi.rs); `just test` fails while it is stale.
openapi:
    UPDATE_OPENAPI=1 cargo test -q -p grades-front --lib openapi

# schemathesis (pinned in scripts/fuzz-rest-requirements.txt) against a rest-api started natively on a fresh database, from docs/openapi.json: no 5xx, every status documented, answers as documented, invalid requests refused (about 10 s). Part of `just test`.
fuzz-rest: _schemathesis-venv
    cargo build --bin rest-api
    MYSQL_SERVER_URL={{ test_mysql_url }} REDIS_URL={{ test_redis_url }} SCHEMATHESIS_VENV={{ schemathesis_venv }} \
        FUZZ_REST_BIN=${CARGO_TARGET_DIR:-target}/debug bash scripts/fuzz-rest.sh

# schemathesis, pinned in scripts/fuzz-rest-requirements.txt, in .venv-schemathesis (SCHEMATHESIS_VENV).
_schemathesis-venv:
    bash -c 'source scripts/lib/venv.sh && venv_sync {{ schemathesis_venv }} scripts/fuzz-rest-requirements.txt schemathesis'

# Apply migrations to MYSQL_URL and exit.
migrate:
    MYSQL_URL={{ mysql_url }} cargo run -q --bin rest-api -- migrate

# Every language the repository holds, format and lint, plus the dependency policy (just deny): part of `just test`.
lint: deny lint-rust lint-python lint-shell lint-frontend

# Rust: format (rustfmt.toml) and clippy with warnings as errors.
lint-rust:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Python: ruff's lint and format check (ruff.toml) over every Python file of the tree.
lint-python: _lint-venv
    {{ lint_venv }}/bin/ruff check
    {{ lint_venv }}/bin/ruff format --check

# Shell: ShellCheck (.shellcheckrc) over every tracked shell script, with or without the .sh ending.
lint-shell: _lint-venv
    #!/usr/bin/env bash
    set -euo pipefail
    # A script without the ending is known by its first line (#!/usr/bin/env bash, #!/bin/sh, ...).
    git ls-files -z | while IFS= read -r -d '' file; do
        [[ -f $file ]] || continue
        if [[ $file == *.sh ]] || head -n 1 "$file" | grep -qE '^#!.*[/ ](ba|da|k)?sh( |$)'; then printf '%s\0' "$file"; fi
    done | xargs -0 {{ lint_venv }}/bin/shellcheck

# The dashboard and the Node programs beside it: ESLint (frontend/eslint.config.js).
lint-frontend:
    cd frontend && (test -d node_modules || npm ci --no-audit --no-fund) && npm run lint

# The Python-packaged linters (ruff, ShellCheck) pinned in scripts/lint-requirements.txt, in .venv-lint (LINT_VENV).
_lint-venv:
    bash -c 'source scripts/lib/venv.sh && venv_sync {{ lint_venv }} scripts/lint-requirements.txt lint'

# Dependency policy (deny.toml): licenses, banned crates, crates.io only. Offline; part of `just lint`.
deny:
    cargo deny --log-level error check licenses bans sources

# Known vulnerabilities (RustSec advisory database, fetched from GitHub: needs network). Not part of CI here (docs/security.md).
deny-advisories:
    cargo deny check advisories

# The database's batched-insert rate and each route against it (wrk, 8/64/256 connections): BENCHMARKS.md. Not part of CI.
bench:
    bash scripts/bench.sh

# Open-loop route comparison (grades-bench: maximum sustainable throughput, latency curves, CPU per grade): BENCHMARKS.md. Not part of CI.
compare:
    bash scripts/compare.sh

# What each route's protocols cost on their own: both routes (grpc over 1 and N channels and a connection per request) with DISCARD_GRADES=true at one offered rate, CPU µs per grade per process: BENCHMARKS.md. Not part of CI.
protocol:
    bash scripts/protocol.sh

# Does an independent generator agree? grades-bench and oha at the same open-loop rates on both routes, and oha's closed loop: BENCHMARKS.md. Not part of CI.
crosscheck:
    bash scripts/crosscheck.sh

# CPU flamegraphs of every service of both routes at one offered rate (perf + inferno): docs/flamegraphs/. Not part of CI.
flamegraphs:
    bash scripts/flamegraphs.sh

# Ingest-to-browser latency (sampled and all_grades feeds) at 1,000 and 2,000 grades/s, and realtime's CPU/RSS with 100 clients idle and at 5,000 grades/s offered: BENCHMARKS.md. Not part of CI.
live:
    bash scripts/live.sh

# Ingest, Redis loss and every dashboard endpoint (one reader, 16 and 64 at once) at scale, against a seeded database (SCALE_DB, default grades_10m: `MYSQL_URL=mysql://root@127.0.0.1:3306/grades_10m just seed 10000000` first) and an empty one, on MYSQL_SERVER_URL; at 100 M: `scripts/scale-server.sh seed mariadb 100000000`, then `MYSQL_SERVER_URL=$(scripts/scale-server.sh url mariadb) SCALE_DB=grades_100m just scale` (BENCHMARKS.md). Not part of CI.
scale:
    bash scripts/scale.sh

# Fuzz NewGrade's JSON parsing and grpc-server's request validation (cargo-fuzz, libFuzzer): `just fuzz` runs each target for 60 s, `just fuzz grpc_grade 300` one; installs cargo-fuzz if missing. Not part of CI.
fuzz target="all" seconds="60":
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    cd fuzz && for t in {{ if target == "all" { "new_grade_json grpc_grade" } else { target } }}; do mkdir -p corpus/$t && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none -O $t corpus/$t seeds/$t -- -max_total_time={{ seconds }} -print_final_stats=1 || exit 1; done

# Fault suite: private MariaDB/Redis, load through both routes with an Idempotency-Key ledger, kills, restarts, SIGTERMs, cold start, slow clients; writes docs/reliability.md. Not part of CI.
chaos:
    cargo build --release --bins
    python3 scripts/chaos.py --bin target/release --write docs/reliability.md

# The fault suite's short form (debug binaries, shorter phases): prints the table, fails on a lost or duplicated grade or any broken invariant. Part of `just test`.
chaos-short:
    cargo build --bins
    python3 scripts/chaos.py --short --bin target/debug
