# syntax=docker/dockerfile:1
#
# Sidecar image for the eventbus-render Argo CD Config Management Plugin.
#
#   docker build -t ghcr.io/example/eventbus-render:0.1.0 .
#
# The image sets no ENTRYPOINT. The pod spec (deploy/repo-server-sidecar.yaml)
# supplies the command:
#
#   command: [eventbus-render, argocd, serve, --, /var/run/argocd/argocd-cmp-server]
#
# `eventbus-render argocd serve` starts the pre-forked render worker in the
# background, serving from the private directory /tmp/eventbus-render-worker
# (EVENTBUS_RENDER_WORKER; empty disables it). It then exec()s the command
# after `--`; the worker exits when that process does (PR_SET_PDEATHSIG).
# argocd-cmp-server is copied into the shared var-files volume by the
# repo-server's init container, so the image does not contain it. No shell or
# entrypoint script is involved, and nothing from the repository has to be
# executable. Argo CD hands repo files to plugins as 0644.
#
# To run argocd-cmp-server without the worker, set the command to
# [/var/run/argocd/argocd-cmp-server]. `eventbus-render argocd generate` then
# renders in-process.

# The base: the official Python image, pinned to one release. BASE_IMAGE may
# name any image laid out like it (python3 and pip in /usr/local/bin); the CI
# builds on one made from Debian packages (tests/image/). To pin the digest
# as well, append it: --build-arg BASE_IMAGE=python:3.12.12-slim-bookworm@sha256:...
# (`docker buildx imagetools inspect python:3.12.12-slim-bookworm` prints it).
ARG BASE_IMAGE=python:3.12.12-slim-bookworm

# ---- build stage: install the package into /install --------------------------
FROM ${BASE_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# The pinned dependencies and build backend first, in a layer of their own: a
# change to the sources does not download them again.
# --no-compile: the final stage compiles the bytecode at the files' final paths.
COPY image/requirements.txt image/build-requirements.txt image/
RUN pip install --no-cache-dir --no-compile --prefix=/install --requirement image/requirements.txt \
 && pip install --no-cache-dir --no-compile --requirement image/build-requirements.txt
COPY . .
# --no-deps: the dependencies are the pinned ones above. --no-build-isolation:
# built by the pinned backend installed above, without fetching another.
RUN pip install --no-cache-dir --no-compile --no-deps --no-build-isolation --prefix=/install .

# ---- runtime stage -----------------------------------------------------------
FROM ${BASE_IMAGE}

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

COPY --from=build /install /usr/local

# pip's console-script launcher imports re only to tidy argv[0], before the
# thin worker client runs. Replace it by the three lines it needs, calling the
# package's console script (benchmarks/bench_argocd.py times the same launcher).
# Its mode is set, not inherited: root's, executable by everyone, written by no one else.
RUN printf '#!/usr/local/bin/python3\nimport sys\nfrom renderer.__main__ import main\nsys.exit(main())\n' \
      > /usr/local/bin/eventbus-render \
 && chmod 0755 /usr/local/bin/eventbus-render

# The official python images delete every .pyc to save space. Compile the
# standard library and site-packages now, at their final paths, so that a cold
# `eventbus-render` start imports bytecode instead of compiling it. The
# directories are the interpreter's own (sysconfig), whatever its version and
# layout. At run time PYTHONDONTWRITEBYTECODE=1 stops Python trying to write
# caches (the root filesystem is read-only for uid 999).
#
# Also create uid/gid 999. Argo CD requires the sidecar to run as 999, and
# the upstream argocd image uses the same user, argocd with home
# /home/argocd.
RUN python -c 'import compileall, sys, sysconfig; sys.exit(not all([compileall.compile_dir(sysconfig.get_path(name), quiet=1, workers=0) for name in ("stdlib", "purelib")]))' \
 && groupadd --gid 999 argocd \
 && useradd --uid 999 --gid 999 --no-create-home --home-dir /home/argocd \
      --shell /usr/sbin/nologin --no-log-init argocd \
 && mkdir -p /home/argocd/cmp-server/config /home/argocd/cmp-server/plugins \
 && chown -R 999:999 /home/argocd

# Fallback plugin configuration. deploy/ mounts the eventbus-render-plugin
# ConfigMap over this file (subPath plugin.yaml). Both come from the same
# top-level plugin.yaml.
COPY plugin.yaml /home/argocd/cmp-server/config/plugin.yaml

ENV PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/argocd

WORKDIR /home/argocd
USER 999

# Only used by a plain `docker run`. In Kubernetes, the container's `command`
# replaces it.
CMD ["eventbus-render", "--help"]
