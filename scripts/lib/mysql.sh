# shellcheck shell=bash
# The mysql (or mariadb) client against a server URL (sourced by scripts/*.sh).
#
#   sql_server URL        set the server the functions below talk to (mysql://user:pass@host:port)
#   sql ARGS...           the command-line client against it (`sql DB -e "..."`, `sql -e "..."`)
#   sql_value DB QUERY    the first column of the first row, without headers
#   sql_fresh_database DB MIGRATOR   drop and create DB, then migrate it with MIGRATOR (a rest-api binary)

sql_server() {
    local authority=${1#*://} credentials=""
    SQL_URL=$1
    [[ $authority == *@* ]] && credentials=${authority%@*}
    SQL_HOSTPORT=${authority##*@}
    SQL_USER=${credentials%%:*}
    SQL_USER=${SQL_USER:-root}
    SQL_PASSWORD=""
    [[ $credentials == *:* ]] && SQL_PASSWORD=${credentials#*:}
    return 0
}

sql() {
    local client=mysql
    command -v mariadb >/dev/null && client=mariadb
    "$client" -h"${SQL_HOSTPORT%:*}" -P"${SQL_HOSTPORT##*:}" -u"$SQL_USER" ${SQL_PASSWORD:+-p"$SQL_PASSWORD"} "$@"
}

sql_value() {
    sql "$1" -N -B -e "$2" | head -1
}

sql_fresh_database() {
    sql -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1"
    MYSQL_URL="$SQL_URL/$1" "$2" migrate >/dev/null 2>&1
}
