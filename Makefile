# echoscope: `make run` serves, `make test` proves it, `make bench` measures it.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PORT ?= 8080
export PORT

.PHONY: run test unit integration lint audit bench tools clean

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
# for the inspector's browser test, redis-server for the shared history; tests fail without them.
TOOLS := prometheus:prometheus promtool:prometheus chromium:chromium \
	chromedriver:chromium-driver redis-server:redis-server
tools:
	@missing=$$(for pair in $(TOOLS); do command -v $${pair%%:*} >/dev/null || echo $${pair#*:}; done | sort -u); \
	[ -z "$$missing" ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
