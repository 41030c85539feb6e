#!/usr/bin/env bash
# The soak (bench/soak.py): installs wrk if missing, needs the project's .venv (make run or
# make test creates it), then runs the paced mixed load. Arguments go to bench/soak.py,
# e.g. --duration 300. Not part of `make test` or `make bench`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[[ -x .venv/bin/gunicorn ]] || { echo "soak: run 'make run' or 'make test' first (.venv)" >&2; exit 1; }
exec .venv/bin/python -m bench.soak "$@"
