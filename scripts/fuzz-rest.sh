#!/usr/bin/env bash
# `just fuzz-rest`: schemathesis generates requests from docs/openapi.json (valid grades, and
# invalid ones: wrong types, out-of-range numbers, odd headers) and sends them to a rest-api
# started natively against a fresh database; it fails on any 5xx, an undocumented status, or an
# answer (status, content type, headers, body) the document does not describe.
#
#   MYSQL_SERVER_URL (mysql://root@127.0.0.1:3306)  REDIS_URL (redis://127.0.0.1:6379)
#   FUZZ_REST_BIN (target/debug: the rest-api binary, built beforehand)  FUZZ_REST_DB (grades_fuzz_rest)
#   FUZZ_REST_PORT_BASE (9800: rest-api on base + 2)  FUZZ_REST_EXAMPLES (500 per operation and phase)
#   FUZZ_REST_CHECKS (the checks below, comma-separated; `all` for every one schemathesis has)
#   SCHEMATHESIS_VENV (.venv-schemathesis, with scripts/fuzz-rest-requirements.txt installed)
#   FUZZ_REST_SEED (random: schemathesis prints the one it used, to replay a failure)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
source scripts/lib/mysql.sh

SERVICES_PORT_BASE=${FUZZ_REST_PORT_BASE:-9800}
server=${MYSQL_SERVER_URL:-mysql://root@127.0.0.1:3306}
redis=${REDIS_URL:-redis://127.0.0.1:6379}
db=${FUZZ_REST_DB:-grades_fuzz_rest}
prefix=fuzz-rest:
bin=${FUZZ_REST_BIN:-target/debug}
venv=${SCHEMATHESIS_VENV:-.venv-schemathesis}
out=target/fuzz-rest
mkdir -p "$out"

sql_server "$server"
sql_fresh_database "$db" "$bin/rest-api"
redis_forget "$redis" "$prefix"
# shellcheck disable=SC2329 # run by the EXIT trap
cleanup() {
    services_stop 10
    redis_forget "$redis" "$prefix"
    sql -e "DROP DATABASE IF EXISTS $db"
}
trap cleanup EXIT
export MYSQL_URL=$server/$db REDIS_URL=$redis REDIS_PREFIX=$prefix LOG_FORMAT=json RUST_LOG=warn
services_launch "$bin" "$out" rest-api
services_wait_ready 60 rest-api
url=$(service_url rest-api)

# The checks: no 5xx; every status documented; each answer's content type, headers and body as
# documented; requests the document calls invalid (wrong types, out of range, a missing field)
# refused with a 4xx; a method the path does not have answered 405 with `Allow`. Not run:
# positive_data_acceptance (the document cannot list the catalog's course codes, which live in
# MySQL, so a well-formed unknown course is a documented 422, not a defect), and the checks of
# authentication and of resources (no token is set here; nothing is fetched back by id).
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance
checks+=,response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,allow_header_conformance
started=$SECONDS
status=0
"$venv/bin/schemathesis" --config-file scripts/fuzz-rest-schemathesis.toml --no-color run docs/openapi.json --url "$url" \
    --checks "${FUZZ_REST_CHECKS:-$checks}" \
    --phases examples,coverage,fuzzing \
    --max-examples "${FUZZ_REST_EXAMPLES:-500}" \
    ${FUZZ_REST_SEED:+--seed "$FUZZ_REST_SEED"} \
    --workers 2 \
    --request-timeout 10 \
    --report junit --report-junit-path "$out/junit.xml" \
    --warnings off \
    --suppress-health-check all \
    --generation-database none || status=$?
# What the run made rest-api answer, and what it stored, so a run that only ever got 422s shows.
echo "fuzz-rest: POST /grades answers by status:"
curl -fs "$url/metrics" | grep '^grades_http_requests_total{' | sed 's/^/    /' || true
echo "fuzz-rest: grades stored: $(sql_value "$db" "SELECT COUNT(*) FROM grades")"
echo "fuzz-rest: schemathesis took $((SECONDS - started)) s (report: $out/junit.xml, rest-api log: $out/rest-api.log)"
if ((status != 0)); then
    echo "fuzz-rest: failed; rest-api's log follows" >&2
    tail -n 50 "$out/rest-api.log" >&2 || true
fi
exit "$status"
