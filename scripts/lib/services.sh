# shellcheck shell=bash
# Starting and stopping the grades services from a script (sourced by scripts/*.sh).
#
#   service_start NAME LOGFILE COMMAND...   start in the background, logging to LOGFILE
#   service_start_labelled NAME COLOUR COMMAND...  start in the background, each log line prefixed
#                                           with a coloured NAME on this terminal
#   service_wait_ready URL [SECONDS]        until URL answers 2xx (default 60 s); fails at once
#                                           when a started service has exited
#   grades_services_start BIN_DIR LOG_DIR   the four services (grpc-server, rest-api, realtime,
#                                           grpc-client), MIGRATE=false, on the ports below (realtime
#                                           with REALTIME_MYSQL_URL when set); logs to
#                                           LOG_DIR/NAME.log, or labelled on this terminal if LOG_DIR is -
#   grades_services_wait [SECONDS]          until all four answer /readyz
#   services_stop [SECONDS]                 SIGTERM to every started service, SIGKILL after SECONDS (default 10)
#   service_metric BASE_URL NAME            value of the first /metrics series whose line starts with NAME
#   redis_forget REDIS_URL PREFIX           delete every key under PREFIX (never the whole server)
#
# Each service is signalled directly (its own pid), never through a pipeline that may have died.

SERVICE_PIDS=()
SERVICE_NAMES=()

service_start() {
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    SERVICE_PIDS+=($!)
    SERVICE_NAMES+=("$name")
}

service_start_labelled() {
    local name=$1 colour=$2 label
    shift 2
    label=$(printf '\033[%sm%-12s\033[0m' "$colour" "$name")
    # The process substitution keeps $! the service's own pid; the services log through a
    # background writer that ignores a dead reader, so a labeller dying never stops a service.
    "$@" > >(sed -u "s/^/$label| /") 2>&1 &
    SERVICE_PIDS+=($!)
    SERVICE_NAMES+=("$name")
}

services_kill() {
    local pid
    for pid in "${SERVICE_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

service_wait_ready() {
    local url=$1 seconds=${2:-60} i j
    for ((i = 0; i < seconds * 10; i++)); do
        curl -fs -o /dev/null --max-time 2 "$url" && return 0
        for j in "${!SERVICE_PIDS[@]}"; do
            if ! kill -0 "${SERVICE_PIDS[$j]}" 2>/dev/null; then
                echo "${SERVICE_NAMES[$j]} exited before $url was ready" >&2
                return 1
            fi
        done
        sleep 0.1
    done
    echo "not ready after ${seconds}s: $url" >&2
    return 1
}

# The services' ports: CONTRACTS.md's defaults unless the caller sets them (the e2e run picks free ones).
GRPC_SERVER_PORT=${GRPC_SERVER_PORT:-8011}
GRPC_PORT=${GRPC_PORT:-50051}
REST_API_PORT=${REST_API_PORT:-8002}
REALTIME_PORT=${REALTIME_PORT:-8003}
GRPC_CLIENT_PORT=${GRPC_CLIENT_PORT:-8001}

grades_services_start() {
    local bin=$1 logs=$2 name colour
    # MySQL/Redis settings come from the caller's environment; the schema is migrated beforehand.
    for name in grpc-server:35 rest-api:32 realtime:33 grpc-client:36; do
        colour=${name#*:}
        name=${name%:*}
        local command=(env MIGRATE=false)
        case $name in
            grpc-server) command+=(PORT="$GRPC_SERVER_PORT" GRPC_PORT="$GRPC_PORT") ;;
            rest-api) command+=(PORT="$REST_API_PORT") ;;
            realtime) command+=(PORT="$REALTIME_PORT" ${REALTIME_MYSQL_URL:+MYSQL_URL="$REALTIME_MYSQL_URL"}) ;;
            grpc-client) command+=(PORT="$GRPC_CLIENT_PORT" GRPC_SERVER_URL="http://127.0.0.1:$GRPC_PORT") ;;
        esac
        command+=("$bin/$name")
        if [[ $logs == - ]]; then
            service_start_labelled "$name" "$colour" "${command[@]}"
        else
            service_start "$name" "$logs/$name.log" "${command[@]}"
        fi
    done
}

grades_services_wait() {
    local seconds=${1:-60} port
    for port in "$GRPC_SERVER_PORT" "$REST_API_PORT" "$REALTIME_PORT" "$GRPC_CLIENT_PORT"; do
        service_wait_ready "http://127.0.0.1:$port/readyz" "$seconds" || return 1
    done
}

services_stop() {
    local deadline=${1:-10} i pid alive
    for pid in "${SERVICE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < deadline * 10; i++)); do
        alive=0
        for pid in "${SERVICE_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.1
    done
    for i in "${!SERVICE_PIDS[@]}"; do
        if kill -0 "${SERVICE_PIDS[$i]}" 2>/dev/null; then
            echo "${SERVICE_NAMES[$i]} did not stop within ${deadline}s of SIGTERM; killing it" >&2
            kill -KILL "${SERVICE_PIDS[$i]}" 2>/dev/null || true
        fi
    done
    wait "${SERVICE_PIDS[@]}" 2>/dev/null || true
    SERVICE_PIDS=()
    SERVICE_NAMES=()
}

service_metric() {
    # awk reads to the end, so curl never dies of SIGPIPE.
    curl -fs "$1/metrics" | awk -v n="$2" '!found && index($0, n) == 1 { print $2; found = 1 }'
}

redis_forget() {
    redis-cli -u "$1" --scan --pattern "$2*" | xargs -r redis-cli -u "$1" del >/dev/null
}
