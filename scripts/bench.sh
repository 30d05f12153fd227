#!/usr/bin/env bash
# `just bench`: the database's own batched-insert rate into `grades`, and each route against it
# (closed loop, wrk, at 8/64/256 connections), on this machine. Writes its section of
# BENCHMARKS.md (ratios first). Loopback only; every run is bounded in time.
#   BENCH_SECONDS (10)   seconds per measurement
#   BENCH_STUDENTS (500) student pool of the load (a wide pool of 50,000 is measured once too)
#   MYSQL_SERVER_URL (mysql://root@127.0.0.1:3306)  REDIS_URL (redis://127.0.0.1:6379)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/benchmark.sh

seconds=${BENCH_SECONDS:-10}
students=${BENCH_STUDENTS:-500}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
benchmark_start bench grades_bench bench: 8100
results=$out/bench.jsonl
: >"$results"
record() { echo "$1" >>"$results"; }

fresh_db() {
    sql_fresh_database "$db" "$bin/rest-api"
    redis_forget "$redis" "$prefix"
}

# ---------------------------------------------------------------- the database ceiling
# 256-row INSERT transactions into the migrated `grades` table, generated beforehand.
python3 scripts/bench_sql.py 1 50 256 >"$out/warmup.sql"
python3 scripts/bench_sql.py 12801 600 256 >"$out/one.sql"
for c in 0 1 2 3; do python3 scripts/bench_sql.py $((1000001 + c * 100000)) 150 256 >"$out/four-$c.sql"; done
python3 scripts/bench_sql.py 1 200 256 >"$out/cold.sql"

ceiling() { # label
    fresh_db
    sql "$db" <"$out/warmup.sql"
    local start end four_start four_end
    start=$(now); sql "$db" <"$out/one.sql"; end=$(now)
    four_start=$(now)
    for c in 0 1 2 3; do sql "$db" <"$out/four-$c.sql" & done
    wait
    four_end=$(now)
    record "{\"kind\": \"ceiling\", \"label\": \"$1\", \"one_client\": $(python3 -c "print(round(153600 / ($end - $start)))"), \"four_clients\": $(python3 -c "print(round(153600 / ($four_end - $four_start)))")}"
}

# How the previous `just bench` measured: 200 transactions on a freshly created table, timed with
# the client's start-up; kept to explain the difference.
fresh_db
start=$(now); sql "$db" <"$out/cold.sql"; end=$(now)
record "{\"kind\": \"cold_ceiling\", \"rows_per_second\": $(python3 -c "print(round(51200 / ($end - $start)))")}"

# ---------------------------------------------------------------- the routes

load() { # route url metrics_url connections pool: one wrk run, its raw figures recorded in bench.jsonl
    local route=$1 url=$2 metrics=$3 connections=$4 pool=$5
    local run=$out/$route-c$connections-pool$pool start caught=null
    local sum0 count0 sum1 count1 lag_terms lag_students
    sum0=$(service_metric "$metrics" grades_writer_batch_grades_sum); count0=$(service_metric "$metrics" grades_writer_batch_grades_count)
    "$bin/grades-bench" watch --seconds "$seconds" >"$run.watch.json" &
    local watcher=$!
    POOL=$pool wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s bench/post-grade.lua --latency "$url" >"$run.wrk.txt"
    wait "$watcher"
    sum1=$(service_metric "$metrics" grades_writer_batch_grades_sum); count1=$(service_metric "$metrics" grades_writer_batch_grades_count)
    lag_terms=$(service_metric "$metrics" 'grades_projector_lag_ids{projection="terms"}')
    lag_students=$(service_metric "$metrics" 'grades_projector_lag_ids{projection="students"}')
    # Until the projector has folded everything the load committed.
    start=$(now)
    for _ in $(seq 1 1200); do
        if [[ "$(service_metric "$metrics" 'grades_projector_lag_ids{projection="terms"}')" == 0 && "$(service_metric "$metrics" 'grades_projector_lag_ids{projection="students"}')" == 0 ]]; then
            caught=$(seconds_since "$start"); break
        fi
        sleep 0.1
    done
    # bench_report.py reads wrk's output and the watch, and makes the row of this run from them.
    record "{\"kind\": \"route\", \"route\": \"$route\", \"connections\": $connections, \"students\": $pool, \"caught_up_seconds\": $caught, \"wrk\": \"$run.wrk.txt\", \"watch\": \"$run.watch.json\", \"metrics\": {\"grades_writer_batch_grades_sum\": [\"$sum0\", \"$sum1\"], \"grades_writer_batch_grades_count\": [\"$count0\", \"$count1\"], \"lag_terms\": [\"$lag_terms\"], \"lag_students\": [\"$lag_students\"]}}"
    echo "$route c=$connections pool=$pool: $(grep 'Requests/sec' "$run.wrk.txt")"
}

start_route() { # route: its services on a fresh database, ready
    local services
    mapfile -t services < <(route_services "$1")
    services_launch "$bin" "$out" "${services[@]}"
    services_wait_ready 60 "${services[@]}"
}

for route in rest grpc; do
    ceiling "before $route"
    fresh_db
    start_route "$route"
    url=$(route_url "$route")
    # The writer's metrics: the route's first service is the one that stores (grpc-server, rest-api).
    metrics=$(service_url "$(route_services "$route" | head -n 1)")
    POOL=$students wrk -t2 -c64 -d3s -s bench/post-grade.lua "$url" >/dev/null # warm-up, not measured
    for connections in 8 64 256; do
        load "$route" "$url" "$metrics" "$connections" "$students"
    done
    services_stop 10
done
ceiling "after both routes"

# The projector's worst case: a pool so wide that a student's grades almost never share a fold.
fresh_db
start_route rest
load rest "$(route_url rest)" "$(service_url rest-api)" 64 50000
services_stop 10

python3 scripts/bench_report.py bench "$results" BENCHMARKS.md
sql -e "DROP DATABASE IF EXISTS $db"
echo "wrote BENCHMARKS.md ($results)"
