# grades-base/nginx: Debian's nginx set up like `nginxinc/nginx-unprivileged` (the compose
# ingress and the runtime stage of `grades-dashboard`): runs as uid 101, listens on 8080, keeps
# its pid and temporary files in /tmp, logs to stdout/stderr; wget for the healthchecks.
ARG DEBIAN_IMAGE=grades-base/debian:sid
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y nginx wget \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /etc/nginx/sites-enabled/* /etc/nginx/conf.d/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log \
 && chmod 0777 /var/log/nginx
COPY nginx/nginx.conf /etc/nginx/nginx.conf
EXPOSE 8080
STOPSIGNAL SIGQUIT
USER 101:101
CMD ["nginx", "-g", "daemon off;"]
