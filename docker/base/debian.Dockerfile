# grades-base/debian: the root of every local base image (scripts/base-images.sh).
# DEBIAN_ROOTFS is a `debootstrap --variant=minbase` tree imported with `docker import`. This
# layer makes apt lean, accepts the unstable suite's Release file after its Valid-Until date (the
# registry's copy of sid is often past it), and trusts the certificate authorities the building
# machine added locally (extra-ca/, copied by the script from /usr/local/share/ca-certificates):
# behind a TLS-inspecting proxy, cargo, npm and pip inside the builds need them as the host does.
ARG DEBIAN_ROOTFS=grades-base/rootfs:sid
FROM ${DEBIAN_ROOTFS}
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN printf '%s\n' 'Acquire::Check-Valid-Until "false";' 'APT::Install-Recommends "false";' \
        'APT::Install-Suggests "false";' 'Dpkg::Use-Pty "0";' > /etc/apt/apt.conf.d/90grades \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y ca-certificates \
 && update-ca-certificates \
 && rm -rf /var/cache/apt/archives/*.deb /var/cache/apt/*.bin /var/lib/apt/lists/*
# Every TLS client in the derived images (cargo, npm, pip) reads the system's bundle.
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["bash"]
