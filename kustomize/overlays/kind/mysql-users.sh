# Sourced by the mysql image's entrypoint (docker-entrypoint-initdb.d) on the first start of an
# empty data directory: one MySQL user per kind of access, the same privileges as
# scripts/sql/users.sql (docs/security.md), named like the IAM users on GKE. The passwords come
# from the dev-only Secrets grades-db-<role>; each workload reads only its own.
# docker_process_sql is the entrypoint's client, logged in as root.
# shellcheck shell=bash disable=SC2154
for variable in GRADES_MIGRATOR_PASSWORD GRADES_APP_PASSWORD GRADES_READER_PASSWORD MYSQL_DATABASE; do
  case "${!variable:-}" in
    '' | *"'"* | *\\* | *'`'*) echo "mysql-users.sh: ${variable} is empty or holds a quote" >&2; exit 1 ;;
  esac
done
docker_process_sql --database=mysql <<SQL
CREATE USER IF NOT EXISTS '${GRADES_MIGRATOR_USER:-grades-migrator}'@'%' IDENTIFIED BY '${GRADES_MIGRATOR_PASSWORD}';
GRANT ALL PRIVILEGES ON \`${MYSQL_DATABASE}\`.* TO '${GRADES_MIGRATOR_USER:-grades-migrator}'@'%';
CREATE USER IF NOT EXISTS '${GRADES_APP_USER:-grades-app}'@'%' IDENTIFIED BY '${GRADES_APP_PASSWORD}';
GRANT SELECT, INSERT, UPDATE, CREATE TEMPORARY TABLES ON \`${MYSQL_DATABASE}\`.* TO '${GRADES_APP_USER:-grades-app}'@'%';
CREATE USER IF NOT EXISTS '${GRADES_READER_USER:-grades-reader}'@'%' IDENTIFIED BY '${GRADES_READER_PASSWORD}';
GRANT SELECT ON \`${MYSQL_DATABASE}\`.* TO '${GRADES_READER_USER:-grades-reader}'@'%';
SQL
