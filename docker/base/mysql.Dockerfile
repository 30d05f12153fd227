# grades-base/mysql: Oracle MySQL server from Debian's packages (MySQL, not MariaDB), behaving like
# the upstream `mysql` image for compose and the tests: the same environment variables
# (MYSQL_ROOT_PASSWORD or MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD),
# /docker-entrypoint-initdb.d, options as the command, data in /var/lib/mysql, root reachable
# from other containers, the mysql and mysqladmin clients. docs/deploy.md lists the differences.
ARG DEBIAN_IMAGE=grades-base/debian:sid
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y mysql-server-core mysql-client-core \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && (getent group mysql >/dev/null || groupadd --system mysql) \
 && (getent passwd mysql >/dev/null || useradd --system --gid mysql --home-dir /var/lib/mysql --shell /usr/sbin/nologin mysql) \
 && mkdir -p /var/lib/mysql /var/lib/mysql-files /var/run/mysqld /docker-entrypoint-initdb.d /etc/mysql/conf.d \
 && chown mysql:mysql /var/lib/mysql /var/lib/mysql-files /var/run/mysqld \
 && chmod 0777 /var/run/mysqld
COPY mysql/my.cnf /etc/mysql/my.cnf
COPY --chmod=0755 mysql/entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/mysql
EXPOSE 3306 33060
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["mysqld"]
