"""What the numbers were measured on: the machine, the tools and the package versions."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

ECHOSCOPE_PACKAGES = (
    "flask", "werkzeug", "gunicorn", "structlog", "prometheus-client", "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http", "opentelemetry-instrumentation-flask", "orjson",
)  # fmt: skip
PEERS_PACKAGES = (
    "httpbin", "flask", "werkzeug", "gunicorn", "prometheus-flask-exporter", "prometheus-client",
    "python-json-logger", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-flask", "orjson", "matplotlib", "psutil",
)  # fmt: skip
_VERSIONS_SCRIPT = """
import importlib.metadata as m, json, sys
out = {"python": sys.version.split()[0]}
for name in sys.argv[1:]:
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
"""


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)
    return 0.0


def describe() -> dict[str, object]:
    """nproc, CPU model, memory, kernel, wrk, the date and the load before the run (others' noise)."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "wrk": wrk_version(),
        "loadavg_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def wrk_version() -> str:
    """wrk's banner line (it prints its usage and exits 1)."""
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    banner = (done.stdout + done.stderr).splitlines()[0]
    return banner.split(" Copyright")[0].strip()


def versions(python: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    """Installed versions of `names` in the interpreter `python` (None when missing)."""
    if not python.exists():
        return {"python": None}
    argv = [str(python), "-c", _VERSIONS_SCRIPT, *names]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return dict(json.loads(done.stdout))
