# grades-base/rust: Debian's rustc and cargo with a C toolchain, in place of the upstream
# `rust:<version>-bookworm` image (the builder of the `grades` image).
ARG DEBIAN_IMAGE=grades-base/debian:sid
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y rustc cargo gcc libc6-dev pkg-config \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
