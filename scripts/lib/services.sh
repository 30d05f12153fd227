# shellcheck shell=bash
# Starting and stopping the grades services from a script (sourced by scripts/*.sh).
#
#   service_start NAME LOGFILE COMMAND...   start in the background, logging to LOGFILE
#   service_start_labelled NAME COLOUR COMMAND...  start in the background, each log line prefixed
#                                           with a coloured NAME on this terminal
#   service_wait_ready URL [SECONDS]        until URL answers 2xx (default 60 s)
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
    local url=$1 seconds=${2:-60} i
    for ((i = 0; i < seconds * 10; i++)); do
        curl -fs -o /dev/null "$url" && return 0
        sleep 0.1
    done
    echo "not ready after ${seconds}s: $url" >&2
    return 1
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
