#!/usr/bin/env bash
# Render the GKE manifests with the placeholders filled in from the environment.
#
#   kustomize/scripts/gke-render.sh            > grades-gke.yaml   # overlays/gke
#   kustomize/scripts/gke-render.sh cloudrun   > dashboard-run.yaml
#
# Required environment (docs/deploy.md, "GKE"):
#   GCP_PROJECT_ID          e.g. my-project
#   GCP_PROJECT_NUMBER      e.g. 123456789012 (in the Cloud Run dashboard's URL)
#   GCP_REGION              e.g. us-central1 (Artifact Registry + Cloud SQL + Cloud Run region)
#   GRADES_VERSION          image tag pushed to Artifact Registry, e.g. v0.1.0 or a git sha
#   CLOUDSQL_INSTANCE_NAME  e.g. grades-mysql
#   MEMORYSTORE_REDIS_HOST  Memorystore primary endpoint IP, e.g. 10.100.0.3
#   GATEWAY_PUBLIC_HOST     the DNS name pointing at the Gateway's static IP (grades-ip),
#                           e.g. grades.example.edu: the one setting every public URL comes
#                           from (https://GATEWAY_PUBLIC_HOST: the API base URL of both
#                           dashboards, the origin realtime allows, the load generator's target)
# CLOUD_SQL_PROXY_VERSION comes from kustomize/versions.env (the environment may override it).
# ALLOW_PLACEHOLDERS=1 renders anyway and leaves missing values as placeholders.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${1:-overlay}"

CLOUD_SQL_PROXY_VERSION="${CLOUD_SQL_PROXY_VERSION:-$(sed -n 's/^CLOUD_SQL_PROXY_VERSION=//p' "${here}/../versions.env")}"
export CLOUD_SQL_PROXY_VERSION

vars=(GCP_PROJECT_ID GCP_PROJECT_NUMBER GCP_REGION GRADES_VERSION CLOUDSQL_INSTANCE_NAME MEMORYSTORE_REDIS_HOST
      GATEWAY_PUBLIC_HOST CLOUD_SQL_PROXY_VERSION)
missing=()
for v in "${vars[@]}"; do
  [ -n "${!v:-}" ] || missing+=("$v")
done
if [ "${#missing[@]}" -gt 0 ] && [ "${ALLOW_PLACEHOLDERS:-0}" != "1" ]; then
  echo "gke-render: set ${missing[*]} (or ALLOW_PLACEHOLDERS=1 to keep placeholders)" >&2
  exit 2
fi

check() {  # name value regex
  if [ -n "$2" ] && ! [[ "$2" =~ $3 ]]; then
    echo "gke-render: $1='$2' does not look right (expected $3)" >&2
    exit 2
  fi
}
check GCP_PROJECT_ID "${GCP_PROJECT_ID:-}" '^[a-z][a-z0-9-]{4,28}[a-z0-9]$'
check GCP_PROJECT_NUMBER "${GCP_PROJECT_NUMBER:-}" '^[0-9]{6,20}$'
check GCP_REGION "${GCP_REGION:-}" '^[a-z]+-[a-z]+[0-9]+$'
check GRADES_VERSION "${GRADES_VERSION:-}" '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
check CLOUDSQL_INSTANCE_NAME "${CLOUDSQL_INSTANCE_NAME:-}" '^[a-z][a-z0-9-]{0,97}$'
check MEMORYSTORE_REDIS_HOST "${MEMORYSTORE_REDIS_HOST:-}" '^[A-Za-z0-9.-]+$'
# A DNS name, not the bare IP: Google-managed certificates are issued for names only.
check GATEWAY_PUBLIC_HOST "${GATEWAY_PUBLIC_HOST:-}" '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'
check CLOUD_SQL_PROXY_VERSION "${CLOUD_SQL_PROXY_VERSION:-}" '^[0-9]+\.[0-9]+\.[0-9]+$'

args=(-e '')  # an empty script keeps sed valid when nothing is set
for v in "${vars[@]}"; do
  if [ -n "${!v:-}" ]; then args+=(-e "s|${v}|${!v}|g"); fi
done

case "${target}" in
  overlay)
    # Substitute in a copy of kustomize/ BEFORE building, so the hash suffix
    # of the generated ConfigMap reflects the real values and a changed value
    # rolls the Deployments.
    tmp="$(mktemp -d)"
    trap 'rm -rf "${tmp}"' EXIT
    cp -R "${here}/.." "${tmp}/kustomize"
    find "${tmp}/kustomize" -name '*.yaml' -exec sed -i "${args[@]}" {} +
    if command -v kubectl >/dev/null 2>&1; then
      kubectl kustomize "${tmp}/kustomize/overlays/gke"
    else
      kustomize build "${tmp}/kustomize/overlays/gke"
    fi
    ;;
  cloudrun)
    sed "${args[@]}" "${here}/../cloudrun/dashboard.yaml"
    ;;
  *)
    echo "usage: $0 [overlay|cloudrun]" >&2
    exit 64
    ;;
esac
