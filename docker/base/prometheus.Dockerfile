# grades-base/prometheus: Debian's Prometheus (the package's binary, as the native tests run it:
# scripts/prometheus-debian.sh), behaving like `prom/prometheus` for compose: `prometheus` is the
# entry point with the upstream image's default flags, config in /etc/prometheus, data in
# /prometheus, uid 65534 (nobody); wget for the healthcheck, as the upstream image has busybox's.
ARG DEBIAN_IMAGE=grades-base/debian:sid
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus wget \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p /prometheus && chown 65534:65534 /prometheus
WORKDIR /prometheus
VOLUME /prometheus
EXPOSE 9090
USER 65534:65534
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
