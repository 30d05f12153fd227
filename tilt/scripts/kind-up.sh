#!/usr/bin/env bash
# Create the local kind cluster for grades (idempotent: re-running is safe).
#
#   1. a local registry container `kind-registry` published on localhost:5001
#   2. the kind cluster `grades` (tilt/kind-config.yaml) wired to that registry
#   3. Gateway API CRDs + Envoy Gateway (Helm chart; it ships the standard
#      Gateway API CRDs), GatewayClass `eg`, and a stable alias Service
#      envoy-gateway-system/grades-gateway for the proxies of Gateway so1p2/grades
#   4. metrics-server with --kubelet-insecure-tls (kubelet certs in kind are
#      self-signed), so the HorizontalPodAutoscalers get CPU metrics
#
# Needs: docker (with a running engine), kind >= 0.24 (NetworkPolicy support
# in kindnet), kubectl, helm >= 3.8 (OCI charts).
# Versions: kustomize/versions.env (the one place for them); the environment overrides them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pinned() { sed -n "s/^$1=//p" "${here}/../../kustomize/versions.env"; }
CLUSTER_NAME="${CLUSTER_NAME:-grades}"
REGISTRY_NAME="${REGISTRY_NAME:-kind-registry}"
REGISTRY_PORT="${REGISTRY_PORT:-5001}"
REGISTRY_IMAGE="${REGISTRY_IMAGE:-registry:2}"
ENVOY_GATEWAY_VERSION="${ENVOY_GATEWAY_VERSION:-$(pinned ENVOY_GATEWAY_VERSION)}"
METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-$(pinned METRICS_SERVER_VERSION)}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-}"   # e.g. kindest/node:v1.32.2; empty = kind's default

config="${here}/../kind-config.yaml"
context="kind-${CLUSTER_NAME}"

log() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "kind-up: '$1' is required but not installed" >&2; exit 1; }; }
need docker; need kind; need kubectl; need helm
docker info >/dev/null 2>&1 || { echo "kind-up: the docker engine is not reachable" >&2; exit 1; }

# 1. Local registry --------------------------------------------------------
if [ "$(docker inspect -f '{{.State.Running}}' "${REGISTRY_NAME}" 2>/dev/null || true)" != "true" ]; then
  log "starting registry ${REGISTRY_NAME} on 127.0.0.1:${REGISTRY_PORT}"
  docker rm -f "${REGISTRY_NAME}" >/dev/null 2>&1 || true
  docker run -d --restart=always -p "127.0.0.1:${REGISTRY_PORT}:5000" --network bridge \
    --name "${REGISTRY_NAME}" "${REGISTRY_IMAGE}"
fi

# 2. Cluster ----------------------------------------------------------------
if ! kind get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; then
  log "creating kind cluster ${CLUSTER_NAME}"
  args=(create cluster --name "${CLUSTER_NAME}" --config "${config}" --wait 120s)
  [ -n "${KIND_NODE_IMAGE}" ] && args+=(--image "${KIND_NODE_IMAGE}")
  kind "${args[@]}"
fi

log "pointing containerd on every node at the registry"
registry_dir="/etc/containerd/certs.d/localhost:${REGISTRY_PORT}"
for node in $(kind get nodes --name "${CLUSTER_NAME}"); do
  docker exec "${node}" mkdir -p "${registry_dir}"
  printf '[host."http://%s:5000"]\n' "${REGISTRY_NAME}" | docker exec -i "${node}" cp /dev/stdin "${registry_dir}/hosts.toml"
done

if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "${REGISTRY_NAME}")" = "null" ]; then
  docker network connect kind "${REGISTRY_NAME}"
fi

# Documents the registry for tools (Tilt reads it): KEP-1755.
kubectl --context "${context}" apply -f - <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:${REGISTRY_PORT}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
YAML

# 3. Gateway API + Envoy Gateway ---------------------------------------------
log "installing Envoy Gateway ${ENVOY_GATEWAY_VERSION} (with the Gateway API CRDs)"
helm --kube-context "${context}" upgrade --install eg oci://docker.io/envoyproxy/gateway-helm \
  --version "${ENVOY_GATEWAY_VERSION}" \
  --namespace envoy-gateway-system --create-namespace --wait --timeout 5m
kubectl --context "${context}" -n envoy-gateway-system wait --for=condition=Available deployment/envoy-gateway --timeout=300s
kubectl --context "${context}" wait --for=condition=Established crd/gateways.gateway.networking.k8s.io crd/httproutes.gateway.networking.k8s.io --timeout=60s

kubectl --context "${context}" apply -f - <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: eg
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
---
# Envoy Gateway names the proxy Service after a hash; this alias selects the
# proxy pods of Gateway so1p2/grades (listener 8080, see the kind overlay) so
# Tilt's port-forward and the in-cluster load generator have a fixed address.
apiVersion: v1
kind: Service
metadata:
  name: grades-gateway
  namespace: envoy-gateway-system
spec:
  selector:
    gateway.envoyproxy.io/owning-gateway-name: grades
    gateway.envoyproxy.io/owning-gateway-namespace: so1p2
  ports:
    - name: http
      port: 8080
      targetPort: 8080
      protocol: TCP
YAML

# 4. metrics-server ------------------------------------------------------------
log "installing metrics-server ${METRICS_SERVER_VERSION} (--kubelet-insecure-tls)"
kubectl --context "${context}" apply -f "https://github.com/kubernetes-sigs/metrics-server/releases/download/${METRICS_SERVER_VERSION}/components.yaml"
if ! kubectl --context "${context}" -n kube-system get deployment metrics-server -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q -- '--kubelet-insecure-tls'; then
  kubectl --context "${context}" -n kube-system patch deployment metrics-server --type=json \
    -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--kubelet-insecure-tls"}]'
fi
kubectl --context "${context}" -n kube-system rollout status deployment/metrics-server --timeout=180s

log "ready: kubectl context ${context}, registry localhost:${REGISTRY_PORT}"
echo "next: tilt up -f tilt/Tiltfile   (or: just tilt)"
