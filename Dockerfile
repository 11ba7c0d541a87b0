# syntax=docker/dockerfile:1
# One image for every Tessera role: `tessera metadata|node|gateway` (see
# deploy/k8s and docs/operations.md). Build: docker build -t tessera:dev .
#
# Stage 1 builds a virtualenv with Tessera and its dependencies (compilers are
# there for any dependency without a wheel for this platform); stage 2 copies
# only that virtualenv onto the same slim Python, with no build tools, and runs
# as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc g++ libc6-dev libisal2 \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/tessera
WORKDIR /src
# .dockerignore keeps the venv, data, tests and docs out of the context.
COPY . .
# A regular (not editable) install: the final stage has no /src.
# ISA-L (Debian's libisal2, C library only) goes into the virtualenv, which is
# all the final stage copies: it computes zfec's parity ~15x faster
# (tessera/isal.py finds it through TESSERA_ISAL_LIBRARY).
RUN /opt/tessera/bin/pip install --no-cache-dir . \
    && /opt/tessera/bin/python -m compileall -q /opt/tessera/lib \
    && cp /usr/lib/*-linux-gnu/libisal.so.2 /opt/tessera/lib/libisal.so.2

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="tessera" \
      org.opencontainers.image.description="S3-compatible, erasure-coded, zone-aware object store"
RUN groupadd --system --gid 10001 tessera \
    && useradd --system --uid 10001 --gid tessera --home-dir /var/lib/tessera \
       --no-create-home --shell /usr/sbin/nologin tessera \
    && install -d -o tessera -g tessera -m 0750 /var/lib/tessera
COPY --from=build /opt/tessera /opt/tessera
ENV PATH=/opt/tessera/bin:$PATH \
    TESSERA_ISAL_LIBRARY=/opt/tessera/lib/libisal.so.2 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/tessera
USER 10001:10001
# S3 (gateway), gRPC (metadata 9100, node 9200) and the ops endpoints (+1).
EXPOSE 9000 9001 9100 9101 9200 9201
ENTRYPOINT ["tessera"]
CMD ["--help"]
