"""Which instance answered: Cloud Run's instance id, region and project, cold start and age.

On Cloud Run (K_SERVICE set) the metadata server is asked in the background,
again with back-off until it answers; no request and no start-up waits for it.
Every record's `server` then carries the facts known so far, and the log
labels and span resource gain them once known.

An instance is a gunicorn master and its workers (one container on Cloud Run):
its age counts from the master's start, and its first exchange (excluded paths
such as /health aside) is claimed, across workers, by creating a file.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, request

from service import exchange, gcp, logfields, tracing
from service.settings import Settings

_PATHS = {
    "instance_id": "/computeMetadata/v1/instance/id",
    "region": "/computeMetadata/v1/instance/region",  # projects/NUMBER/regions/REGION
}  # the project is the one the log correlation found (service.gcp asks for it)


class Facts:
    """What this instance knows about itself, stamped on each exchange's `server`."""

    def __init__(self, project: str | None, started: float, claim: Path, excluded: frozenset[str]):
        self._known: dict[str, str | None] = {"instance_id": None, "region": None}
        self._known["project"] = project
        self._started, self._claim, self._excluded = started, claim, excluded
        self._served = False
        self._pending_labels: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn(self, known: dict[str, str]) -> None:
        """Facts from the metadata server; the log labels take them on the next exchange."""
        with self._lock:
            self._known = {**self._known, **known}
            self._pending_labels = {_LABELS[key]: value for key, value in known.items()}

    def stamp(self) -> None:
        """Add the instance facts to the current exchange's `server` (a before_request hook)."""
        current = exchange.current()
        project = self._known["project"] or logfields.cloud_trace.project
        current.server = {
            **current.server,
            **self._known,
            "project": project,
            "cold_start": self._first_exchange(request.path),
            "instance_age_seconds": round(time.time() - self._started, 3),
        }
        if self._pending_labels:
            with self._lock:
                labels = {**self._pending_labels, **({"project": project} if project else {})}
                logfields.cloud_trace.add_labels(labels)
                self._pending_labels = {}

    def _first_exchange(self, path: str) -> bool:
        if self._served or path in self._excluded:
            return False
        with self._lock:
            if self._served:
                return False
            self._served = True
            try:
                os.close(os.open(self._claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                return False  # another worker of this instance served first
            return True


_LABELS = {"instance_id": "instanceId", "region": "region"}


def init_app(app: Flask, settings: Settings) -> None:
    """Stamp instance facts on every exchange; on Cloud Run, learn them in the background."""
    started, key = _instance_start()
    claim = Path(tempfile.gettempdir()) / f"echoscope-served-{key}"
    facts = Facts(settings.google_cloud_project, started, claim, frozenset(settings.exclude_paths))
    app.before_request(facts.stamp)
    if settings.k_service is not None:
        deliver = _deliverer(app, facts)
        args = (settings.metadata_host, _PATHS, deliver)
        threading.Thread(target=_ask_until_answered, args=args, daemon=True).start()


def _deliverer(app: Flask, facts: Facts) -> Callable[[dict[str, str]], None]:
    def deliver(known: dict[str, str]) -> None:
        facts.learn(known)
        resource = {"faas.instance": known["instance_id"]}
        if known.get("region"):
            resource["cloud.region"] = known["region"]
        tracing.add_resource(app, resource)

    return deliver


def _ask_until_answered(
    host: str, paths: dict[str, str], deliver: Callable[[dict[str, str]], None]
) -> None:
    def ask() -> dict[str, str] | None:
        known = {key: gcp.ask_metadata_server(host, path) for key, path in paths.items()}
        if not known["instance_id"]:
            return None
        if known.get("region"):
            known["region"] = str(known["region"]).rpartition("/")[2]
        return {key: value for key, value in known.items() if value}

    gcp.retry_until(ask, deliver)


def _instance_start() -> tuple[float, str]:
    """When gunicorn's master (this worker's parent) started, and a key naming it uniquely."""
    parent = os.getppid()
    try:
        fields = Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime, in clock ticks after boot
        boot = _boot_time()
    except (OSError, ValueError, IndexError):
        return time.time(), f"{parent}-{time.time_ns()}"
    return boot + ticks / os.sysconf("SC_CLK_TCK"), f"{parent}-{ticks}"


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")
