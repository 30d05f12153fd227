#!/usr/bin/env bash
# Locust from a local virtual environment (no Docker): `just load`, `just load-ui`.
#
#   loadgen/run.sh [LOCUST ARGS...]                  any Locust command line
#   loadgen/run.sh headless URL USERS RATE DURATION [LOCUST ARGS...]
#       a headless run; CSV and HTML reports in $LOADGEN_RESULTS/<UTC time>/
#
# The venv lives in loadgen/.venv: created on the first run, re-used after,
# reinstalled when requirements.txt changes (scripts/lib/venv.sh).
# Environment: PYTHON (default python3), LOADGEN_VENV (default loadgen/.venv),
# LOADGEN_RESULTS (default loadgen/results), and every LOCUST_* / LOADGEN_* knob.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${LOADGEN_VENV:-${here}/.venv}"

# shellcheck source=../scripts/lib/venv.sh
source "${here}/../scripts/lib/venv.sh"
venv_sync "${venv}" "${here}/requirements.txt" loadgen

locust=("${venv}/bin/locust" -f "${here}/locustfile.py")
export PYTHONPATH="${here}${PYTHONPATH:+:${PYTHONPATH}}"

if [ "${1:-}" != "headless" ]; then
  exec "${locust[@]}" "$@"
fi

if [ $# -lt 5 ]; then
  echo "usage: loadgen/run.sh headless URL USERS SPAWN_RATE DURATION [LOCUST ARGS...]" >&2
  exit 2
fi
url=$2 users=$3 spawn_rate=$4 duration=$5
shift 5
results="${LOADGEN_RESULTS:-${here}/results}/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "${results}"
echo "loadgen: ${users} users (+${spawn_rate}/s) for ${duration} against ${url}; reports in ${results}" >&2
status=0
"${locust[@]}" --headless --host "${url}" --users "${users}" --spawn-rate "${spawn_rate}" --run-time "${duration}" \
  --csv "${results}/grades" --csv-full-history --html "${results}/report.html" "$@" || status=$?
if [ -f "${results}/report.html" ]; then
  echo "loadgen: reports: ${results}/report.html, ${results}/grades_stats.csv (per route + Aggregated)," \
    "${results}/grades_failures.csv, ${results}/grades_stats_history.csv" >&2
fi
case "${status}" in
  0) ;;
  1) echo "loadgen: some requests failed (Locust exit status 1): see the failures CSV" >&2 ;;
  *) echo "loadgen: Locust exited with ${status}" >&2 ;;
esac
exit "${status}"
