# grades-dashboard: the React dashboard (frontend/) built once and served by
# unprivileged nginx. Runtime configuration is NOT baked in: at container start
# docker/dashboard/entrypoint.sh writes /config.js from $API_BASE_URL
#   window.__GRADES_CONFIG__ = { apiBaseUrl: "..." };
# so the same image serves compose, kind, GKE and Cloud Run.
#
#   docker build -f docker/dashboard.Dockerfile -t grades-dashboard .
#   docker run --rm -p 3000:8080 -e API_BASE_URL=http://localhost:8003 grades-dashboard
#
# Build context: the repository root (docker/dashboard.Dockerfile.dockerignore
# lets in only frontend/ and docker/dashboard/).

# Base images: the upstream ones by default; `just base-images` passes local stand-ins built
# from Debian's packages as NODE_IMAGE / NGINX_IMAGE (docs/deploy.md).
ARG NODE_IMAGE=node:20-bookworm-slim
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.28-alpine

################################### build #####################################
FROM ${NODE_IMAGE} AS build
WORKDIR /app/frontend
# Dependencies first: this layer is reused until package*.json change.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

################################## runtime ####################################
FROM ${NGINX_IMAGE} AS runtime
LABEL org.opencontainers.image.title="grades-dashboard" \
      org.opencontainers.image.description="grades dashboard (static bundle + runtime /config.js)"
COPY docker/dashboard/nginx.conf /etc/nginx/nginx.conf
COPY --chmod=0755 docker/dashboard/entrypoint.sh /usr/local/bin/grades-dashboard-entrypoint
COPY --from=build /app/frontend/dist/ /usr/share/nginx/html/
ENV API_BASE_URL="" \
    CONFIG_DIR=/tmp/grades-config
EXPOSE 8080
# Any uid works (everything nginx writes lives under /tmp); 10001 matches the
# Kubernetes securityContext. With readOnlyRootFilesystem, mount an emptyDir
# on /tmp.
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/grades-dashboard-entrypoint"]
CMD ["nginx", "-g", "daemon off;"]
