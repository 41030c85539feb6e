# echoscope: `make run` serves, `make test` proves it, `make bench` measures it.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PORT ?= 8080
export PORT

.PHONY: run test unit integration lint audit bench soak tools container-tools image image-test clean

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	exec $(VENV)/bin/gunicorn -c config/gunicorn.conf.py service.wsgi:app

# Debian's prometheus (and its promtool) for the dashboard proof, chromium and its driver
# for the inspector's browser test, redis-server for the shared history, curl (Debian's has
# HTTP/2) for the h2c checks and to run the inspector's "copy as curl"; tests fail without them.
TOOLS := prometheus:prometheus promtool:prometheus chromium:chromium \
	chromedriver:chromium-driver redis-server:redis-server curl:curl
tools:
	@missing=$$(for pair in $(TOOLS); do command -v $${pair%%:*} >/dev/null || echo $${pair#*:}; done | sort -u); \
	[ -z "$$missing" ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

# The image, built and run without a Docker engine: Debian's podman with runc, and
# debootstrap for a stand-in base where the real one cannot be pulled.
IMAGE ?= localhost/echoscope:dev
BASE_IMAGE = $(shell sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)
image image-test: export CONTAINERS_CONF := $(CURDIR)/tests/image/containers.conf
# The build reaches the package index as this machine's pip does: its index and
# CA bundle (mounted over the image's for the build only; nothing is kept).
PIP_INDEX_URL ?= $(shell python3 -m pip config get global.index-url 2>/dev/null)
IMAGE_CA ?= $(or $(PIP_CERT),$(shell python3 -m pip config get global.cert 2>/dev/null))
IMAGE_BUILD_ARGS = $(if $(PIP_INDEX_URL),--build-arg PIP_INDEX_URL=$(PIP_INDEX_URL)) \
	$(if $(IMAGE_CA),-v $(abspath $(IMAGE_CA)):/etc/ssl/certs/ca-certificates.crt:ro \
		--build-arg PIP_CERT=/etc/ssl/certs/ca-certificates.crt)

container-tools:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null; }

image: container-tools
	bash tests/image/base.sh $(BASE_IMAGE)
	podman build --pull=never --isolation=chroot $(IMAGE_BUILD_ARGS) -t $(IMAGE) .

image-test: $(VENV)/.dev image
	ECHOSCOPE_IMAGE=$(IMAGE) $(PY) -m pytest -o addopts= tests/image -q

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict service

unit: $(VENV)/.dev
	$(PY) -m pytest tests/unit -q

integration: $(VENV)/.dev tools
	$(PY) -m pytest tests/integration -q

test: $(VENV)/.dev tools lint
	$(PY) -m pytest tests -q

audit: $(VENV)/.dev
	bash tests/audit.sh $(PY)

bench: $(VENV)/.runtime
	bash bench/run.sh $(BENCH_ARGS)

soak: $(VENV)/.runtime
	bash bench/soak.sh $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
