#!/usr/bin/env bash
# Entry point of `make bench`: installs wrk and the two virtual environments if needed,
# runs the main benchmark (bench/run.py), then the companion figures (bench/figures.py)
# unless BENCH_SKIP_FIGURES=1. Arguments are passed to both, e.g. --rounds 1 --duration 5.
# All traffic goes to 127.0.0.1; every server started is killed on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_VENV="$ROOT/bench/.venv-peers"
PIDFILE="$ROOT/bench/results/servers.pids"
cd "$ROOT"

cleanup() {
  # Python stops its servers itself; this catches what a killed interpreter left behind.
  if [[ -f "$PIDFILE" ]]; then
    while read -r pgid; do
      [[ -n "$pgid" ]] && kill -KILL -- "-$pgid" 2>/dev/null || true
    done < "$PIDFILE"
    rm -f "$PIDFILE"
  fi
}
child=""
forward() {
  # Let Python stop its servers (SIGTERM becomes SystemExit there), then leave.
  if [[ -n "$child" ]]; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'forward 130' INT
trap 'forward 143' TERM HUP

ensure_wrk() {
  command -v wrk >/dev/null && return
  echo "bench: installing wrk" >&2
  apt-get update -qq
  apt-get install -y -qq wrk >/dev/null
}

ensure_project_venv() {
  [[ -x "$ROOT/.venv/bin/gunicorn" ]] && return
  echo "bench: creating .venv from requirements.txt" >&2
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
}

ensure_peers_venv() {
  local stamp="$PEERS_VENV/.requirements.txt"
  if [[ -f "$stamp" ]] && cmp -s "$stamp" "$ROOT/bench/requirements.txt"; then
    return
  fi
  echo "bench: installing bench/requirements.txt into bench/.venv-peers" >&2
  python3 -m venv "$PEERS_VENV"
  local log="$PEERS_VENV/pip-install.log"
  if ! "$PEERS_VENV/bin/pip" install -r "$ROOT/bench/requirements.txt" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    exit 1
  fi
  cp "$ROOT/bench/requirements.txt" "$stamp"
}

ensure_wrk
ensure_project_venv
ensure_peers_venv

run_python() {
  # In the background so that `wait` (unlike a foreground command) yields to the traps.
  "$PEERS_VENV/bin/python" -m "$@" &
  child=$!
  local status=0
  wait "$child" || status=$?
  child=""
  return "$status"
}

run_python bench.run "$@"
if [[ "${BENCH_SKIP_FIGURES:-0}" != "1" ]]; then
  run_python bench.figures "$@"
fi
