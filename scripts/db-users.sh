#!/usr/bin/env bash
# Creates (or updates) the grades database and its three MySQL users of least privilege
# (scripts/sql/users.sql; docs/security.md): a migrator with DDL rights, the routes' app user
# (rows only), realtime's read-only reader. Run with an administrator's URL; re-running is harmless.
#
#   ADMIN_MYSQL_URL=mysql://root@127.0.0.1:3306 GRADES_DATABASE=grades scripts/db-users.sh
#
# Environment (all optional): ADMIN_MYSQL_URL (server URL of a user allowed to CREATE USER and
# GRANT; default mysql://root@127.0.0.1:3306), GRADES_DATABASE (default grades), USER_HOST
# (default %), MIGRATOR_USER / APP_USER / READER_USER and MIGRATOR_PASSWORD / APP_PASSWORD /
# READER_PASSWORD (defaults: grades_migrator, grades_app, grades_reader with dev-only passwords).
# Prints the three MySQL URLs, one per line: migrator, app, reader.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/mysql.sh

admin=${ADMIN_MYSQL_URL:-mysql://root@127.0.0.1:3306}
database=${GRADES_DATABASE:-grades}
migrator_user=${MIGRATOR_USER:-grades_migrator} migrator_password=${MIGRATOR_PASSWORD:-grades-migrator-dev-only}
app_user=${APP_USER:-grades_app} app_password=${APP_PASSWORD:-grades-app-dev-only}
reader_user=${READER_USER:-grades_reader} reader_password=${READER_PASSWORD:-grades-reader-dev-only}

quote() { local value=${1//\\/\\\\}; printf "'%s'" "${value//\'/\'\'}"; } # an SQL string literal
sql_server "$admin"
# The settings, then the script, on the client's input: MySQL's client (unlike MariaDB's) takes
# SOURCE only at the start of a line, which `-e` never gives it.
{
    echo "SET @grades_database = $(quote "$database"), @grades_user_host = $(quote "${USER_HOST:-%}"),
        @migrator_user = $(quote "$migrator_user"), @migrator_password = $(quote "$migrator_password"),
        @app_user = $(quote "$app_user"), @app_password = $(quote "$app_password"),
        @reader_user = $(quote "$reader_user"), @reader_password = $(quote "$reader_password");"
    cat scripts/sql/users.sql
} | sql

# URLs carry the passwords percent-encoded (a password may hold @ : / and the like).
encode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
server=${admin#*://}
server=${server##*@}
server=${server%%/*}
for pair in "$migrator_user:$migrator_password" "$app_user:$app_password" "$reader_user:$reader_password"; do
    echo "mysql://${pair%%:*}:$(encode "${pair#*:}")@$server/$database"
done
