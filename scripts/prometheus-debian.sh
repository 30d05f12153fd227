#!/usr/bin/env bash
# Debian's Prometheus and promtool for the tests of observability/ (`just test-alerts`,
# `just test-observability`), natively: the `prometheus` and `promtool` packages of
# PROMETHEUS_SUITE (default sid, the suite the grades-base/prometheus image is built from, so
# both run the same version), unpacked with dpkg -x under .tools/prometheus. Nothing is
# installed into the system: apt works in a private state directory.
#
#   scripts/prometheus-debian.sh            fetch them unless already there; print the bin directory
#   scripts/prometheus-debian.sh --refresh  fetch the suite's current version again
#
# Environment: PROMETHEUS_SUITE (sid), DEBIAN_MIRROR (default: this machine's apt sources).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/debian.sh

tools=.tools/prometheus
bin=$tools/usr/bin

say() { printf 'prometheus-debian: %s\n' "$*" >&2; }

if [[ ${1:-} != --refresh && -x $bin/prometheus && -x $bin/promtool ]]; then
    echo "$PWD/$bin"
    exit 0
fi

suite=${PROMETHEUS_SUITE:-sid}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/root"
echo "deb $(debian_mirror) $suite main" >"$work/sources.list"
apt=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Acquire::Check-Valid-Until=false
     -o APT::Sandbox::User=root)
say "fetching prometheus and promtool from Debian $suite"
apt-get "${apt[@]}" -qq update
(cd "$work" && apt-get "${apt[@]}" -qq download prometheus promtool)
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
rm -rf "$tools"
mkdir -p "$bin"
install -m 0755 "$work/root/usr/bin/prometheus" "$work/root/usr/bin/promtool" "$bin/"
say "$("$bin/prometheus" --version | head -1)"
echo "$PWD/$bin"
