# grades: ONE image holding the four services (grpc-client, grpc-server,
# rest-api, realtime) plus a tiny HTTP probe (grades-healthcheck).
# See docs/CONTRACTS.md ("Processes") and docs/deploy.md.
#
#   docker build -t grades .
#   docker run --rm grades rest-api            # the command picks the service
#   docker run --rm grades grpc-server migrate # one-shot migrations
#
# Why one image for four binaries: they share one Cargo workspace, one
# dependency graph and one lockfile, so a single `cargo build` compiles every
# shared crate (sqlx, tonic, axum, ...) once instead of four times; there is one
# thing to tag, scan, sign and pull, and each Deployment/compose service only
# chooses its `command`. The four commands are links to one executable,
# `grades` (crates/grades), which runs the service its name says: a release
# build links the dependency graph with LTO once instead of four times (the
# longest step of this build), and the image carries one copy of it.
#
# Dependency caching: cargo-chef (not BuildKit cache mounts).
#   * `cargo chef prepare` reduces the workspace to a recipe (manifests +
#     Cargo.lock). The `cook` layer below depends only on that recipe, so a
#     change to any .rs file reuses the cached layer with every third-party
#     crate already compiled and only our own crates are rebuilt.
#   * Unlike `RUN --mount=type=cache`, the result lives in an ordinary image
#     layer: it survives in CI and can be shared through a registry with
#     `--cache-to/--cache-from type=registry` (Artifact Registry), and it works
#     the same under Tilt, compose and Cloud Build. Cache mounts are local to
#     one BuildKit daemon and are lost on ephemeral builders.
#
# Build context: the repository root. `Dockerfile.dockerignore` (BuildKit's
# per-Dockerfile ignore file) lets in only what the Rust build needs, so edits
# to frontend/, docs/ or kustomize/ never invalidate these layers (except
# docs/compare.json, let in for the runtime image: a new `just compare` result
# rebuilds our crates, not the cached dependencies).

# Base images: the upstream ones by default. `just base-images` builds local stand-ins from
# Debian's packages for machines that cannot pull (docs/deploy.md) and passes them in as
# RUST_IMAGE / RUNTIME_IMAGE. The builder's glibc must not be newer than the runtime's: change
# both together.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG CARGO_CHEF_VERSION=0.1.78

############################ toolchain + cargo-chef ###########################
FROM ${RUST_IMAGE} AS chef
ARG CARGO_CHEF_VERSION
# protoc comes from the `protoc-bin-vendored` crate (build.rs of crates/proto),
# so no protobuf-compiler package is installed here.
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src
# SQLX_OFFLINE: sqlx compile-time checked queries (if any) use committed .sqlx/
# data, never a live database, inside an image build.
ENV CARGO_TERM_COLOR=never \
    CARGO_NET_RETRY=5 \
    SQLX_OFFLINE=true

################################## planner ####################################
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

############################ grades-healthcheck ###############################
# std-only probe used by compose healthchecks (the runtime image has no shell
# and no curl). Plain rustc, no crates, so it builds in a couple of seconds.
FROM chef AS healthcheck
COPY docker/healthcheck/main.rs /tmp/healthcheck.rs
RUN mkdir -p /out \
 && rustc --edition 2021 -C opt-level=s -C strip=symbols /tmp/healthcheck.rs -o /out/grades-healthcheck

################################## builder ####################################
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# The caching layer: third-party dependencies only (rebuilt when Cargo.toml or
# Cargo.lock change, not when our code does).
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin grades \
 && mkdir -p /out \
 && cp target/release/grades /out/ \
 && for service in grpc-client grpc-server rest-api realtime; do ln -s grades "/out/$service"; done

################################## runtime ####################################
# distroless/cc: glibc + libgcc + CA certificates, no shell, no package
# manager. Debian 12 matches the bookworm builder's glibc. (The :nonroot tag is
# the same image with a default non-root user; we still pin uid 10001 below.)
FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="grades" \
      org.opencontainers.image.description="grades registration system: grpc-client, grpc-server, rest-api, realtime" \
      org.opencontainers.image.licenses="MIT"
COPY --from=builder /out/ /usr/local/bin/
COPY --from=healthcheck /out/grades-healthcheck /usr/local/bin/grades-healthcheck
# The published route comparison (`just compare`) that realtime serves at GET /api/compare.
COPY docs/compare.json /usr/share/grades/compare.json
ENV RUST_LOG=info \
    LOG_FORMAT=json \
    COMPARE_JSON=/usr/share/grades/compare.json
# grpc-client 8001, rest-api 8002, realtime 8003, grpc-server 8011 (HTTP) + 50051 (gRPC)
EXPOSE 8001 8002 8003 8011 50051
# Numeric uid/gid so Kubernetes can verify runAsNonRoot without /etc/passwd.
USER 10001:10001
# No default command on purpose: every service names its binary, e.g.
#   command: ["rest-api"]   or   command: ["grpc-server", "migrate"]
