#!/usr/bin/env bash
# A Docker engine with Compose v2 and buildx for the sandbox and the tests, on a Debian machine
# (root) that has none running: what .ci/run calls, and what a newcomer can run once.
#
#   scripts/docker-engine.sh start   install what is missing (Debian's docker.io; the compose and
#                                    buildx plugins from a newer Debian suite when this one has
#                                    none), start dockerd if no engine answers, wait for it
#   scripts/docker-engine.sh stop    stop dockerd, only if `start` started it (images and the
#                                    layer cache stay in /var/lib/docker for the next run)
#
# Environment: PLUGIN_SUITE (the Debian suite to take the plugins from, default sid),
# DEBIAN_MIRROR (default: the first Debian mirror in this machine's apt sources).
set -euo pipefail
source "$(dirname "$0")/lib/debian.sh"

state=/run/grades-docker-engine.pid
log=/var/log/grades-dockerd.log
plugins=/usr/local/lib/docker/cli-plugins

say() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

apt_install() {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}


# The compose and buildx plugins (Go binaries) from PLUGIN_SUITE's packages, unpacked with dpkg -x
# into the CLI's plugin directory: this machine's own suite may carry neither, and installing the
# other suite's docker.io would pull half of it in. apt works in a private state directory, so the
# machine's own package lists are untouched.
# Global, not local: the EXIT trap that removes it runs after this function has returned.
work=
install_plugins() {
    local suite=${PLUGIN_SUITE:-sid}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/root"
    echo "deb $(debian_mirror) $suite main" > "$work/sources.list"
    local apt=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Acquire::Check-Valid-Until=false
               -o APT::Sandbox::User=root)
    say "fetching docker-compose and docker-buildx from Debian $suite"
    apt-get "${apt[@]}" -qq update
    (cd "$work" && apt-get "${apt[@]}" -qq download docker-compose docker-buildx)
    for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
    mkdir -p "$plugins"
    install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$plugins/docker-compose"
    install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-buildx" "$plugins/docker-buildx"
}

start() {
    if ! command -v docker >/dev/null || ! command -v dockerd >/dev/null; then
        say "installing docker.io"
        apt_install docker.io
    fi
    if ! docker compose version >/dev/null 2>&1 || ! docker buildx version >/dev/null 2>&1; then
        install_plugins
    fi
    if docker info >/dev/null 2>&1; then
        say "an engine answers: $(docker version --format '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
        return
    fi
    [ "$(id -u)" = 0 ] || die "no engine answers and starting one needs root"
    say "starting dockerd (log: $log)"
    dockerd >"$log" 2>&1 &
    echo $! > "$state"
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && { say "dockerd $(docker version --format '{{.Server.Version}}') is up"; return; }
        kill -0 "$(cat "$state")" 2>/dev/null || { tail -20 "$log" >&2; rm -f "$state"; die "dockerd exited (log above)"; }
        sleep 1
    done
    die "dockerd did not answer within 60 s ($log)"
}

stop() {
    [ -f "$state" ] || { say "not started by this script: left running"; return; }
    local pid
    pid=$(cat "$state")
    say "stopping dockerd ($pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    rm -f "$state"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 start|stop" ;;
esac
