#!/usr/bin/env bash
# The Rust half of `tilt up -- --dev`: compiles the four services on this machine (cargo's
# incremental debug build, the same one `just dev` uses) and stages them with what
# tilt/dev.Dockerfile copies into target/tilt-dev/. A binary is copied only when it changed, so
# Tilt syncs only what a build really replaced. Prints how long the build and the staging took.
#
# Environment: CARGO_TARGET_DIR (cargo's, default <repo>/target), STAGE_DIR (default
# <repo>/target/tilt-dev).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
stage="${STAGE_DIR:-${root}/target/tilt-dev}"
target_dir="${CARGO_TARGET_DIR:-${root}/target}"
services=(grpc-client grpc-server rest-api realtime)

started=$(date +%s%N)
args=()
for service in "${services[@]}"; do args+=(--bin "${service}"); done
(cd "${root}" && cargo build --locked "${args[@]}")
built=$(date +%s%N)

mkdir -p "${stage}/bin"
install_if_changed() {  # source destination
  if ! cmp -s "$1" "$2"; then
    cp "$1" "$2.new" && mv -f "$2.new" "$2"
    echo "dev-binaries: staged ${2#"${stage}"/}"
  fi
}
for service in "${services[@]}"; do
  install_if_changed "${target_dir}/debug/${service}" "${stage}/bin/${service}"
done
install_if_changed "${root}/tilt/dev/grades-dev-run" "${stage}/grades-dev-run"
install_if_changed "${root}/docs/compare.json" "${stage}/compare.json"
staged=$(date +%s%N)
echo "dev-binaries: cargo build $(( (built - started) / 1000000 )) ms, staging $(( (staged - built) / 1000000 )) ms"
