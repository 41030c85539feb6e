#!/usr/bin/env bash
# Entry point of `make bench`: installs wrk and the two virtual environments if needed,
# runs the main benchmark (bench/run.py), then the companion figures (bench/figures.py) and
# the cold start line by line (bench/startprofile.py) unless BENCH_SKIP_FIGURES=1.
# Arguments are passed to all three, e.g. --rounds 1 --duration 5.
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

# A venv holding exactly one requirements file, re-made when that file changes.
ensure_venv() {
  local venv="$1" requirements="$2"
  local stamp="$venv/.requirements.txt"
  if [[ -f "$stamp" ]] && cmp -s "$stamp" "$requirements"; then
    return
  fi
  echo "bench: installing ${requirements#"$ROOT/"} into ${venv#"$ROOT/"}" >&2
  python3 -m venv "$venv"
  local log="$venv/pip-install.log"
  if ! "$venv/bin/pip" install -r "$requirements" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    exit 1
  fi
  cp "$requirements" "$stamp"
}

ensure_wrk
# echoscope as the image installs it (requirements.txt only, none of the test tools).
ensure_venv "$ROOT/bench/.venv-service" "$ROOT/requirements.txt"
ensure_venv "$PEERS_VENV" "$ROOT/bench/requirements.txt"
# Byte-compiled as the image does it (the Dockerfile): with PYTHONDONTWRITEBYTECODE set,
# every start would compile echoscope's modules, and the peers' apps in bench/peers
# (the DIY stack, the floors), from source again.
"$ROOT/bench/.venv-service/bin/python" -m compileall -q "$ROOT/service" "$ROOT/bench/peers"

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
  run_python bench.startprofile "$@"
fi
