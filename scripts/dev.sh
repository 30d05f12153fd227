#!/usr/bin/env bash
# Runs the grades services natively with interleaved, labelled logs. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

MYSQL_URL=${MYSQL_URL:-mysql://root@127.0.0.1:3306/grades}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export MYSQL_URL REDIS_URL RUST_LOG=${RUST_LOG:-info} LOG_FORMAT=${LOG_FORMAT:-pretty}

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

pids=()
stop() {
    trap - INT TERM EXIT
    echo "stopping..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Prefixes every line with a coloured service name so the logs stay readable when interleaved.
# The process substitution keeps $! the service's own pid, so stop() signals the service itself.
run() {
    local name=$1 colour=$2 label; shift 2
    label=$(printf '\033[%sm%-12s\033[0m' "$colour" "$name")
    "$@" > >(sed -u "s/^/$label| /") 2>&1 &
    pids+=($!)
}

# rest-api migrates first (creating the database if needed); the others wait for it.
"$bin/rest-api" migrate
run grpc-server "35" env MIGRATE=false "$bin/grpc-server"
run rest-api "32" env MIGRATE=false "$bin/rest-api"
run grpc-client "36" "$bin/grpc-client"
if [ -x "$bin/realtime" ]; then
    run realtime "33" "$bin/realtime"
fi
if [ -f frontend/package.json ]; then
    (cd frontend && { test -d node_modules || npm ci --no-audit --no-fund >/dev/null; })
    run dashboard "34" bash -c "cd frontend && exec ./node_modules/.bin/vite --host 127.0.0.1 --port 5173 --strictPort"
fi

sleep 2
cat <<INFO

  grades is running natively:
    route 1 (grpc)  POST http://127.0.0.1:8001/grades   (grpc-client -> grpc-server :50051)
    route 2 (rest)  POST http://127.0.0.1:8002/grades
    realtime        http://127.0.0.1:8003/api/live
    dashboard       http://127.0.0.1:5173   <- open this
  Try: just post rest   /   just post grpc        Ctrl-C stops everything.

INFO
wait
