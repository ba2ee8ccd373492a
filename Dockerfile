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

# ---- build stage: install the package into /install --------------------------
FROM python:3.12-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY . .
# --no-compile: the final stage compiles the bytecode at the files' final paths.
RUN pip install --no-cache-dir --no-compile --prefix=/install .

# ---- runtime stage -----------------------------------------------------------
FROM python:3.12-slim

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

COPY --from=build /install /usr/local

# pip's console-script launcher imports re only to tidy argv[0], before the
# thin worker client runs. Replace it by the three lines it needs, calling the
# package's console script (benchmarks/bench_argocd.py times the same launcher).
RUN printf '#!/usr/local/bin/python3\nimport sys\nfrom renderer.__main__ import main\nsys.exit(main())\n' \
      > /usr/local/bin/eventbus-render

# The official python images delete every .pyc to save space. Compile the
# standard library and site-packages now, at their final paths, so that a cold
# `eventbus-render` start imports bytecode instead of compiling it. At run time
# PYTHONDONTWRITEBYTECODE=1 stops Python trying to write caches (the root
# filesystem is read-only for uid 999).
#
# Also create uid/gid 999. Argo CD requires the sidecar to run as 999, and
# the upstream argocd image uses the same user, argocd with home
# /home/argocd.
RUN python -m compileall -q -j 0 /usr/local/lib/python3.12 \
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
