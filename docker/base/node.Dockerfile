# grades-base/node: Debian's Node.js and npm, in place of `node:<version>-bookworm-slim` (the
# build stage of the `grades-dashboard` image).
ARG DEBIAN_IMAGE=grades-base/debian:sid
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y nodejs npm \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
CMD ["node"]
