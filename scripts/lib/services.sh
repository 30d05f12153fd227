# shellcheck shell=bash
# Starting and stopping the grades services from a script (sourced by scripts/*.sh and the
# browser test). What each service is (ports, route, what it calls) comes from
# scripts/lib/services.txt, which the fault suite reads too.
#
#   SERVICES_PORT_BASE                     the port base (default 8000, docs/CONTRACTS.md's ports);
#                                          every port shifts by base - 8000
#   GRADES_SERVICES                        every service, in start order
#   service_port NAME [grpc]               NAME's HTTP (or gRPC) port
#   service_url NAME                       http://127.0.0.1:PORT of NAME
#   services_ports                         every port of every service, one a line
#   route_url ROUTE                        the POST /grades URL of a route (rest, grpc)
#   route_services ROUTE                   the services a route needs, in start order
#   service_launch BIN_DIR LOG NAME [VAR=VALUE...]
#                                          start BIN_DIR/NAME with its ports, GRPC_SERVER_URL,
#                                          MIGRATE=false (scripts migrate beforehand) and VAR=VALUE;
#                                          MySQL and Redis settings come from the environment
#   services_launch BIN_DIR LOG_DIR NAME...  several, each logging to LOG_DIR/NAME.log
#   services_wait_ready SECONDS NAME...    until each answers /readyz
#   process_start NAME LOG COMMAND...      any command in the background, logging to LOG; LOG `-`
#                                          prefixes each line with a coloured NAME on this terminal
#   process_wait_ready URL [SECONDS]       until URL answers 2xx (default 60 s); fails at once when
#                                          a started process has exited
#   process_pid NAME                       the pid of a started process
#   services_stop [SECONDS]                SIGTERM to every started process, SIGKILL after SECONDS (default 10)
#   services_kill                          SIGKILL to every started process
#   service_metric BASE_URL NAME           value of the first /metrics series whose line starts with NAME
#   redis_forget REDIS_URL PREFIX          delete every key under PREFIX (never the whole server)
#
# Each process is signalled directly (its own pid), never through a pipeline that may have died.

SERVICES_PORT_BASE=${SERVICES_PORT_BASE:-8000}
GRADES_SERVICES=()
declare -A SERVICE_PORT SERVICE_GRPC_PORT SERVICE_ROUTE SERVICE_CALLS

_services_read() {
    local name port grpc_port route calls
    while read -r name port grpc_port route calls; do
        [[ -z $name || $name == \#* ]] && continue
        GRADES_SERVICES+=("$name")
        SERVICE_PORT[$name]=$port SERVICE_GRPC_PORT[$name]=$grpc_port SERVICE_ROUTE[$name]=$route SERVICE_CALLS[$name]=$calls
    done <"$1"
}
_services_read "${BASH_SOURCE[0]%/*}/services.txt"

STARTED_PIDS=()
STARTED_NAMES=()
# Label colours of a terminal's interleaved logs, by start order (`just dev`).
LABEL_COLOURS=(35 32 33 36 34 31)

service_port() {
    local port
    if [[ ${2:-} == grpc ]]; then port=${SERVICE_GRPC_PORT[$1]}; else port=${SERVICE_PORT[$1]}; fi
    [[ $port =~ ^[0-9]+$ ]] || { echo "service_port: $1 has no ${2:-http} port in services.txt" >&2; return 1; }
    echo $((port + SERVICES_PORT_BASE - 8000))
}

services_ports() {
    local name
    for name in "${GRADES_SERVICES[@]}"; do
        service_port "$name"
        [[ ${SERVICE_GRPC_PORT[$name]} == - ]] || service_port "$name" grpc
    done
}

service_url() {
    echo "http://127.0.0.1:$(service_port "$1")"
}

route_services() {
    local name front=""
    for name in "${GRADES_SERVICES[@]}"; do [[ ${SERVICE_ROUTE[$name]} == "$1" ]] && front=$name; done
    [[ -n $front ]] || { echo "route_services: no service answers route $1 in services.txt" >&2; return 1; }
    [[ ${SERVICE_CALLS[$front]} != - ]] && echo "${SERVICE_CALLS[$front]}"
    echo "$front"
}

route_url() {
    local services
    services=$(route_services "$1") || return 1
    echo "$(service_url "${services##*$'\n'}")/grades"
}

service_launch() {
    local bin=$1 log=$2 name=$3 calls
    shift 3
    local command=(env MIGRATE=false PORT="$(service_port "$name")")
    [[ ${SERVICE_GRPC_PORT[$name]} != - ]] && command+=(GRPC_PORT="$(service_port "$name" grpc)")
    calls=${SERVICE_CALLS[$name]}
    [[ $calls != - ]] && command+=(GRPC_SERVER_URL="http://127.0.0.1:$(service_port "$calls" grpc)")
    process_start "$name" "$log" "${command[@]}" "$@" "$bin/$name"
}

services_launch() {
    local bin=$1 logs=$2 name
    shift 2
    for name in "$@"; do
        if [[ $logs == - ]]; then service_launch "$bin" - "$name"; else service_launch "$bin" "$logs/$name.log" "$name"; fi
    done
}

services_wait_ready() {
    local seconds=$1 name
    shift
    for name in "$@"; do
        process_wait_ready "$(service_url "$name")/readyz" "$seconds" || return 1
    done
}

process_start() {
    local name=$1 log=$2 label
    shift 2
    if [[ $log == - ]]; then
        label=$(printf '\033[%sm%-12s\033[0m' "${LABEL_COLOURS[${#STARTED_PIDS[@]} % ${#LABEL_COLOURS[@]}]}" "$name")
        # The process substitution keeps $! the process's own pid; the services log through a
        # background writer that ignores a dead reader, so a labeller dying never stops a service.
        "$@" > >(sed -u "s/^/$label| /") 2>&1 &
    else
        "$@" >"$log" 2>&1 &
    fi
    STARTED_PIDS+=($!)
    STARTED_NAMES+=("$name")
}

process_pid() {
    local i
    for i in "${!STARTED_NAMES[@]}"; do
        [[ ${STARTED_NAMES[$i]} == "$1" ]] && { echo "${STARTED_PIDS[$i]}"; return 0; }
    done
    echo "process_pid: $1 was not started" >&2
    return 1
}

services_kill() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

process_wait_ready() {
    local url=$1 seconds=${2:-60} i j
    for ((i = 0; i < seconds * 10; i++)); do
        curl -fs -o /dev/null --max-time 2 "$url" && return 0
        for j in "${!STARTED_PIDS[@]}"; do
            if ! kill -0 "${STARTED_PIDS[$j]}" 2>/dev/null; then
                echo "${STARTED_NAMES[$j]} exited before $url was ready" >&2
                return 1
            fi
        done
        sleep 0.1
    done
    echo "not ready after ${seconds}s: $url" >&2
    return 1
}

services_stop() {
    local deadline=${1:-10} i pid alive
    for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < deadline * 10; i++)); do
        alive=0
        for pid in "${STARTED_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.1
    done
    for i in "${!STARTED_PIDS[@]}"; do
        if kill -0 "${STARTED_PIDS[$i]}" 2>/dev/null; then
            echo "${STARTED_NAMES[$i]} did not stop within ${deadline}s of SIGTERM; killing it" >&2
            kill -KILL "${STARTED_PIDS[$i]}" 2>/dev/null || true
        fi
    done
    wait "${STARTED_PIDS[@]}" 2>/dev/null || true
    STARTED_PIDS=()
    STARTED_NAMES=()
}

service_metric() {
    # awk reads to the end, so curl never dies of SIGPIPE.
    curl -fs "$1/metrics" | awk -v n="$2" '!found && index($0, n) == 1 { print $2; found = 1 }'
}

redis_forget() {
    redis-cli -u "$1" --scan --pattern "$2*" | xargs -r redis-cli -u "$1" del >/dev/null
}
