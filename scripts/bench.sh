#!/usr/bin/env bash
# Benchmarks on this machine (release build, local MySQL/MariaDB and Redis), written to
# docs/benchmarks.md. Loopback only; every run is bounded in time.
#   BENCH_SECONDS (20)  BENCH_CONNECTIONS (64)  MYSQL_SERVER_URL (mysql://root@127.0.0.1:3306)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-20}
connections=${BENCH_CONNECTIONS:-64}
server=${MYSQL_SERVER_URL:-mysql://root@127.0.0.1:3306}
redis=${REDIS_URL:-redis://127.0.0.1:6379}
db=grades_bench
report=docs/benchmarks.md
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
mysql_cli() { if command -v mariadb >/dev/null; then mariadb "$@"; else mysql "$@"; fi; }
hp=${server#*://}; hp=${hp##*@}; host=${hp%:*}; port=${hp##*:}
sql() { mysql_cli -h"$host" -P"$port" -uroot "$@"; }

cargo build --release --bins
bin=target/release
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

fresh_db() {
    sql -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
    MYSQL_URL=$server/$db "$bin/rest-api" migrate >/dev/null 2>&1
    redis-cli --scan --pattern 'bench:*' | xargs -r redis-cli del >/dev/null
}
wait_ready() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1" >&2; return 1; }
export REDIS_URL=$redis REDIS_PREFIX=bench: LOG_FORMAT=json RUST_LOG=warn MIGRATE=false

# 1. The database's own batched-insert rate: 200 transactions of 256-row INSERTs into grades.
fresh_db
python3 - "$db" > /tmp/grades-baseline.sql <<'PY'
import random, sys
courses = ["SO1", "BD1", "LFP", "SA", "AYD1"]
i = 1
for _ in range(200):
    rows = []
    for _ in range(256):
        c = random.randint(1, 200000)
        rows.append(f"({i},{c},'Alumno {c}','{random.choice(courses)}',{random.randint(0,100)},'{random.choice(['1S','2S'])}',{random.randint(2018,2024)},'rest',NOW(3))")
        i += 1
    print("START TRANSACTION;\nINSERT INTO grades (id,carnet,nombre,curso,nota,semestre,year,route,created_at) VALUES " + ",".join(rows) + ";\nCOMMIT;")
PY
start=$(date +%s.%N); sql "$db" < /tmp/grades-baseline.sql; end=$(date +%s.%N)
baseline=$(python3 -c "print(round(51200 / ($end - $start)))")
echo "database batched inserts: $baseline rows/s"

# 2. Each route under the same load, on a fresh database.
run_route() { # name url
    wrk -t2 -c"$connections" -d"${seconds}s" -s bench/post-grade.lua --latency "$2" > "/tmp/wrk-$1.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "/tmp/wrk-$1.txt")
    p50=$(awk '$1=="50%" {print $2}' "/tmp/wrk-$1.txt"); p99=$(awk '$1=="99%" {print $2}' "/tmp/wrk-$1.txt")
    errors=$(awk '/Non-2xx/ {print $5}' "/tmp/wrk-$1.txt"); errors=${errors:-0}
    echo "| $1 | ${rps%.*} | $p50 | $p99 | $errors |" >> /tmp/bench-routes.md
    echo "$1: $rps req/s p50 $p50 p99 $p99 non-2xx $errors"
}
fresh_db
: > /tmp/bench-routes.md
MYSQL_URL=$server/$db PORT=8002 "$bin/rest-api" & pids+=($!)
wait_ready http://127.0.0.1:8002/readyz
run_route "rest (rest-api)" http://127.0.0.1:8002/grades
MYSQL_URL=$server/$db PORT=8011 GRPC_PORT=50051 "$bin/grpc-server" & pids+=($!)
PORT=8001 GRPC_SERVER_URL=http://127.0.0.1:50051 "$bin/grpc-client" & pids+=($!)
wait_ready http://127.0.0.1:8001/readyz
run_route "grpc (grpc-client -> grpc-server)" http://127.0.0.1:8001/grades
grades=$(sql -N "$db" -e "SELECT COUNT(*) FROM grades")
batches=$(curl -s http://127.0.0.1:8002/metrics | awk '/^grades_batch_size_(sum|count)/ {print $2}' | paste -sd' ')

# 3. Dashboard queries at this size (realtime, 4 connections, 5 s each).
MYSQL_URL=$server/$db PORT=8003 "$bin/realtime" & pids+=($!)
wait_ready http://127.0.0.1:8003/readyz
: > /tmp/bench-queries.md
for path in "/api/grades?limit=20" "/api/grades?curso=SO1&semestre=2S&year=2023&limit=20" "/api/grades?semestre=1S&limit=20" \
            "/api/stats/pass-fail?curso=SO1&semestre=2S&year=2023" "/api/stats/top-courses?semestre=2S" \
            "/api/stats/top-students" "/api/stats/top-students?semestre=1S&year=2020" "/api/stats/routes" "/api/live"; do
    wrk -t1 -c4 -d5s --latency "http://127.0.0.1:8003$path" > /tmp/wrk-q.txt
    echo "| \`$path\` | $(awk '$1=="50%" {print $2}' /tmp/wrk-q.txt) | $(awk '$1=="99%" {print $2}' /tmp/wrk-q.txt) | $(awk '/Requests\/sec/ {print $2}' /tmp/wrk-q.txt) |" >> /tmp/bench-queries.md
done

{
    echo "# Benchmarks"
    echo
    echo "Written by \`just bench\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores, $(mysql_cli --version | sed 's/.*Distrib \([^,]*\).*/MariaDB\/MySQL \1/'),"
    echo "release build, wrk on the same machine (it takes CPU from the services). Numbers from a shared,"
    echo "noisy machine: compare runs of one machine, not across machines."
    echo
    echo "## Ingestion"
    echo
    echo "Database baseline: 200 transactions of 256-row \`INSERT\`s into \`grades\` alone: **$baseline rows/s**."
    echo
    echo "Each route for ${seconds} s, ${connections} connections, random valid grades:"
    echo
    echo "| route | grades/s | p50 | p99 | non-2xx |"
    echo "|---|---|---|---|---|"
    cat /tmp/bench-routes.md
    echo
    echo "Grades stored: $grades. rest-api batches (sum count): $batches."
    echo
    echo "## Dashboard queries (at $grades grades)"
    echo
    echo "| request | p50 | p99 | req/s |"
    echo "|---|---|---|---|"
    cat /tmp/bench-queries.md
} > "$report"
sql -e "DROP DATABASE IF EXISTS $db"
echo "wrote $report"
