#!/usr/bin/env bash
# `just live`: the live path measured from outside. One rest-api (with its projector) and one
# realtime, natively, on a private database and Redis prefix:
#   (a) ingest-to-browser latency at each LIVE_RATES grades/s (1000 2000): from each 201's arrival
#       at the generator to the first Socket.IO push carrying that grade's id, for the sampled
#       `recent_grades` feed and for an `all_grades` subscriber, with the share of grades pushed;
#   (b) realtime's CPU (from /proc, % of one core) and RSS with LIVE_CLIENTS (100) dashboard-like
#       clients, idle and while grades-bench offers LIVE_LOAD_RATE (5000) grades/s (the rate
#       actually stored is reported).
# Every measurement runs LIVE_RUNS (2) times; the machine is shared, so each records the load
# average and how many compilers were running. Writes its section of BENCHMARKS.md (results in
# target/live/).
#   LIVE_SECONDS (20) measured seconds per run   LIVE_PORT_BASE (9450)   LIVE_DB (grades_live)
#   LIVE_PREFIX (live:)   LIVE_BIN (build target/release)   MYSQL_SERVER_URL (mysql://root@127.0.0.1:3306)   REDIS_URL (redis://127.0.0.1:6379)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/benchmark.sh

rates=${LIVE_RATES:-1000 2000}
load_rate=${LIVE_LOAD_RATE:-5000}
clients=${LIVE_CLIENTS:-100}
runs=${LIVE_RUNS:-2}
seconds=${LIVE_SECONDS:-20}
[[ -d frontend/node_modules/socket.io-client ]] || { echo "socket.io-client missing: run (cd frontend && npm ci) first" >&2; exit 1; }
# LIVE_BIN: measure binaries built beforehand (a copy, so others' rebuilds do not change them mid-run).
benchmark_start live "${LIVE_DB:-grades_live}" "${LIVE_PREFIX:-live:}" "${LIVE_PORT_BASE:-9450}" "${LIVE_BIN:-}"
rest=$(service_url rest-api)
realtime=$(service_url realtime)
hz=$(getconf CLK_TCK)

sql_fresh_database "$db" "$bin/rest-api"
redis_forget "$redis" "$prefix"
services_launch "$bin" "$out" rest-api realtime
realtime_pid=$(process_pid realtime)
services_wait_ready 60 rest-api realtime

# What else the machine was doing: the 1-minute load average and the compilers running.
noise() { echo "\"loadavg\": $(cut -d' ' -f1 /proc/loadavg), \"compilers\": $(pgrep -c -x 'rustc|cc1|cc1plus' 2>/dev/null || true)"; }
terms_lag() { service_metric "$rest" 'grades_projector_lag_ids{projection="terms"}'; }

: >"$out/live.jsonl"
for ((run = 1; run <= runs; run++)); do
    for rate in $rates; do
        echo "== run $run: latency at $rate grades/s"
        before=$(noise)
        result=$(node frontend/scripts/live_probe.mjs latency --url "$rest/grades" --realtime "$realtime" --rate "$rate" \
            --seconds "$seconds" --warmup 3 --drain 3 --connections 64)
        echo "{\"kind\": \"latency\", \"run\": $run, $before, \"result\": $result}" | tee -a "$out/live.jsonl"
    done

    echo "== run $run: realtime idle with $clients clients"
    before=$(noise)
    result=$(node frontend/scripts/live_probe.mjs hold --realtime "$realtime" --clients "$clients" --pid "$realtime_pid" \
        --settle 3 --seconds "$seconds" --hz "$hz" | grep -v '^connected$')
    echo "{\"kind\": \"idle\", \"run\": $run, $before, \"result\": $result}" | tee -a "$out/live.jsonl"

    echo "== run $run: realtime with $clients clients while $load_rate grades/s are offered"
    before=$(noise)
    node frontend/scripts/live_probe.mjs hold --realtime "$realtime" --clients "$clients" --pid "$realtime_pid" \
        --settle 3 --seconds "$seconds" --hz "$hz" >"$out/hold.out" &
    hold=$!
    for ((i = 0; i < 600; i++)); do grep -q '^connected$' "$out/hold.out" && break; sleep 0.1; done
    # The load outlasts the measured window on both sides (3 s settle, 3 s after).
    "$bin/grades-bench" run --url "$rest/grades" --rate "$load_rate" --duration $((seconds + 6)) --warmup 0 \
        --connections 64 --watch rest-api --json "$out/load-$run.json" >/dev/null
    wait "$hold"
    lag=$(terms_lag)
    result=$(grep -v '^connected$' "$out/hold.out")
    echo "{\"kind\": \"loaded\", \"run\": $run, $before, \"offered_rate\": $load_rate, \"terms_lag_at_end\": ${lag:-null}, \"load\": \"$out/load-$run.json\", \"result\": $result}" | tee -a "$out/live.jsonl"
    # Let the projector catch up before the next run measures latency.
    for ((i = 0; i < 600; i++)); do [[ "$(terms_lag)" == 0 ]] && break; sleep 0.1; done
done

services_stop 10
redis_forget "$redis" "$prefix"
sql -e "DROP DATABASE IF EXISTS $db"
echo "{\"rates\": \"$rates\", \"load_rate\": $load_rate, \"clients\": $clients, \"seconds\": $seconds, \"runs\": $runs}" >"$out/meta.json"
python3 scripts/bench_report.py live "$out" BENCHMARKS.md
echo "wrote BENCHMARKS.md (results in $out/)"
