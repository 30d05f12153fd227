#!/usr/bin/env bash
# `just scale`: ingest, the Redis live state and the dashboard at scale, one rest-api and one
# realtime against SCALE_DB (a database `just seed` filled, e.g.
# `MYSQL_URL=mysql://root@127.0.0.1:3306/grades_10m just seed 10000000`) and, for comparison,
# against an empty database:
#   - ingest at SCALE_RATE grades/s (500) for SCALE_SECONDS (30): p50/p99, rest-api memory; a
#     share SCALE_KEY_SHARE (0.1, as `just seed` models it) of the grades is posted with an
#     Idempotency-Key, so the writer checks and grows the key index the seed filled (the keys of
#     the last retention window: about 4.3 M at 100 M grades, 1 M at 10 M);
#   - the same load with the Redis live state deleted 10 s in: seconds until it is back, errors;
#     afterwards the live total must equal COUNT(*) of `grades`;
#   - every dashboard endpoint (big database): p50/p99 over SCALE_REQUESTS (200) requests each,
#     one at a time, then read by SCALE_READERS (16,64) connections at once for SCALE_READ_SECONDS
#     (8) each, closed loop (oha).
# Writes its section of BENCHMARKS.md, one per server kind (MariaDB, MySQL), with the server's
# version and buffer pool (results in target/scale/).
#   MYSQL_SERVER_URL (mysql://root@127.0.0.1:3306)  REDIS_URL (redis://127.0.0.1:6379)
#   BENCH_BIN: binaries already built (as in protocol.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/benchmark.sh

big=${SCALE_DB:-grades_10m}
empty=grades_scale_empty
rate=${SCALE_RATE:-500}
seconds=${SCALE_SECONDS:-30}
requests=${SCALE_REQUESTS:-200}
readers=${SCALE_READERS:-16,64}
read_seconds=${SCALE_READ_SECONDS:-8}
key_share=${SCALE_KEY_SHARE:-0.1}
server=${MYSQL_SERVER_URL:-mysql://root@127.0.0.1:3306}
sql_server "$server"
held=$(sql_value "$big" "SELECT COUNT(*) FROM grades" 2>/dev/null) ||
    { echo "no grades in $big: fill it first (MYSQL_URL=$server/$big just seed 10000000)" >&2; exit 1; }

# Each database gets its own prefix below (scale-DB:), and the services its MYSQL_URL.
benchmark_start scale "$big" scale: 8200 "${BENCH_BIN:-}"
need_oha
pool_bytes=$(sql_value "$big" "SELECT @@innodb_buffer_pool_size")
rest=$(service_url rest-api)
realtime=$(service_url realtime)
# The live state's hash under a prefix, as crates/live/src/keys.rs names it (docs/CONTRACTS.md,
# "Redis live state"): `synced_id` is there exactly when the live state is, `total` counts the grades.
live_key() { echo "${1}live"; }

start() { # db prefix: rest-api and realtime on db, the live state under prefix (rebuilt by the projector)
    redis_forget "$redis" "$2"
    local service
    for service in rest-api realtime; do
        service_launch "$bin" "$out/$service-$1.log" "$service" MYSQL_URL="$server/$1" REDIS_PREFIX="$2"
    done
    services_wait_ready 60 rest-api realtime
}

caught_up() { # seconds until both projections have folded everything and the live state exists
    local started i
    started=$(now)
    for ((i = 0; i < 6000; i++)); do
        if [[ "$(service_metric "$rest" 'grades_projector_lag_ids{projection="terms"}')" == 0 &&
            "$(service_metric "$rest" 'grades_projector_lag_ids{projection="students"}')" == 0 &&
            "$(redis-cli -u "$redis" HEXISTS "$(live_key "$1")" synced_id)" == 1 ]]; then
            seconds_since "$started"
            return
        fi
        sleep 0.1
    done
    echo "not caught up after 600 s" >&2
    return 1
}

ingest() { # label
    "$bin/grades-bench" run --url "$rest/grades" --rate "$rate" --duration "$seconds" --warmup 5 --connections 32 \
        --idempotency-ratio "$key_share" --json "$out/ingest-$1.json" >/dev/null
    echo "$1: $(python3 scripts/bench_report.py summary "$out/ingest-$1.json")"
}

flushed() { # label prefix db: the live state deleted under load
    "$bin/grades-bench" run --url "$rest/grades" --rate "$rate" --duration "$seconds" --warmup 0 --connections 32 \
        --idempotency-ratio "$key_share" --json "$out/flush-$1.json" >/dev/null &
    local load=$! deleted back="" i total count
    sleep 10
    redis-cli -u "$redis" DEL "$(live_key "$2")" >/dev/null
    deleted=$(now)
    for ((i = 0; i < 600; i++)); do
        if [[ "$(redis-cli -u "$redis" HEXISTS "$(live_key "$2")" synced_id)" == 1 ]]; then back=$(seconds_since "$deleted"); break; fi
        sleep 0.05
    done
    wait "$load"
    caught_up "$2" >/dev/null
    total=$(redis-cli -u "$redis" HGET "$(live_key "$2")" total)
    count=$(sql_value "$3" "SELECT COUNT(*) FROM grades")
    echo "{\"db\": \"$1\", \"load\": \"$out/flush-$1.json\", \"live_back_seconds\": ${back:-null}, \"live_total\": ${total:-null}, \"grades\": $count}" >>"$out/flush.jsonl"
    echo "flush $1: $(tail -1 "$out/flush.jsonl")"
}

: >"$out/flush.jsonl"
sql_fresh_database "$empty" "$bin/rest-api"
for db in "$empty" "$big"; do
    prefix="scale-$db:"
    start "$db" "$prefix"
    echo "$db ($(sql_value "$db" "SELECT COUNT(*) FROM grades") grades, $(sql_value "$db" "SELECT COUNT(*) FROM idempotency_keys") idempotency keys): live state and projections ready after $(caught_up "$prefix") s"
    ingest "$db"
    flushed "$db" "$prefix" "$db"
    if [[ $db == "$big" ]]; then
        latest=$(sql_value "$db" "SELECT MAX(id) FROM grades")
        python3 scripts/scale_endpoints.py "$realtime" "$requests" "$latest" "$readers" "$read_seconds" | tee "$out/endpoints.jsonl"
    fi
    services_stop 10
    redis_forget "$redis" "$prefix"
done
sql -e "DROP DATABASE IF EXISTS $empty"
keys=$(sql_value "$big" "SELECT COUNT(*) FROM idempotency_keys")
disk=$(sql_value "$big" "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = DATABASE()")
echo "{\"big\": \"$big\", \"empty\": \"$empty\", \"grades\": $held, \"idempotency_keys\": $keys, \"key_share\": $key_share, \"rate\": $rate, \"requests\": $requests, \"read_seconds\": $read_seconds, \"server_version\": \"$BENCH_SERVER_VERSION\", \"buffer_pool_bytes\": $pool_bytes, \"disk_bytes\": $disk}" >"$out/meta.json"
python3 scripts/bench_report.py scale "$out" BENCHMARKS.md
echo "wrote BENCHMARKS.md (results in $out/)"
