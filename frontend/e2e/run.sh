#!/usr/bin/env bash
# End-to-end run of the dashboard against the four real services.
#
# Builds nothing: it expects
#   - the Rust binaries in $BIN_DIR (default <repo>/target/debug): rest-api, grpc-server, grpc-client, realtime
#   - the built bundle in frontend/dist (npm run build) and frontend/node_modules (npm ci)
#   - MySQL/MariaDB and Redis reachable at MYSQL_URL / REDIS_URL
#
#   MYSQL_URL   default mysql://root@127.0.0.1:3306/grades_e2e (the run uses a fresh grades_e2e_<pid>_<n>, dropped on exit)
#   REDIS_URL   default redis://127.0.0.1:6379
#   SCREENSHOT  optional path for a full-page screenshot (relative to the caller's directory)
#   E2E_KEEP_LOGS=1  keep the service logs even when everything passed
#
# It migrates once (`rest-api migrate`), starts the services on free ports with a unique
# REDIS_PREFIX, waits for every /readyz, serves dist/ with scripts/serve.mjs (config.js generated
# from API_BASE_URL), runs e2e/dashboard.e2e.mjs and stops everything on exit.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FRONTEND="$(dirname "$HERE")"
ROOT="$(dirname "$FRONTEND")"
BIN_DIR="${BIN_DIR:-$ROOT/target/debug}"
MYSQL_URL="${MYSQL_URL:-mysql://root@127.0.0.1:3306/grades_e2e}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
RUN_ID="$(date +%s)$$${RANDOM}"
REDIS_PREFIX="e2e${RUN_ID}:"
LOG_DIR="${E2E_LOG_DIR:-$FRONTEND/e2e/.logs/$RUN_ID}"
READY_TIMEOUT="${E2E_READY_TIMEOUT:-90}"

if [[ -n "${SCREENSHOT:-}" && "$SCREENSHOT" != /* ]]; then
  SCREENSHOT="$PWD/$SCREENSHOT"
fi

say() { printf '[e2e] %s\n' "$*" >&2; }
SUMMARY=""
die() {
  say "ERROR: $*"
  SUMMARY="0 passed, 1 failed"
  exit 1
}

# ------------------------------------------------------------------ preflight
for b in rest-api grpc-server grpc-client realtime; do
  [[ -x "$BIN_DIR/$b" ]] || die "missing $BIN_DIR/$b (build the Rust workspace first: cargo build)"
done
[[ -f "$FRONTEND/dist/index.html" ]] || die "missing $FRONTEND/dist (run: npm run build)"
[[ -d "$FRONTEND/node_modules/playwright-core" ]] || die "missing node_modules (run: npm ci)"
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
[[ -x "$CHROMIUM_PATH" ]] || die "missing $CHROMIUM_PATH (apt-get install -y chromium)"
export CHROMIUM_PATH
command -v node >/dev/null || die "node not found"

mkdir -p "$LOG_DIR"
say "logs in $LOG_DIR, REDIS_PREFIX=$REDIS_PREFIX"

# ------------------------------------------------------------------ cleanup
PIDS=()
NAMES=()
STATUS=1
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local i
  for i in "${!PIDS[@]}"; do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    local alive=0
    for i in "${!PIDS[@]}"; do
      kill -0 "${PIDS[$i]}" 2>/dev/null && alive=1
    done
    [[ $alive == 0 ]] && break
    sleep 0.2
  done
  for i in "${!PIDS[@]}"; do
    if kill -0 "${PIDS[$i]}" 2>/dev/null; then
      say "${NAMES[$i]} did not stop on SIGTERM; killing"
      kill -KILL "${PIDS[$i]}" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  if [[ -n "${DROP_DB:-}" ]]; then
    mysql_admin "DROP DATABASE IF EXISTS \`$DB_NAME\`" >/dev/null 2>&1 || true
  fi
  if command -v redis-cli >/dev/null 2>&1 && [[ -z "${E2E_KEEP_REDIS:-}" ]]; then
    redis-cli -u "$REDIS_URL" --scan --pattern "${REDIS_PREFIX}*" 2>/dev/null |
      xargs -r -n 200 redis-cli -u "$REDIS_URL" DEL >/dev/null 2>&1 || true
  fi
  if [[ $STATUS != 0 || $rc != 0 ]]; then
    for i in "${!NAMES[@]}"; do
      say "---- last lines of ${NAMES[$i]}.log ----"
      tail -n 25 "$LOG_DIR/${NAMES[$i]}.log" >&2 2>/dev/null || true
    done
    say "full logs: $LOG_DIR"
  elif [[ -z "${E2E_KEEP_LOGS:-}" ]]; then
    rm -rf "$LOG_DIR"
    rmdir "$FRONTEND/e2e/.logs" 2>/dev/null || true
  fi
  # The closing line is always the test summary.
  [[ -n "$SUMMARY" ]] && echo "$SUMMARY"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ free ports
mapfile -t PORTS < <(node -e '
  const net = require("net");
  const n = Number(process.argv[1]);
  const servers = [];
  let done = 0;
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    servers.push(s);
    s.listen(0, "127.0.0.1", () => {
      if (++done === n) {
        for (const x of servers) console.log(x.address().port);
        for (const x of servers) x.close();
      }
    });
  }' 6)
[[ ${#PORTS[@]} == 6 ]] || die "could not find free ports"
P_GS_HTTP=${PORTS[0]} P_GRPC=${PORTS[1]} P_REST=${PORTS[2]} P_RT=${PORTS[3]} P_GC=${PORTS[4]} P_DASH=${PORTS[5]}

# ------------------------------------------------------------------ database
mapfile -t DB < <(node -e '
  const u = new URL(process.argv[1]);
  console.log(u.hostname || "127.0.0.1");
  console.log(u.port || "3306");
  console.log(decodeURIComponent(u.username || "root"));
  console.log(decodeURIComponent(u.password || ""));
  console.log(decodeURIComponent(u.pathname.replace(/^\//, "")));' "$MYSQL_URL") || die "bad MYSQL_URL"
DB_NAME="${DB[4]:-}"
[[ "$DB_NAME" =~ ^[A-Za-z0-9_]+$ ]] || die "MYSQL_URL must name a database ([A-Za-z0-9_]+), got '$DB_NAME'"
# Each run gets its own empty database (MYSQL_URL's name plus a suffix), dropped on exit, so the
# live figures start from zero: the services rebuild Redis's live state from MySQL on first use.
DB_NAME="${DB_NAME}_$$_${RANDOM}"
MYSQL_URL="${MYSQL_URL%/*}/$DB_NAME"
MYSQL_CLI="$(command -v mariadb || command -v mysql || true)"
mysql_admin() { MYSQL_PWD="${DB[3]}" "$MYSQL_CLI" --protocol=TCP -h "${DB[0]}" -P "${DB[1]}" -u "${DB[2]}" -e "$1"; }
if [[ -n "$MYSQL_CLI" ]]; then
  DROP_DB=1
  say "creating database $DB_NAME on ${DB[0]}:${DB[1]}"
else
  say "no mariadb/mysql CLI; the services create database $DB_NAME (it is left behind)"
fi

COMMON_ENV=(
  "MYSQL_URL=$MYSQL_URL"
  "REDIS_URL=$REDIS_URL"
  "REDIS_PREFIX=$REDIS_PREFIX"
  "RUST_LOG=${RUST_LOG:-info}"
  "LOG_FORMAT=${LOG_FORMAT:-json}"
  "MIGRATE=false"
)

say "migrating (rest-api migrate)"
env "${COMMON_ENV[@]}" PORT="$P_REST" "$BIN_DIR/rest-api" migrate >"$LOG_DIR/migrate.log" 2>&1 ||
  die "rest-api migrate failed: $(tail -n 30 "$LOG_DIR/migrate.log")"

# ------------------------------------------------------------------ services
start() { # name, then env assignments..., then -- command...
  local name=$1
  shift
  local envs=()
  while [[ $1 != -- ]]; do
    envs+=("$1")
    shift
  done
  shift
  env "${COMMON_ENV[@]}" "${envs[@]}" "$@" >"$LOG_DIR/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
  say "started $name (pid $!)"
}

http_ok() { # url -> 0 when it answers 2xx
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
  else
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
  fi
}

wait_ready() { # name url
  local name=$1 url=$2 i pid=""
  for i in "${!NAMES[@]}"; do [[ ${NAMES[$i]} == "$name" ]] && pid=${PIDS[$i]}; done
  local deadline=$((SECONDS + READY_TIMEOUT))
  until http_ok "$url"; do
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      die "$name exited before it was ready (see $LOG_DIR/$name.log)"
    fi
    ((SECONDS < deadline)) || die "$name not ready at $url after ${READY_TIMEOUT}s"
    sleep 0.3
  done
  say "$name ready ($url)"
}

start grpc-server PORT="$P_GS_HTTP" GRPC_PORT="$P_GRPC" -- "$BIN_DIR/grpc-server"
start rest-api PORT="$P_REST" -- "$BIN_DIR/rest-api"
start realtime PORT="$P_RT" -- "$BIN_DIR/realtime"
wait_ready grpc-server "http://127.0.0.1:$P_GS_HTTP/readyz"
start grpc-client PORT="$P_GC" GRPC_SERVER_URL="http://127.0.0.1:$P_GRPC" -- "$BIN_DIR/grpc-client"
wait_ready rest-api "http://127.0.0.1:$P_REST/readyz"
wait_ready realtime "http://127.0.0.1:$P_RT/readyz"
wait_ready grpc-client "http://127.0.0.1:$P_GC/readyz"

start dashboard PORT="$P_DASH" HOST=127.0.0.1 API_BASE_URL="http://127.0.0.1:$P_RT" -- node "$FRONTEND/scripts/serve.mjs" "$FRONTEND/dist"
wait_ready dashboard "http://127.0.0.1:$P_DASH/healthz"

# ------------------------------------------------------------------ test
say "running e2e/dashboard.e2e.mjs"
set +e
(
  cd "$FRONTEND"
  DASHBOARD_URL="http://127.0.0.1:$P_DASH/" \
    REALTIME_URL="http://127.0.0.1:$P_RT" \
    GRPC_CLIENT_URL="http://127.0.0.1:$P_GC" \
    REST_API_URL="http://127.0.0.1:$P_REST" \
    SCREENSHOT="${SCREENSHOT:-}" \
    node e2e/dashboard.e2e.mjs
) 2>&1 | tee "$LOG_DIR/e2e.log"
STATUS=${PIPESTATUS[0]}
set -e
SUMMARY="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOG_DIR/e2e.log" | tail -n 1)"
[[ -n "$SUMMARY" ]] || SUMMARY="0 passed, 1 failed"
[[ $STATUS == 0 ]] && SUMMARY=""   # already the last line printed
exit "$STATUS"
