#!/usr/bin/env bash
# `just flamegraphs`: where each service of each route spends its CPU, at one offered rate. Each
# route runs alone on a fresh database (storing for real, as in `just compare`), takes an open-loop
# load from grades-bench, and perf samples every process of the route (software clock: works where
# hardware counters are not exposed, as in most VMs; DWARF call graphs, as release builds keep no
# frame pointers). inferno folds the stacks into docs/flamegraphs/ROUTE-SERVICE.svg.
#   FLAME_RATE (3000) grades/s offered   FLAME_SECONDS (8) seconds sampled   FLAME_HZ (499)
#   MYSQL_SERVER_URL, REDIS_URL, FLAME_PORT_BASE (8400) as in compare.sh; BENCH_BIN as in protocol.sh
# Needs perf (Debian's linux-perf) and inferno (cargo install inferno); installs neither.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in perf inferno-collapse-perf inferno-flamegraph; do
    command -v "$tool" >/dev/null || { echo "flamegraphs: $tool is missing (perf: apt-get install linux-perf; inferno: cargo install inferno)" >&2; exit 1; }
done
source scripts/lib/benchmark.sh

rate=${FLAME_RATE:-3000}
seconds=${FLAME_SECONDS:-8}
hz=${FLAME_HZ:-499}
benchmark_start flamegraphs grades_flamegraphs flamegraphs: "${FLAME_PORT_BASE:-8400}" "${BENCH_BIN:-}"
mkdir -p docs/flamegraphs

for route in rest grpc; do
    sql_fresh_database "$db" "$bin/rest-api"
    redis_forget "$redis" "$prefix"
    mapfile -t services < <(route_services "$route")
    services_launch "$bin" "$out" "${services[@]}"
    services_wait_ready 60 "${services[@]}"
    echo "== $route: $rate grades/s, sampling ${seconds} s after 3 s"
    "$bin/grades-bench" run --url "$(route_url "$route")" --rate "$rate" --duration "$((seconds + 2))" --warmup 3 \
        --watch "$(IFS=,; echo "${services[*]}")" --json "$out/$route.json" >/dev/null &
    load=$!
    sleep 3
    samplers=()
    for service in "${services[@]}"; do
        perf record -q -e cpu-clock -F "$hz" --call-graph dwarf,16384 -p "$(process_pid "$service")" \
            -o "$out/$route-$service.data" -- sleep "$seconds" 2>/dev/null &
        samplers+=($!)
    done
    wait "${samplers[@]}"
    wait "$load"
    python3 scripts/bench_report.py summary "$out/$route.json"
    services_stop 10
    for service in "${services[@]}"; do
        perf script -i "$out/$route-$service.data" 2>/dev/null | inferno-collapse-perf >"$out/$route-$service.folded"
        inferno-flamegraph --title "$service ($route route, $rate grades/s offered, $seconds s sampled; widths are CPU time)" \
            --countname ns <"$out/$route-$service.folded" >"docs/flamegraphs/$route-$service.svg"
        echo "docs/flamegraphs/$route-$service.svg: $(awk '{s += $NF} END {printf "%.2f", s / 1e9}' "$out/$route-$service.folded") CPU-seconds sampled"
    done
done
sql -e "DROP DATABASE IF EXISTS $db"
