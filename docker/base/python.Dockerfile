# grades-base/python: Debian's Python in a virtual environment on PATH, in place of
# `python:<version>-slim-bookworm` (the `grades-loadgen` image): `pip install` and `python` work
# as in the upstream image, without touching the system's packages.
ARG DEBIAN_IMAGE=grades-base/debian:sid
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && python3 -m venv /opt/python
ENV PATH=/opt/python/bin:$PATH
CMD ["python3"]
