# echoscope: Flask on gunicorn, made for Cloud Run.
#
# Two stages. gunicorn's C parser (gunicorn_h1c) is published as source only, so
# the builder compiles every requirement into a wheel; the image installs those
# wheels alone and has no compiler. Plain Dockerfile syntax (no BuildKit-only
# `RUN --mount`): `docker build`, Cloud Build and `podman build` all take it.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# Where the package index is reached differently (a mirror, an intercepting
# proxy's CA bundle), the build passes these; they stay in this stage.
# An empty PIP_CERT is pip's own bundle.
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_CERT=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
# gunicorn_h1c's build needs setuptools>=77 and wheel: pinned here and installed
# once, instead of an unpinned build environment per source package.
RUN pip install --root-user-action=ignore setuptools==84.2.1 wheel==0.48.0 \
    && pip wheel --no-build-isolation --wheel-dir /wheels -r requirements.txt

FROM ${PYTHON_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OTEL_SEMCONV_STABILITY_OPT_IN=http \
    PORT=8080

WORKDIR /app

# Dependencies first: this layer stays cached while the code changes. Only the
# builder's wheels, never the index: what was compiled there is what runs here.
# (Their 4 MB stay in the COPY layer: the price of not needing BuildKit.)
COPY requirements.txt .
COPY --from=builder /wheels /wheels
RUN pip install --root-user-action=ignore --no-index --find-links=/wheels -r requirements.txt \
    && rm -rf /wheels

RUN groupadd --gid 10001 echoscope \
    && useradd --uid 10001 --gid echoscope --no-create-home --shell /usr/sbin/nologin echoscope
COPY service/ service/
COPY config/gunicorn.conf.py config/gunicorn.conf.py
# Byte-compiled here, once: with PYTHONDONTWRITEBYTECODE every cold start would compile
# echoscope's ~90 modules from source again (18 % of a worker's start).
RUN python -m compileall -q service

USER echoscope
EXPOSE 8080
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "service.wsgi:app"]
