#!/usr/bin/env bash
# `just compare`: the two routes under an open-loop load (fixed Poisson arrival rate, latency from
# each request's intended send time), one replica each, each on a fresh database. The rate rises
# step by step until p99 passes the SLO, errors appear or the route falls behind the offered rate:
# the last step that held is the route's maximum sustainable throughput; one more run at half of it
# gives its latency under comfortable load. Writes its section of BENCHMARKS.md, docs/compare.svg and
# docs/compare.json (the summary the dashboard shows as the published comparison, via realtime's
# GET /api/compare).
#   COMPARE_SECONDS (8) measured seconds per step   COMPARE_SLO_MS (20) p99 SLO
#   COMPARE_START (2000) first rate   COMPARE_FACTOR (1.25)   BENCH_STUDENTS (500)
#   MYSQL_SERVER_URL (mysql://root@127.0.0.1:3306)  REDIS_URL (redis://127.0.0.1:6379)
#   COMPARE_DB (grades_compare)  COMPARE_REDIS_PREFIX (compare:)  COMPARE_PORT_BASE (8100: rest-api
#   +2, grpc-client +1, grpc-server +11 and gRPC +12), so a run can share a machine with other work
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
source scripts/lib/mysql.sh

seconds=${COMPARE_SECONDS:-8}
slo=${COMPARE_SLO_MS:-20}
first_rate=${COMPARE_START:-2000}
factor=${COMPARE_FACTOR:-1.25}
students=${BENCH_STUDENTS:-500}
server=${MYSQL_SERVER_URL:-mysql://root@127.0.0.1:3306}
redis=${REDIS_URL:-redis://127.0.0.1:6379}
db=${COMPARE_DB:-grades_compare}
prefix=${COMPARE_REDIS_PREFIX:-compare:}
base=${COMPARE_PORT_BASE:-8100}
rest_port=$((base + 2)) client_port=$((base + 1)) server_port=$((base + 11)) grpc_port=$((base + 12))
out=target/compare
mkdir -p "$out"
sql_server "$server"

cargo build --release --bins
bin=target/release
measured_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
trap 'services_stop 10' EXIT
export REDIS_URL=$redis REDIS_PREFIX=$prefix LOG_FORMAT=json RUST_LOG=warn

fresh_db() {
    sql_fresh_database "$db" "$bin/rest-api"
    redis_forget "$redis" "$prefix"
}

for route in rest grpc; do
    fresh_db
    case $route in
        rest)
            service_start rest-api "$out/rest-api.log" env MYSQL_URL="$server/$db" PORT=$rest_port MIGRATE=false "$bin/rest-api"
            service_wait_ready "http://127.0.0.1:$rest_port/readyz"
            url=http://127.0.0.1:$rest_port/grades ;;
        grpc)
            service_start grpc-server "$out/grpc-server.log" env MYSQL_URL="$server/$db" PORT=$server_port GRPC_PORT=$grpc_port MIGRATE=false "$bin/grpc-server"
            service_start grpc-client "$out/grpc-client.log" env PORT=$client_port GRPC_SERVER_URL=http://127.0.0.1:$grpc_port "$bin/grpc-client"
            service_wait_ready "http://127.0.0.1:$client_port/readyz"
            url=http://127.0.0.1:$client_port/grades ;;
    esac
    echo "== $route"
    "$bin/grades-bench" step --url "$url" --label "$route" --start "$first_rate" --factor "$factor" --slo-p99-ms "$slo" \
        --duration "$seconds" --warmup 2 --students "$students" --json "$out/$route.json"
    services_stop 10
done

# The machine as BENCHMARKS.md describes it (bench_report.machine() starts with the date; measured_at has it).
machine=$(python3 -c 'import sys; sys.path.insert(0, "scripts"); import bench_report; print(bench_report.machine().split(", ", 1)[1])')
"$bin/grades-bench" report "$out/rest.json" "$out/grpc.json" --markdown "$out/compare.md" --svg docs/compare.svg \
    --json docs/compare.json --measured-at "$measured_at" --machine "$machine" \
    --command "just compare (COMPARE_SECONDS=$seconds COMPARE_SLO_MS=$slo COMPARE_START=$first_rate COMPARE_FACTOR=$factor BENCH_STUDENTS=$students)"
cat >>"$out/compare.md" <<'MD'

![p50 and p99 against offered rate, per route](docs/compare.svg)

**How coordinated omission is handled.** A closed-loop tool (wrk, Locust's default users) sends
the next request only when the previous one returns, so a server that stalls also stalls the
generator: the requests that *would* have been sent during the stall are never sent, and the
stall shows up as one slow request instead of hundreds. `grades-bench` is open loop: it draws a
Poisson schedule at the offered rate before sending anything and keeps to it whatever the server
does (new connections are opened while the others are busy), and it measures each request from
its *intended* send time. A stall therefore delays every request scheduled behind it, and the
percentiles show it, as wrk2 does. Latencies go into HDR histograms (1 µs to 60 s, 3 significant
digits). A step counts as held when p99 ≤ the SLO, errors ≤ 0.1 % and ≥ 95 % of the offered rate
was served; the generator shares the machine's cores with the services it measures.

Command: `just compare` (COMPARE_SECONDS, COMPARE_SLO_MS, COMPARE_START, COMPARE_FACTOR, BENCH_STUDENTS).
MD
python3 scripts/bench_report.py compare "$out/compare.md" BENCHMARKS.md
sql -e "DROP DATABASE IF EXISTS $db"
echo "wrote BENCHMARKS.md, docs/compare.svg and docs/compare.json ($out)"
