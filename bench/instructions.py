"""Instructions per request and per worker start, counted by valgrind: the figure noise leaves alone.

`python -m bench.instructions [N]` (the project's .venv, valgrind installed) counts, under
callgrind, the instructions the process executes while one thread drives N browser-like
GETs (bench.cpu's configurations) through echoscope's WSGI app, exporter and log-writer
threads included; the same for httpbin, the DIY stack and the bare WSGI ceiling (with
bench/.venv-peers); N of the benchmark's 1 KiB JSON POSTs (bench.cpu's
post_configurations) through echoscope and httpbin; then the instructions of a worker's start (`import service.wsgi`,
create_app included, full telemetry settings) beside `import httpbin`. Wall-clock and
CPU-time figures on a shared machine move by 20 % between runs; these move by ~1 %.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / ".venv-peers" / "bin" / "python"
SERVICE = ROOT / "bench" / ".venv-service" / "bin" / "python"
WARMUP = 30
_COLLECTED = re.compile(rb"Collected : (\d+)")
PEER_APPS = {"httpbin": "httpbin:app", "diy": "bench.peers.diy:app", "bare": "bench.peers.bare:app"}
# The floor the design sets (bench/peers/floor.py): name -> (FLOOR_TRACING, sampled caller).
FLOORS = {
    "floor: Flask alone": ("off", True),
    "floor: Flask + FlaskInstrumentor, caller unsampled": ("on", False),
    "floor: Flask + FlaskInstrumentor, sampled, exported (protobuf)": ("exported", True),
}


def _callgrind(python: Path, args: list[str], env: dict[str, str], at_start: bool) -> int:
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    argv += [] if at_start else ["--instr-atstart=no"]
    run = subprocess.run(
        [*argv, str(python), *args], env=env, cwd=ROOT, capture_output=True, check=True
    )
    found = _COLLECTED.search(run.stderr)
    if found is None:
        raise RuntimeError(run.stderr.decode(errors="replace")[-2000:])
    return int(found.group(1))


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT), **extra}


def _toggle(on: bool) -> None:
    pid = str(os.getpid())
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", pid], capture_output=True)


def _drive(app: Any, environs: list[dict[str, Any]], flush: Callable[[], object]) -> None:
    def start_response(*_: Any) -> None:
        return None

    def go(batch: list[dict[str, Any]]) -> None:
        for environ in batch:
            body = app(dict(environ), start_response)
            b"".join(body)
            getattr(body, "close", lambda: None)()

    go(environs[:WARMUP])
    flush()  # the span exporter is made at the first export: before counting
    _toggle(True)
    go(environs[WARMUP:])
    flush()
    _toggle(False)


def child(kind: str, name: str, count: int) -> None:
    """In the measured process: build the app, warm it up, count `count` requests.

    `kind` is echoscope or peer, with "-post" the benchmark's POST instead of its GET."""
    from bench import cpu

    kind, post = kind.removesuffix("-post"), kind.endswith("-post")
    build = cpu._post_environ if post else cpu._environ
    if kind == "echoscope":
        from service.app import create_app
        from service.settings import Settings
        from service.telemetry.logwriter import LineWriter

        env, traceparent = (cpu.post_configurations() if post else cpu.configurations())[name]
        with tempfile.TemporaryFile() as log:
            writer = LineWriter(log)
            settings = Settings.from_env({"GCE_METADATA_HOST": "127.0.0.1:9", **env})
            app = create_app(settings, writer)
            provider = app.extensions.get("echoscope.tracer_provider")
            environs = [build(traceparent(i)) for i in range(count + WARMUP)]
            _drive(app, environs, provider.force_flush if provider else lambda: None)
            writer.close()
        return
    if name in FLOORS:
        tracing, sampled = FLOORS[name]
        os.environ["FLOOR_TRACING"] = tracing
        from opentelemetry import trace

        from bench.peers import floor

        traceparent = cpu.SAMPLED if sampled else cpu.UNSAMPLED
        environs = [cpu._environ(traceparent) for _ in range(count + WARMUP)]
        provider: Any = trace.get_tracer_provider()
        _drive(floor.app, environs, getattr(provider, "force_flush", lambda: None))
        return
    module, _, attribute = PEER_APPS[name].partition(":")
    app = getattr(__import__(module, fromlist=[attribute]), attribute)
    environs = [build(None if post else cpu.SAMPLED) for _ in range(count + WARMUP)]
    from opentelemetry import trace  # the DIY stack's spans: exported inside the count

    _drive(app, environs, getattr(trace.get_tracer_provider(), "force_flush", lambda: None))


def per_request(count: int, sink: str) -> dict[str, float]:
    """Instructions per request of every configuration and peer, in thousands."""
    from bench import cpu

    env = _env({"OTEL_EXPORTER_OTLP_ENDPOINT": sink})
    rows = {}
    for name in cpu.configurations():
        args = ["-m", "bench.instructions", "--child", "echoscope", name, str(count)]
        rows[f"echoscope: {name}"] = _callgrind(Path(sys.executable), args, env, False)
    for name in (*PEER_APPS, *FLOORS):
        args = ["-m", "bench.instructions", "--child", "peer", name, str(count)]
        rows[name] = _callgrind(PEERS, args, env, False)
    for name in cpu.post_configurations():
        args = ["-m", "bench.instructions", "--child", "echoscope-post", name, str(count)]
        rows[f"echoscope: {name}, POST"] = _callgrind(Path(sys.executable), args, env, False)
    args = ["-m", "bench.instructions", "--child", "peer-post", "httpbin", str(count)]
    rows["httpbin, POST"] = _callgrind(PEERS, args, env, False)
    return {name: value / count / 1000 for name, value in rows.items()}


def at_start() -> dict[str, float]:
    """Instructions of a worker's imports and app creation, in millions."""
    full = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_TRACES_SAMPLER": "always_on",
        "GCE_METADATA_HOST": "127.0.0.1:9",
    }
    subprocess.run([str(SERVICE), "-m", "compileall", "-q", "service"], cwd=ROOT, check=True)
    starts = {
        "echoscope worker (import service.wsgi, full telemetry)": (
            SERVICE, "import service.wsgi", full,
        ),
        "httpbin (import httpbin)": (PEERS, "import httpbin", {}),
        "DIY stack (import bench.peers.diy)": (PEERS, "import bench.peers.diy", {}),
    }  # fmt: skip
    return {
        name: _callgrind(python, ["-c", code], _env(extra), True) / 1e6
        for name, (python, code, extra) in starts.items()
    }


def main(argv: list[str]) -> int:
    """Print both tables (Markdown)."""
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2], int(argv[3]))
        return 0
    from bench import measure

    count = int(argv[0]) if argv else 300
    with tempfile.TemporaryDirectory() as log_dir, measure.sink(Path(log_dir)) as port:
        rows = per_request(count, f"http://127.0.0.1:{port}")
    print("| configuration | k instructions / request |\n|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.0f} |")
    print("\n| start | M instructions |\n|---|---|")
    for name, value in at_start().items():
        print(f"| {name} | {value:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
