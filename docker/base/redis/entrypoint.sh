#!/bin/sh
# Entry point of grades-base/redis. Like the upstream image's: options alone start redis-server,
# and the server runs as the redis user. Protected mode is turned off unless the command sets it:
# the upstream image compiles it off, so that other containers reach an unconfigured server.
set -eu
case "${1:-}" in
  -*) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = redis-server ]; then
  case " $* " in
    *protected-mode*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    chown -R redis:redis . 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
