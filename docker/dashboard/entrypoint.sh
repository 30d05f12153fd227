#!/bin/sh
# Writes the dashboard's runtime configuration, then runs the given command
# (nginx by default). nginx serves "$CONFIG_DIR/config.js" as /config.js.
#
#   API_BASE_URL  where the browser reaches the realtime API and Socket.IO,
#                 e.g. http://localhost:8003 or https://grades.example.com.
#                 Empty means "same origin as the dashboard".
#   CONFIG_DIR    writable directory for config.js (default /tmp/grades-config)
set -eu

CONFIG_DIR="${CONFIG_DIR:-/tmp/grades-config}"
API_BASE_URL="${API_BASE_URL:-}"

# shellcheck disable=SC1003 # the pattern matches a literal backslash
case "$API_BASE_URL" in
  *'"'* | *'\'* | *'<'* | *'>'* | *' '*)
    echo "grades-dashboard: API_BASE_URL contains a character not allowed in a URL: $API_BASE_URL" >&2
    exit 64
    ;;
esac
if [ "$(printf '%s' "$API_BASE_URL" | wc -l)" -ne 0 ]; then
  echo "grades-dashboard: API_BASE_URL must be a single line" >&2
  exit 64
fi
# A trailing slash would produce "//api/..." when the app appends paths.
API_BASE_URL="${API_BASE_URL%/}"

mkdir -p "$CONFIG_DIR"
tmp="$CONFIG_DIR/.config.js.$$"
printf 'window.__GRADES_CONFIG__ = { apiBaseUrl: "%s" };\n' "$API_BASE_URL" > "$tmp"
mv "$tmp" "$CONFIG_DIR/config.js"
echo "grades-dashboard: wrote $CONFIG_DIR/config.js (apiBaseUrl=\"$API_BASE_URL\")" >&2

exec "$@"
