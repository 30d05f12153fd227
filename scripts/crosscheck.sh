#!/usr/bin/env bash
# `just crosscheck`: does an independent generator agree with grades-bench? Both routes take the
# same open-loop rates from grades-bench (a Poisson schedule per connection, one request in flight
# on each: a request whose turn comes while its connection is busy waits for it) and from oha
# (`-q RATE --latency-correction`: evenly spaced arrivals handed to whichever of its connections
# is free), both timing each request from its intended send time, with the same connection count;
# then each route at oha's closed loop (CROSSCHECK_CLOSED connections, no rate). The generators'
# own CPU is measured like the services', so a limit of theirs shows. Writes the `crosscheck` section of
# BENCHMARKS.md (bench_report.py).
#   CROSSCHECK_RATES ("1000 3000 6000 8000 10000") grades/s, each offered to both routes (a rate
#   past a route's maximum shows how each generator reports an overload)
#   CROSSCHECK_SECONDS (10) measured seconds per run   CROSSCHECK_CONNECTIONS (256, grades-bench's default)
#   CROSSCHECK_CLOSED (64) connections of the closed-loop run
#   MYSQL_SERVER_URL, REDIS_URL, CROSSCHECK_PORT_BASE (8500) as in compare.sh; BENCH_BIN as in protocol.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/benchmark.sh

read -r -a rates <<<"${CROSSCHECK_RATES:-1000 3000 6000 8000 10000}"
seconds=${CROSSCHECK_SECONDS:-10}
connections=${CROSSCHECK_CONNECTIONS:-256}
closed=${CROSSCHECK_CLOSED:-64}
benchmark_start crosscheck grades_crosscheck crosscheck: "${CROSSCHECK_PORT_BASE:-8500}" "${BENCH_BIN:-}"
need_oha
# oha sends one body; grades-bench draws each grade, here from the same one student and year.
body='{"carnet": 201900123, "nombre": "Alumno 7", "curso": "SO1", "nota": 90, "semestre": "2S", "year": 2023}'

# The generators' own CPU, read like the services' (grades-bench's watch covers its measured window).
export BENCH_WATCH=$BENCH_WATCH,grades-bench,oha

oha_run() { # out_file url [oha options]: oha's JSON, and the processes' CPU over the run beside it
    local file=$1 url=$2
    shift 2
    "$bin/grades-bench" watch --seconds "$seconds" >"${file%.json}.watch.json" &
    local watcher=$!
    oha --no-tui --output-format json -z "${seconds}s" -m POST -H 'content-type: application/json' -d "$body" "$@" "$url" >"$file"
    wait "$watcher"
}

for route in rest grpc; do
    sql_fresh_database "$db" "$bin/rest-api"
    mapfile -t services < <(route_services "$route")
    services_launch "$bin" "$out" "${services[@]}"
    services_wait_ready 60 "${services[@]}"
    url=$(route_url "$route")
    for rate in "${rates[@]}"; do
        echo "== $route at $rate grades/s"
        "$bin/grades-bench" run --url "$url" --rate "$rate" --duration "$seconds" --warmup 2 --connections "$connections" \
            --students 1 --year-min 2023 --year-max 2023 --string-ratio 0 --idempotency-ratio 0 \
            --json "$out/$route-$rate-grades-bench.json" >/dev/null
        oha_run "$out/$route-$rate-oha.json" "$url" -q "$rate" --latency-correction -c "$connections"
    done
    echo "== $route, closed loop at $closed connections"
    oha_run "$out/$route-closed-oha.json" "$url" -c "$closed"
    services_stop 10
done

python3 - "$out/meta.json" "$seconds" "$connections" "$closed" "${rates[@]}" <<'PY'
import json, sys
path, seconds, connections, closed, *rates = sys.argv[1:]
meta = {"seconds": int(seconds), "connections": int(connections), "closed": int(closed), "rates": [int(r) for r in rates]}
json.dump(meta, open(path, "w"))
PY
python3 scripts/bench_report.py crosscheck "$out" BENCHMARKS.md
sql -e "DROP DATABASE IF EXISTS $db"
echo "wrote the crosscheck section of BENCHMARKS.md ($out)"
