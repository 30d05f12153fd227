# grades-base/runtime: glibc, libgcc and CA certificates, in place of
# `gcr.io/distroless/cc-debian12` (the runtime stage of the `grades` image). Unlike distroless it
# keeps Debian's minimal userland (a shell, apt): a local sandbox image, never a production one.
ARG DEBIAN_IMAGE=grades-base/debian:sid
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y libgcc-s1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
USER 65532:65532
