#!/usr/bin/env bash
# `just protocol`: what each route's protocols cost on their own. rest-api and grpc-server run
# with DISCARD_GRADES=true (every grade validated and acknowledged, none stored: MySQL is read
# once for the course catalog, Redis not written), and every variant takes the same open-loop load
# (fixed Poisson arrival rate, latency from each request's intended send time): the rest route,
# the grpc route over one channel, over PROTOCOL_CHANNELS channels, and with a new connection per
# request. CPU per request is read from /proc for each process. Writes the `protocol` section of
# BENCHMARKS.md (bench_report.py).
#   PROTOCOL_RATE (3000) grades/s offered to every variant   PROTOCOL_SECONDS (10) measured seconds
#   PROTOCOL_CHANNELS (4) the many-channels variant   PROTOCOL_PER_REQUEST_RATE (500) the per-request
#   variant's rate (a connection per grade cannot hold the others' rate on 2 cores)
#   MYSQL_SERVER_URL, REDIS_URL, PROTOCOL_PORT_BASE (8300) as in compare.sh; BENCH_BIN: binaries
#   already built (default: a release build now)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/benchmark.sh

rate=${PROTOCOL_RATE:-3000}
seconds=${PROTOCOL_SECONDS:-10}
channels=${PROTOCOL_CHANNELS:-4}
per_request_rate=${PROTOCOL_PER_REQUEST_RATE:-500}
benchmark_start protocol grades_protocol protocol: "${PROTOCOL_PORT_BASE:-8300}" "${BENCH_BIN:-}"
export DISCARD_GRADES=true

# variant  route  GRPC_CHANNELS  rate
variants=(
    "rest rest 1 $rate"
    "grpc-1-channel grpc 1 $rate"
    "grpc-$channels-channels grpc $channels $rate"
    "grpc-per-request grpc per-request $per_request_rate"
)
names=()
for variant in "${variants[@]}"; do
    read -r name route grpc_channels offered <<<"$variant"
    names+=("$name")
    sql_fresh_database "$db" "$bin/rest-api"
    mapfile -t services < <(route_services "$route")
    GRPC_CHANNELS=$grpc_channels services_launch "$bin" "$out" "${services[@]}"
    services_wait_ready 60 "${services[@]}"
    echo "== $name ($offered grades/s)"
    "$bin/grades-bench" run --url "$(route_url "$route")" --rate "$offered" --duration "$seconds" --warmup 2 \
        --watch "$(IFS=,; echo "${services[*]}")" --json "$out/$name.json" >/dev/null
    services_stop 10
done

python3 - "$out/meta.json" "$rate" "$seconds" "${names[@]}" <<'PY'
import json, sys
path, rate, seconds, *names = sys.argv[1:]
json.dump({"variants": names, "rate": float(rate), "seconds": int(seconds)}, open(path, "w"))
PY
python3 scripts/bench_report.py protocol "$out" BENCHMARKS.md
sql -e "DROP DATABASE IF EXISTS $db"
echo "wrote the protocol section of BENCHMARKS.md ($out)"
