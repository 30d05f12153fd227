#!/usr/bin/env bash
# `just bench`: the database's own batched-insert rate into `grades`, and each route against it
# (closed loop, wrk, at 8/64/256 connections), on this machine. Writes its section of
# BENCHMARKS.md (ratios first). Loopback only; every run is bounded in time.
#   BENCH_SECONDS (10)   seconds per measurement
#   BENCH_STUDENTS (500) student pool of the load (a wide pool of 50,000 is measured once too)
#   MYSQL_SERVER_URL (mysql://root@127.0.0.1:3306)  REDIS_URL (redis://127.0.0.1:6379)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
source scripts/lib/mysql.sh

seconds=${BENCH_SECONDS:-10}
students=${BENCH_STUDENTS:-500}
server=${MYSQL_SERVER_URL:-mysql://root@127.0.0.1:3306}
redis=${REDIS_URL:-redis://127.0.0.1:6379}
db=grades_bench
out=target/bench
results=$out/bench.jsonl
mkdir -p "$out"
: >"$results"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
sql_server "$server"

cargo build --release --bins
bin=target/release
trap 'services_stop 10' EXIT
export REDIS_URL=$redis REDIS_PREFIX=bench: LOG_FORMAT=json RUST_LOG=warn
record() { echo "$1" >>"$results"; }
now() { date +%s.%N; }

fresh_db() {
    sql_fresh_database "$db" "$bin/rest-api"
    redis_forget "$redis" bench:
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

load() { # route url metrics_url connections pool
    local route=$1 url=$2 metrics=$3 connections=$4 pool=$5
    local sum0 count0 sum1 count1 lag_terms lag_students start caught
    sum0=$(service_metric "$metrics" grades_batch_size_sum); count0=$(service_metric "$metrics" grades_batch_size_count)
    "$bin/grades-bench" watch --seconds "$seconds" >"$out/watch.json" &
    local watcher=$!
    POOL=$pool wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s bench/post-grade.lua --latency "$url" >"$out/wrk.txt"
    wait "$watcher"
    sum1=$(service_metric "$metrics" grades_batch_size_sum); count1=$(service_metric "$metrics" grades_batch_size_count)
    lag_terms=$(service_metric "$metrics" 'grades_projector_lag_ids{projection="terms"}')
    lag_students=$(service_metric "$metrics" 'grades_projector_lag_ids{projection="students"}')
    # Until the projector has folded everything the load committed.
    start=$(now); caught=""
    for _ in $(seq 1 1200); do
        if [[ "$(service_metric "$metrics" 'grades_projector_lag_ids{projection="terms"}')" == 0 && "$(service_metric "$metrics" 'grades_projector_lag_ids{projection="students"}')" == 0 ]]; then
            caught=$(python3 -c "print(round($(now) - $start, 2))"); break
        fi
        sleep 0.1
    done
    python3 - "$route" "$connections" "$pool" "$sum0" "$count0" "$sum1" "$count1" "${lag_terms:-0}" "${lag_students:-0}" "${caught:-null}" "$out/wrk.txt" "$out/watch.json" >>"$results" <<'PY'
import json, re, sys
route, conns, pool, s0, c0, s1, c1, lag_t, lag_s, caught, wrk_path, watch_path = sys.argv[1:]
text = open(wrk_path).read()
def latency(label):
    m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m: return None
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
batches = float(c1) - float(c0)
print(json.dumps({
    "kind": "route", "route": route, "connections": int(conns), "students": int(pool),
    "grades_per_second": rps, "p50_ms": latency("50%"), "p99_ms": latency("99%"),
    "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    "socket_errors": sum(int(x) for x in socket.groups()) if socket else 0,
    "mean_batch": (float(s1) - float(s0)) / batches if batches else None,
    "lag_at_end_ids": {"terms": int(float(lag_t)), "students": int(float(lag_s))},
    "caught_up_seconds": None if caught == "null" else float(caught),
    "cores": {name: round(u["cores"], 2) for name, u in json.load(open(watch_path)).items() if u["cpu_seconds"] > 0},
}))
PY
    echo "$route c=$connections pool=$pool: $(tail -1 "$results")"
}

start_route() { # route
    case $1 in
        rest)
            service_start rest-api "$out/rest-api.log" env MYSQL_URL="$server/$db" PORT=8102 MIGRATE=false "$bin/rest-api"
            service_wait_ready http://127.0.0.1:8102/readyz ;;
        grpc)
            service_start grpc-server "$out/grpc-server.log" env MYSQL_URL="$server/$db" PORT=8111 GRPC_PORT=50151 MIGRATE=false "$bin/grpc-server"
            service_start grpc-client "$out/grpc-client.log" env PORT=8101 GRPC_SERVER_URL=http://127.0.0.1:50151 "$bin/grpc-client"
            service_wait_ready http://127.0.0.1:8101/readyz ;;
    esac
}

for route in rest grpc; do
    ceiling "before $route"
    fresh_db
    start_route "$route"
    if [[ $route == rest ]]; then url=http://127.0.0.1:8102/grades metrics=http://127.0.0.1:8102; else url=http://127.0.0.1:8101/grades metrics=http://127.0.0.1:8111; fi
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
load rest http://127.0.0.1:8102/grades http://127.0.0.1:8102 64 50000
services_stop 10

python3 scripts/bench_report.py bench "$results" BENCHMARKS.md
sql -e "DROP DATABASE IF EXISTS $db"
echo "wrote BENCHMARKS.md ($results)"
