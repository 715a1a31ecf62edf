# The imagebuild executor image: a drop-in for kaniko's executor image in CI jobs.
#
# Build it with the tool itself (scripts/build-image does this):
#   imagebuild --context . --dockerfile Dockerfile --no-push --tar-path imagebuild.tar \
#     --destination pytest-imagebuild/executor:0.1.0 \
#     --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
#
# BASE is a Debian 12 (bookworm) image with apt: debian:bookworm-slim by default, or any
# bookworm root of your own (the test suite uses a debootstrap minbase from a local registry).
# The optional secret "ca" is a CA bundle that pip trusts while it installs the package, for
# build machines behind a TLS-inspecting proxy; it never reaches a layer.
ARG BASE=debian:bookworm-slim

FROM ${BASE}

# python3 is 3.11 on bookworm; uidmap brings newuidmap/newgidmap for rootless builds,
# libseccomp2 the library the RUN sandbox compiles its seccomp filter with. newuidmap and
# newgidmap get file capabilities instead of the setuid bit: setuid root, they keep euid 0
# and the kernel then wants CAP_SYS_ADMIN for the id map, which a container lacks; with
# cap_setuid/cap_setgid alone they act as the calling user and the map is allowed.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-pip ca-certificates uidmap libseccomp2 libcap2-bin \
 && chmod 0755 /usr/bin/newuidmap /usr/bin/newgidmap \
 && setcap cap_setuid=ep /usr/bin/newuidmap \
 && setcap cap_setgid=ep /usr/bin/newgidmap \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log

# The package is installed from the context (pyproject.toml, README.md and pytest_imagebuild/,
# as .dockerignore lets through) bound in for this one step, so no layer holds the sources;
# rw lets setuptools write its build files there, which are dropped afterwards.
RUN --mount=type=bind,target=/usr/src/pytest-imagebuild,rw \
    --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
 && PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install \
      --break-system-packages --root-user-action=ignore /usr/src/pytest-imagebuild \
 && rm -rf /root/.cache \
 && mkdir -p /kaniko/.docker /workspace \
 && useradd --uid 1001 --user-group --create-home --shell /bin/sh imagebuild \
 && echo imagebuild:100000:65536 > /etc/subuid \
 && echo imagebuild:100000:65536 > /etc/subgid \
 && ln -s /usr/local/bin/imagebuild /kaniko/executor \
 && imagebuild --help > /dev/null

# Root by default, as kaniko's image: the chroot mode under docker's default seccomp profile.
# User imagebuild (1001) has subordinate ids 100000-165535 for rootless builds (docs/image.md).
ENV DOCKER_CONFIG=/kaniko/.docker \
    PYTHONDONTWRITEBYTECODE=1
LABEL org.opencontainers.image.title="imagebuild" \
      org.opencontainers.image.description="pytest-imagebuild's rootless executor with kaniko's flags" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /workspace
ENTRYPOINT ["/usr/local/bin/imagebuild"]
