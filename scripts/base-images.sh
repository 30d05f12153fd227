#!/usr/bin/env bash
# Builds, from Debian's packages, every base image that compose, the Dockerfiles and the tests
# need, for a machine that cannot pull from Docker Hub (no registry, a university lab); then
# records their names in .env, which compose reads, so that a plain `just up` uses them.
#
#   just base-images            build what is missing or stale (Docker's layer cache makes a
#                               second run take seconds)
#   just base-images --rebuild  debootstrap the root file system again (new packages)
#
# Environment: BASE_SUITE (Debian suite, default sid: it has MySQL 9.7, nginx >= 1.27.3 for the
# ingress's `resolve`, Node.js >= 20.19 for Vite), DEBIAN_MIRROR (default: the first Debian
# mirror in this machine's apt sources), BASE_PREFIX (image names, default grades-base).
#
# The upstream images stay the defaults everywhere; these come in through variables
# (MYSQL_IMAGE, REDIS_IMAGE, NGINX_IMAGE, RUST_IMAGE, RUNTIME_IMAGE, NODE_IMAGE, PYTHON_IMAGE,
# PROMETHEUS_IMAGE, TEST_MYSQL_IMAGE, TEST_REDIS_IMAGE). docs/deploy.md says how they differ from the upstream ones.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/debian.sh

suite=${BASE_SUITE:-sid}
prefix=${BASE_PREFIX:-grades-base}
rebuild=false
[ "${1:-}" = --rebuild ] && rebuild=true

say() { printf 'base-images: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed): start one (scripts/docker-engine.sh start as root), or set DOCKER_HOST."


image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

rootfs=$prefix/rootfs:$suite
if [ "$rebuild" = true ] || ! image_exists "$rootfs"; then
    [ "$(id -u)" = 0 ] || die "debootstrap needs root: run as root once (the images are then cached)"
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    mirror=$(debian_mirror)
    tree=$(mktemp -d)
    trap 'rm -rf "$tree"' EXIT
    say "debootstrap --variant=minbase $suite (about a minute)"
    started=$SECONDS
    debootstrap --variant=minbase "$suite" "$tree" "$mirror" >"$tree.log" 2>&1 \
        || { tail -20 "$tree.log" >&2; die "debootstrap failed (log above)"; }
    rm -f "$tree.log"
    # debootstrap keeps the packages it downloaded: not part of a base image.
    rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/cache/apt/*.bin "$tree"/var/lib/apt/lists/*
    tar -C "$tree" -c . | docker import --message "debootstrap --variant=minbase $suite" - "$rootfs" >/dev/null
    rm -rf "$tree"
    trap - EXIT
    say "imported $rootfs in $((SECONDS - started)) s"
fi

build() {
    local name=$1 tag=$prefix/$1:$suite started=$SECONDS
    shift
    docker build -q -f "docker/base/$name.Dockerfile" -t "$tag" "$@" docker/base >/dev/null \
        || die "building $tag failed: docker build -f docker/base/$name.Dockerfile docker/base shows why"
    say "$tag ready ($((SECONDS - started)) s)"
}

export DOCKER_BUILDKIT=1
# The debian image's context also holds the certificate authorities this machine added
# (BASE_EXTRA_CA_DIR, default Debian's place for them), so the images trust what the host trusts.
extra_ca=${BASE_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir "$context/extra-ca"
cp docker/base/debian.Dockerfile "$context/"
find "$extra_ca" -maxdepth 1 -name '*.crt' -exec cp {} "$context/extra-ca/" \; 2>/dev/null || true
started=$SECONDS
docker build -q -f "$context/debian.Dockerfile" -t "$prefix/debian:$suite" --build-arg "DEBIAN_ROOTFS=$rootfs" "$context" >/dev/null \
    || die "building $prefix/debian:$suite failed"
say "$prefix/debian:$suite ready ($((SECONDS - started)) s, trusting $(find "$context/extra-ca" -name '*.crt' | wc -l) added certificate authorities)"
rm -rf "$context"
trap - EXIT
for name in rust runtime node python nginx redis mysql prometheus; do
    build "$name" --build-arg "DEBIAN_IMAGE=$prefix/debian:$suite"
done

# What each image holds, as its own programs report it.
version() { docker run --rm --entrypoint "$2" "$prefix/$1:$suite" "${@:3}" 2>&1 | head -1; }
say "mysql:   $(version mysql mysqld --version)"
say "redis:   $(version redis redis-server --version)"
say "nginx:   $(version nginx nginx -v)"
say "rust:    $(version rust rustc --version)"
say "node:    $(version node node --version)"
say "python:  $(version python python3 --version)"
say "prometheus: $(version prometheus prometheus --version)"

# compose reads .env from the project directory: the block below is rewritten on every run,
# anything else in the file (passwords, INGEST_TOKEN) is kept.
begin='# >>> just base-images: local base images (delete this block to use the upstream ones)'
end='# <<< just base-images'
block=$(cat <<EOF
$begin
MYSQL_IMAGE=$prefix/mysql:$suite
REDIS_IMAGE=$prefix/redis:$suite
NGINX_IMAGE=$prefix/nginx:$suite
RUST_IMAGE=$prefix/rust:$suite
RUNTIME_IMAGE=$prefix/runtime:$suite
DEV_RUNTIME_IMAGE=$prefix/runtime:$suite
NODE_IMAGE=$prefix/node:$suite
PYTHON_IMAGE=$prefix/python:$suite
PROMETHEUS_IMAGE=$prefix/prometheus:$suite
TEST_MYSQL_IMAGE=$prefix/mysql:$suite
TEST_REDIS_IMAGE=$prefix/redis:$suite
$end
EOF
)
kept=""
[ -f .env ] && kept=$(awk -v b="$begin" -v e="$end" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' .env)
{ [ -n "$kept" ] && printf '%s\n' "$kept"; printf '%s\n' "$block"; } > .env.tmp && mv .env.tmp .env
say "wrote the image names into .env (compose and just read them)"
