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
# It migrates once (`rest-api migrate`), starts the services on free ports (a port base none of
# whose ports is taken) with a unique REDIS_PREFIX (scripts/lib/services.sh, as `just dev` does), waits for every /readyz, serves dist/
# with scripts/serve.mjs (config.js generated from API_BASE_URL), runs e2e/dashboard.e2e.mjs and
# stops everything on exit.
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

# The services are started, awaited and stopped by the project's shared helpers.
# shellcheck source=../../scripts/lib/services.sh
source "$ROOT/scripts/lib/services.sh"
# shellcheck source=../../scripts/lib/mysql.sh
source "$ROOT/scripts/lib/mysql.sh"

# ------------------------------------------------------------------ cleanup
DB_NAME=""
STATUS=1
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  services_stop 10
  if [[ -n "$DB_NAME" ]]; then
    sql -e "DROP DATABASE IF EXISTS \`$DB_NAME\`" >/dev/null 2>&1 || true
  fi
  [[ -n "${E2E_KEEP_REDIS:-}" ]] || redis_forget "$REDIS_URL" "$REDIS_PREFIX" 2>/dev/null || true
  if [[ $STATUS != 0 || $rc != 0 ]]; then
    local log
    for log in "$LOG_DIR"/*.log; do
      [[ -f $log ]] || continue
      say "---- last lines of $(basename "$log") ----"
      tail -n 25 "$log" >&2
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
# A port base whose every service port is free (services.txt's ports shifted by base - 8000), and
# one port more for the dashboard's server.
mapfile -t DEFAULT_PORTS < <(services_ports)
mapfile -t PORTS < <(python3 - "${DEFAULT_PORTS[@]}" <<'PY'
import random
import socket
import sys

defaults = [int(port) for port in sys.argv[1:]]


def free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


for _ in range(100):
    base = random.randrange(10_000, 65_000 - max(defaults) + 8000)
    if all(free(port + base - 8000) for port in defaults):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            print(base, probe.getsockname()[1], sep="\n")
        break
PY
)
[[ ${#PORTS[@]} == 2 ]] || die "could not find free ports"
SERVICES_PORT_BASE=${PORTS[0]} DASHBOARD_PORT=${PORTS[1]}

# ------------------------------------------------------------------ database
# Each run gets its own empty database (MYSQL_URL's name plus a suffix), dropped on exit, so the
# live figures start from zero: the services rebuild Redis's live state from MySQL on first use.
base_name=${MYSQL_URL##*/}
[[ "$base_name" =~ ^[A-Za-z0-9_]+$ ]] || die "MYSQL_URL must name a database ([A-Za-z0-9_]+), got '$base_name'"
sql_server "${MYSQL_URL%/*}"
DB_NAME="${base_name}_$$_${RANDOM}"
say "creating and migrating database $DB_NAME"
sql_fresh_database "$DB_NAME" "$BIN_DIR/rest-api" || die "could not create or migrate $DB_NAME at ${MYSQL_URL%/*}"
export MYSQL_URL="${MYSQL_URL%/*}/$DB_NAME" REDIS_URL REDIS_PREFIX RUST_LOG=${RUST_LOG:-info} LOG_FORMAT=${LOG_FORMAT:-json}
# realtime serves the published comparison from the repository (the services run from frontend/).
export COMPARE_JSON=${COMPARE_JSON:-$ROOT/docs/compare.json}

# ------------------------------------------------------------------ services
services_launch "$BIN_DIR" "$LOG_DIR" "${GRADES_SERVICES[@]}"
services_wait_ready "$READY_TIMEOUT" "${GRADES_SERVICES[@]}" || die "the services did not become ready"
process_start dashboard "$LOG_DIR/dashboard.log" env PORT="$DASHBOARD_PORT" HOST=127.0.0.1 \
  API_BASE_URL="$(service_url realtime)" node "$FRONTEND/scripts/serve.mjs" "$FRONTEND/dist"
process_wait_ready "http://127.0.0.1:$DASHBOARD_PORT/healthz" "$READY_TIMEOUT" || die "the dashboard server did not start"
say "services ready"

# ------------------------------------------------------------------ test
say "running e2e/dashboard.e2e.mjs"
set +e
(
  cd "$FRONTEND"
  DASHBOARD_URL="http://127.0.0.1:$DASHBOARD_PORT/" \
    REALTIME_URL="$(service_url realtime)" \
    GRPC_CLIENT_URL="$(service_url grpc-client)" \
    REST_API_URL="$(service_url rest-api)" \
    SCREENSHOT="${SCREENSHOT:-}" \
    node e2e/dashboard.e2e.mjs
) 2>&1 | tee "$LOG_DIR/e2e.log"
STATUS=${PIPESTATUS[0]}
set -e
SUMMARY="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOG_DIR/e2e.log" | tail -n 1)"
[[ -n "$SUMMARY" ]] || SUMMARY="0 passed, 1 failed"
[[ $STATUS == 0 ]] && SUMMARY=""   # already the last line printed
exit "$STATUS"
