#!/usr/bin/env bash
# Delete the kind cluster; keep the registry (and its cached images) unless
# KEEP_REGISTRY=false.
set -euo pipefail
CLUSTER_NAME="${CLUSTER_NAME:-grades}"
REGISTRY_NAME="${REGISTRY_NAME:-kind-registry}"
kind delete cluster --name "${CLUSTER_NAME}"
if [ "${KEEP_REGISTRY:-true}" = "false" ]; then
  docker rm -f "${REGISTRY_NAME}"
fi
