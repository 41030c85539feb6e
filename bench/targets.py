"""The servers under test: how each one is started, all with the same gunicorn sizing."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from bench.wrk import CLOUD_RUN, PLAIN, Traffic

ROOT = Path(__file__).resolve().parents[1]
# echoscope runs as the image installs it: requirements.txt only (run.sh keeps this venv).
# The project's .venv also holds the test tools, and some of them change what a worker
# imports (structlog loads rich when it is installed, httpcore trio): ~0.1 s more at start.
PROJECT_PYTHON = ROOT / "bench" / ".venv-service" / "bin" / "python"
PEERS_PYTHON = ROOT / "bench" / ".venv-peers" / "bin" / "python"

# Variables that would change a server's behaviour if inherited from the caller's shell.
_SCRUBBED_PREFIXES = ("OTEL_", "ECHO_", "PROMETHEUS_", "GUNICORN_", "K_")
_SCRUBBED_NAMES = ("PORT", "WEB_CONCURRENCY", "GOOGLE_CLOUD_PROJECT", "FLASK_DEBUG")

FULL_TELEMETRY = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_TRACES_SAMPLER": "always_on",
}
TELEMETRY_OFF = {
    "ECHO_LOG_LEVEL": "ERROR",
    "ECHO_METRICS": "false",
    "OTEL_SDK_DISABLED": "true",
    "OTEL_TRACES_EXPORTER": "none",
}


@dataclasses.dataclass(frozen=True)
class Slot:
    """Where one server runs and how big it is."""

    port: int
    workers: int
    threads: int
    sink_port: int
    scratch: Path  # a private folder, e.g. for prometheus-client's multiprocess files


@dataclasses.dataclass(frozen=True)
class Launch:
    """Everything needed to exec a server and know when it is ready."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    ready_path: str


@dataclasses.dataclass(frozen=True)
class Target:
    """A named server: its launcher and the interpreter whose packages it runs on."""

    name: str
    description: str
    launch: Callable[[Slot], Launch]
    python: Path
    requires: tuple[Path, ...] = ()
    traffic: Traffic = PLAIN  # the wrk script and arguments its requests come from

    def missing(self) -> str | None:
        """Why this target cannot start here (a file it needs is absent), or None."""
        absent = [path for path in (self.python, *self.requires) if not path.exists()]
        return (
            f"missing {', '.join(str(path.relative_to(ROOT)) for path in absent)}"
            if absent
            else None
        )


def base_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without anything that configures a server, plus unbuffered stdout."""
    source = os.environ if environ is None else environ
    env = {
        key: value
        for key, value in source.items()
        if not key.startswith(_SCRUBBED_PREFIXES) and key not in _SCRUBBED_NAMES
    }
    env["PYTHONUNBUFFERED"] = "1"  # as the Dockerfile sets it: every log line is written at once
    return env


def gunicorn_flags(slot: Slot) -> list[str]:
    """The sizing every peer gets; echoscope gets the same through its own config file."""
    return [
        "--bind", f"127.0.0.1:{slot.port}",
        "--workers", str(slot.workers),
        "--threads", str(slot.threads),
        "--worker-class", "gthread",
        "--keep-alive", "5",  # as config/gunicorn.conf.py
        "--no-control-socket",  # as config/gunicorn.conf.py: no socket shared between servers
    ]  # fmt: skip


def _otlp_env(slot: Slot) -> dict[str, str]:
    return {**FULL_TELEMETRY, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{slot.sink_port}"}


def echoscope(
    name: str, description: str, overrides: Mapping[str, str], traffic: Traffic = PLAIN
) -> Target:
    """echoscope exactly as the Dockerfile runs it, with full telemetry then `overrides`."""

    def launch(slot: Slot) -> Launch:
        env = base_env() | _otlp_env(slot) | dict(overrides)
        env |= {
            "PORT": str(slot.port),
            "WEB_CONCURRENCY": str(slot.workers),
            "ECHO_THREADS": str(slot.threads),
        }
        argv = [str(PROJECT_PYTHON.parent / "gunicorn"), "-c", "config/gunicorn.conf.py"]
        # --bind overrides the config's 0.0.0.0: the benchmark listens on loopback only.
        argv += ["--bind", f"127.0.0.1:{slot.port}", "service.wsgi:app"]
        return Launch(argv=argv, env=env, cwd=ROOT, ready_path="/health")

    needs = (ROOT / "service" / "wsgi.py", ROOT / "config" / "gunicorn.conf.py")
    return Target(name, description, launch, PROJECT_PYTHON, needs, traffic)


def _peer(
    name: str, description: str, app: str, ready_path: str, extra: Callable[[Slot], dict[str, str]]
) -> Target:
    def launch(slot: Slot) -> Launch:
        argv = [str(PEERS_PYTHON.parent / "gunicorn"), *gunicorn_flags(slot), app]
        return Launch(argv=argv, env=base_env() | extra(slot), cwd=ROOT, ready_path=ready_path)

    return Target(name, description, launch, PEERS_PYTHON)


def _no_env(slot: Slot) -> dict[str, str]:
    return {}


def _diy_env(slot: Slot) -> dict[str, str]:
    env = _otlp_env(slot)
    if slot.workers > 1:  # a fresh folder per start: old files would be summed in
        folder = slot.scratch / f"diy-metrics-{slot.port}"
        folder.mkdir(parents=True, exist_ok=False)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return env


# Spans over the default protocol, OTLP/HTTP protobuf, as a new user's would go (and the DIY
# stack's do); since issue 24's third step echoscope writes those bytes itself (otlpproto).
ECHOSCOPE_FULL = echoscope(
    "echoscope-full",
    "echoscope: JSON logs to a file, metrics, every request traced to OTLP/HTTP (protobuf, the"
    " default)",
    {},
)
ECHOSCOPE_CLOUD_RUN = echoscope(
    "echoscope-cloudrun",
    "echoscope as full, under Cloud Run traffic: every request has a traceparent, 1 in 100"
    " sampled (the default parent-based sampler), sampled spans exported",
    {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    CLOUD_RUN,
)
ECHOSCOPE_OFF = echoscope(
    "echoscope-off", "echoscope: logs at ERROR, metrics off, OTel SDK disabled", TELEMETRY_OFF
)
# Metrics and log records over OTLP too, beside /metrics and stdout, over the default
# protocol as a new user's would go: http/protobuf, echoscope's own encoding for all three
# signals since issue 24's fourth step. Committed runs before its fifth step sent these two
# over http/json, then the cheaper choice.
OTLP_METRICS_AND_LOGS = {
    "OTEL_METRICS_EXPORTER": "prometheus,otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
}
ECHOSCOPE_OTLP = echoscope(
    "echoscope-otlp",
    "echoscope-full with metrics and log records also over OTLP",
    OTLP_METRICS_AND_LOGS,
)
HTTPBIN = _peer("httpbin", "httpbin 0.10.4 from PyPI, /anything", "httpbin:app", "/get", _no_env)
DIY = _peer(
    "diy",
    "Flask + prometheus_flask_exporter + FlaskInstrumentor + python-json-logger",
    "bench.peers.diy:app",
    "/health",
    _diy_env,
)
SEED = _peer(
    "seed",
    "the seed: Flask, debug on, print-style text logs, jsonify",
    "bench.peers.seed:app",
    "/health",
    _no_env,
)
BARE = _peer(
    "bare", "bare WSGI callable + orjson: the ceiling", "bench.peers.bare:app", "/health", _no_env
)


def _floor_start_launch(slot: Slot) -> Launch:
    argv = [str(PROJECT_PYTHON.parent / "gunicorn"), *gunicorn_flags(slot)]
    argv.append("bench.peers.floorstart:app")
    env = base_env() | {"FLOOR_TRACING": "on"}
    return Launch(argv=argv, env=env, cwd=ROOT, ready_path="/anything")


# Started by bench.coldstart only, never served under wrk: the start the design's libraries
# cost by themselves, on echoscope's own packages.
FLOOR_START = Target(
    "floor-start",
    "echoscope's libraries alone, set up as documented (Flask, FlaskInstrumentor on the SDK,"
    " structlog, prometheus-client) behind one route, under stock gunicorn",
    _floor_start_launch,
    PROJECT_PYTHON,
    (ROOT / "bench" / "peers" / "floorstart.py",),
)
START_ONLY = (FLOOR_START,)

ALL = (ECHOSCOPE_FULL, ECHOSCOPE_CLOUD_RUN, ECHOSCOPE_OFF, ECHOSCOPE_OTLP, HTTPBIN, DIY, SEED, BARE)
REFERENCES = ("httpbin", "bare")  # every target's throughput is also given relative to these


def select(names: tuple[str, ...]) -> tuple[Target, ...]:
    """The targets named (all when none is), in the canonical order; unknown names raise."""
    known = {target.name for target in ALL}
    unknown = sorted(set(names) - known)
    if unknown:
        raise SystemExit(
            f"unknown target(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return tuple(target for target in ALL if not names or target.name in names)
