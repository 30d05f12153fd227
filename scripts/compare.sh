#!/usr/bin/env bash
# `just compare`: the two routes under an open-loop load (fixed Poisson arrival rate, latency from
# each request's intended send time), one replica each, each on a fresh database. The rate rises
# step by step until p99 passes the SLO, errors appear or the route falls behind the offered rate:
# the last step that held is the route's maximum sustainable throughput; one more run at half of it
# gives its latency under comfortable load. Writes its section of BENCHMARKS.md, docs/compare.svg and
# docs/compare.json (the summary the dashboard shows as the published comparison, via realtime's
# GET /api/compare); on a MySQL server (MYSQL_SERVER_URL), the `compare-mysql` section,
# docs/compare-mysql.svg and docs/compare-mysql.json instead, beside MariaDB's.
#   COMPARE_SECONDS (8) measured seconds per step   COMPARE_SLO_MS (20) p99 SLO
#   COMPARE_START (2000) first rate   COMPARE_FACTOR (1.25)   BENCH_STUDENTS (500)
#   MYSQL_SERVER_URL (mysql://root@127.0.0.1:3306)  REDIS_URL (redis://127.0.0.1:6379)
#   COMPARE_DB (grades_compare)  COMPARE_REDIS_PREFIX (compare:)  COMPARE_PORT_BASE (8100: every port
#   of scripts/lib/services.txt shifted by 100), so a run can share a machine with other work
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/benchmark.sh

seconds=${COMPARE_SECONDS:-8}
slo=${COMPARE_SLO_MS:-20}
first_rate=${COMPARE_START:-2000}
factor=${COMPARE_FACTOR:-1.25}
students=${BENCH_STUDENTS:-500}
benchmark_start compare "${COMPARE_DB:-grades_compare}" "${COMPARE_REDIS_PREFIX:-compare:}" "${COMPARE_PORT_BASE:-8100}"
measured_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)

fresh_db() {
    sql_fresh_database "$db" "$bin/rest-api"
    redis_forget "$redis" "$prefix"
}

for route in rest grpc; do
    fresh_db
    mapfile -t services < <(route_services "$route")
    services_launch "$bin" "$out" "${services[@]}"
    services_wait_ready 60 "${services[@]}"
    echo "== $route"
    "$bin/grades-bench" step --url "$(route_url "$route")" --label "$route" --start "$first_rate" --factor "$factor" --slo-p99-ms "$slo" \
        --duration "$seconds" --warmup 2 --students "$students" --json "$out/$route.json"
    services_stop 10
done

# A MySQL server's figures go beside MariaDB's, under names of their own.
chart=docs/compare
[[ $BENCH_SERVER_VERSION == *MariaDB* ]] || chart=docs/compare-mysql
# docs/compare.svg and the summary the dashboard shows; BENCHMARKS.md's tables are bench_report.py's
# (`grades-bench report` still requires --markdown: its own tables go nowhere).
"$bin/grades-bench" report "$out/rest.json" "$out/grpc.json" --markdown /dev/null --svg "$chart.svg" \
    --json "$chart.json" --measured-at "$measured_at" --machine "$(python3 scripts/bench_report.py machine)" \
    --command "just compare (COMPARE_SECONDS=$seconds COMPARE_SLO_MS=$slo COMPARE_START=$first_rate COMPARE_FACTOR=$factor BENCH_STUDENTS=$students)"
echo '{"routes": ["rest", "grpc"]}' >"$out/meta.json"
python3 scripts/bench_report.py compare "$out" BENCHMARKS.md
sql -e "DROP DATABASE IF EXISTS $db"
echo "wrote BENCHMARKS.md, $chart.svg and $chart.json ($out)"
