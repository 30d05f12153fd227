# grades-base/redis: Debian's Redis, behaving like the upstream `redis` image for compose and the
# tests: `redis-server [options]` as the command, data in /data, reachable from other containers
# (protected mode off, as the upstream image builds it), logs on stdout.
ARG DEBIAN_IMAGE=grades-base/debian:sid
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p /data && chown redis:redis /data
COPY --chmod=0755 redis/entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
VOLUME /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
