# shellcheck shell=bash
# Debian's package registry as this machine knows it (sourced by scripts/base-images.sh and
# scripts/docker-engine.sh). The mirror comes from the machine's apt sources, never from the
# repository.
#
#   debian_mirror     DEBIAN_MIRROR if set, else the first Debian mirror in /etc/apt/sources.list*

debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
    local found
    found=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}')
    [ -n "$found" ] || found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*\/debian\/?$/) { print $i; exit } }')
    if [ -z "$found" ]; then
        echo "no Debian mirror in /etc/apt/sources.list*: set DEBIAN_MIRROR" >&2
        return 1
    fi
    echo "$found"
}
