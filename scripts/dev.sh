#!/usr/bin/env bash
# Runs the grades services natively with interleaved, labelled logs. Ctrl-C stops them all within
# 5 s (each drains its in-flight work first); a second Ctrl-C kills them at once.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

MYSQL_URL=${MYSQL_URL:-mysql://root@127.0.0.1:3306/grades}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export MYSQL_URL REDIS_URL RUST_LOG=${RUST_LOG:-info} LOG_FORMAT=${LOG_FORMAT:-pretty}
# `just dev` promises a stop within 5 s; each service gets 4 to drain.
export DRAIN_DEADLINE_SECONDS=${DRAIN_DEADLINE_SECONDS:-4}

host_port() { # host:port of a URL like mysql://user:pw@host:port/db
    local rest=${1#*://}; rest=${rest##*@}; rest=${rest%%/*}
    case $rest in *:*) echo "$rest" ;; *) echo "$rest:$2" ;; esac
}
reachable() { local hp; hp=$(host_port "$1" "$2"); timeout 2 bash -c "exec 3<>/dev/tcp/${hp%:*}/${hp##*:}" 2>/dev/null; }

if ! reachable "$MYSQL_URL" 3306; then
    echo "MySQL is not reachable at $(host_port "$MYSQL_URL" 3306) (MYSQL_URL=$MYSQL_URL)." >&2
    echo "Start one: MariaDB 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd'," >&2
    echo "or 'docker run -d -p 3306:3306 -e MYSQL_ALLOW_EMPTY_PASSWORD=yes mysql:8', or point MYSQL_URL at yours." >&2
    exit 1
fi
if ! reachable "$REDIS_URL" 6379; then
    echo "Redis is not reachable at $(host_port "$REDIS_URL" 6379) (REDIS_URL=$REDIS_URL)." >&2
    echo "Start one: 'redis-server --daemonize yes', or 'docker run -d -p 6379:6379 redis:7', or point REDIS_URL at yours." >&2
    exit 1
fi

cargo build --bins
bin=target/debug

stopping=false
# shellcheck disable=SC2329 # called by the trap below
stop() {
    if [[ $stopping == true ]]; then
        echo "killing..."
        services_kill
        exit 130
    fi
    stopping=true
    echo "stopping... (Ctrl-C again to kill)"
    services_stop 5
    exit 0
}
trap stop INT TERM
trap 'services_stop 5' EXIT

# One MySQL user per kind of access (docs/security.md), created with MYSQL_URL's account when it
# may (root by default): the migrator migrates, the routes write rows only, realtime only reads.
admin_url=$MYSQL_URL
if [[ ${DEV_DB_USERS:-true} == true ]] &&
    mapfile -t db_urls < <(ADMIN_MYSQL_URL=${MYSQL_URL%/*} GRADES_DATABASE=${MYSQL_URL##*/} scripts/db-users.sh 2>/dev/null) &&
    [[ ${#db_urls[@]} == 3 ]]; then
    migration_url=${db_urls[0]}
    MYSQL_URL=${db_urls[1]}
    REALTIME_MYSQL_URL=${db_urls[2]}
    echo "MySQL users: migrations as the migrator, the routes as the app user, realtime as the reader (scripts/sql/users.sql)"
else
    migration_url=$MYSQL_URL
    echo "MySQL users: could not create them with MYSQL_URL's account (scripts/db-users.sh); every service uses MYSQL_URL" >&2
fi

# rest-api migrates first (creating the database if needed); the others wait for it.
MYSQL_URL=$migration_url "$bin/rest-api" migrate
# Again after migrating: the app user's DELETE on idempotency_keys needs the table to exist.
if [[ -n ${REALTIME_MYSQL_URL:-} ]]; then
    ADMIN_MYSQL_URL=${admin_url%/*} GRADES_DATABASE=${admin_url##*/} scripts/db-users.sh >/dev/null 2>&1 ||
        echo "MySQL users: could not grant the app user DELETE on idempotency_keys; expired keys stay" >&2
fi
for service in "${GRADES_SERVICES[@]}"; do
    if [[ $service == realtime && -n ${REALTIME_MYSQL_URL:-} ]]; then
        service_launch "$bin" - "$service" MYSQL_URL="$REALTIME_MYSQL_URL"
    else
        service_launch "$bin" - "$service"
    fi
done
# Prometheus natively (Debian's, scripts/prometheus-debian.sh) when it has been fetched, or always
# with DEV_PROMETHEUS=true (fetching it), never with false: it scrapes every service and evaluates
# observability/prometheus/alerts.yml. Its data lives in .dev/prometheus, kept between runs.
prometheus_dir=""
case ${DEV_PROMETHEUS:-auto} in
    true) prometheus_dir=$(bash scripts/prometheus-debian.sh) ;;
    auto) [[ -x .tools/prometheus/usr/bin/prometheus ]] && prometheus_dir=$PWD/.tools/prometheus/usr/bin ;;
esac
prometheus_port=${DEV_PROMETHEUS_PORT:-9090}
if [[ -n $prometheus_dir ]]; then
    mkdir -p .dev/prometheus
    python3 observability/native.py --port-base "$SERVICES_PORT_BASE" >.dev/prometheus.yml
    process_start prometheus - "$prometheus_dir/prometheus" --config.file=.dev/prometheus.yml \
        --storage.tsdb.path=.dev/prometheus --storage.tsdb.retention.time=2d \
        --web.listen-address=127.0.0.1:"$prometheus_port" --log.level=warn
fi
(cd frontend && { test -d node_modules || npm ci --no-audit --no-fund >/dev/null; })
process_start dashboard - bash -c "cd frontend && exec ./node_modules/.bin/vite --host 127.0.0.1 --port 5173 --strictPort"

services_wait_ready 120 "${GRADES_SERVICES[@]}" || { echo "a service did not become ready; its log lines above say why" >&2; exit 1; }
if [[ -n $prometheus_dir ]]; then
    process_wait_ready "http://127.0.0.1:$prometheus_port/-/ready" 30 || exit 1
    observing="Prometheus      http://127.0.0.1:$prometheus_port   (/targets, /alerts; queries: /api/v1/query)"
else
    observing="Prometheus      not running: DEV_PROMETHEUS=true just dev fetches Debian's and runs it"
fi
cat <<INFO

  grades is running natively:
    route 1 (grpc)  POST $(route_url grpc)   (grpc-client -> grpc-server :$(service_port grpc-server grpc))
    route 2 (rest)  POST $(route_url rest)
    realtime        $(service_url realtime)/api/live
    dashboard       http://127.0.0.1:5173   <- open this
    $observing
    Grafana         not run natively (no Debian, npm or PyPI package): just up-observability runs
                    it in compose on http://localhost:3001 with the dashboard of observability/
  Try: just post rest   /   just post grpc        Ctrl-C stops everything.

INFO
# `wait -n` returns when a service exits or a trapped signal arrives (Ctrl-C is handled at once).
wait -n "${STARTED_PIDS[@]}" || true
echo "a service exited; stopping the others" >&2
exit 1
