#!/bin/bash
# Entry point of grades-base/mysql, following the upstream image's contract: options alone start
# mysqld; on an empty data directory it initializes the server, sets the root password (for
# root@localhost and root@'%'), creates MYSQL_DATABASE and MYSQL_USER, runs
# /docker-entrypoint-initdb.d/*.sql and *.sh against a server reachable only through its socket,
# then starts the real server in the foreground.
set -euo pipefail

log() { printf '%s [Entrypoint]: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

if [ "${1:0:1}" = '-' ]; then
    set -- mysqld "$@"
fi
if [ "$1" != mysqld ]; then
    exec "$@"
fi
if [ "$(id -u)" = 0 ]; then
    chown mysql:mysql /var/lib/mysql /var/lib/mysql-files /var/run/mysqld
    exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

datadir=/var/lib/mysql
socket=/var/run/mysqld/mysqld.sock
if [ ! -d "$datadir/mysql" ]; then
    if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then
        log "the database is uninitialized and no root password was given: set MYSQL_ROOT_PASSWORD, or MYSQL_ALLOW_EMPTY_PASSWORD=yes"
        exit 1
    fi
    log "initializing the data directory"
    "$@" --initialize-insecure
    log "starting a temporary server (socket only)"
    "$@" --skip-networking --mysqlx=OFF --socket="$socket" &
    pid=$!
    for _ in $(seq 1 60); do
        mysqladmin --socket="$socket" -uroot ping --silent 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { log "the temporary server exited"; exit 1; }
        sleep 1
    done
    sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }
    password=$(sql_string "${MYSQL_ROOT_PASSWORD:-}")
    {
        echo "SET @@SESSION.SQL_LOG_BIN = 0;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $password;"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY $password;"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "${MYSQL_DATABASE:-}" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
        fi
        if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
            echo "CREATE USER $(sql_string "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
            if [ -n "${MYSQL_DATABASE:-}" ]; then
                echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(sql_string "$MYSQL_USER")@'%';"
            fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | mysql --socket="$socket" -uroot
    client=(mysql --socket="$socket" -uroot "--password=${MYSQL_ROOT_PASSWORD:-}")
    for file in /docker-entrypoint-initdb.d/*; do
        case "$file" in
            *.sh)
                log "running $file"
                # shellcheck source=/dev/null
                . "$file"
                ;;
            *.sql) log "running $file"; "${client[@]}" "${MYSQL_DATABASE:-}" < "$file" ;;
            *) ;;
        esac
    done
    mysqladmin --socket="$socket" -uroot "--password=${MYSQL_ROOT_PASSWORD:-}" shutdown
    wait "$pid"
    log "initialization done; starting the server"
fi
exec "$@"
