# grades, development image for `tilt up -- --dev` (tilt/Tiltfile): the four service binaries
# compiled on the developer's machine by tilt/scripts/dev-binaries.sh (debug profile, no image
# build of Rust at all), started through grades-dev-run, which restarts a service when Tilt's
# live_update syncs a new binary into the running pod. Never a production image: it has a shell.
# Build context: target/tilt-dev (bin/, grades-dev-run, compare.json, staged by that script).
#
# DEV_RUNTIME_IMAGE needs a shell and tar (Tilt syncs with tar) and a glibc at least as new as
# the one of the machine that compiled the binaries (Debian 12 or older, Ubuntu 22.04: the
# default is fine; newer hosts: e.g. debian:trixie-slim; offline: grades-base/runtime:sid).
ARG DEV_RUNTIME_IMAGE=debian:bookworm-slim
FROM ${DEV_RUNTIME_IMAGE}
# The base may end with a non-root USER (grades-base/runtime does): the links need root.
USER 0
COPY bin/ /opt/grades/bin/
COPY grades-dev-run /usr/local/lib/grades-dev-run
COPY compare.json /usr/share/grades/compare.json
SHELL ["/bin/sh", "-eu", "-c"]
RUN for name in grpc-client grpc-server rest-api realtime; do \
        ln -s /usr/local/lib/grades-dev-run "/usr/local/bin/${name}"; \
    done
ENV RUST_LOG=info \
    LOG_FORMAT=json \
    COMPARE_JSON=/usr/share/grades/compare.json
USER 10001:10001
