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
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Flask

from service.cloud import metadata
from service.exchange import pipeline
from service.settings import Settings

_PATHS = {
    "project": "/computeMetadata/v1/project/project-id",
    "instance_id": "/computeMetadata/v1/instance/id",
    "region": "/computeMetadata/v1/instance/region",  # projects/NUMBER/regions/REGION
}
Listener = Callable[[Mapping[str, str]], None]


class Facts:
    """What this instance knows about itself: stamped on each exchange's `server`, and handed
    to the parts that subscribed (log correlation, span resource, inspector links)."""

    def __init__(self, started: float, claim: Path) -> None:
        self._known: dict[str, str | None] = {"instance_id": None, "region": None, "project": None}
        self._started, self._claim = started, claim
        self._served = False
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(facts)` with what is known now, and again with what is learnt later."""
        with self._lock:
            self._listeners.append(listener)
            known = {key: value for key, value in self._known.items() if value}
        if known:
            listener(known)

    def learn(self, known: Mapping[str, str]) -> None:
        """Facts from the setting or the metadata server, passed on to every listener."""
        with self._lock:
            self._known = {**self._known, **known}
            listeners = list(self._listeners)
        for listener in listeners:
            listener(known)

    def stamp(self) -> None:
        """Add the instance facts to the current exchange's `server` (a before_request hook)."""
        current = pipeline.current()
        current.add_server_facts(
            {
                **self._known,
                "cold_start": self._first_exchange(current.excluded),
                "instance_age_seconds": round(time.time() - self._started, 3),
            }
        )

    def _first_exchange(self, excluded: bool) -> bool:
        if self._served or excluded:
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


def init_app(app: Flask, settings: Settings) -> Facts:
    """Stamp instance facts on every exchange; on Cloud Run, learn them in the background."""
    started, key = _instance_start()
    facts = Facts(started, Path(tempfile.gettempdir()) / f"echoscope-served-{key}")
    app.before_request(facts.stamp)
    if settings.google_cloud_project:
        facts.learn({"project": settings.google_cloud_project})
    if settings.k_service is not None:
        paths = {
            k: v for k, v in _PATHS.items() if k != "project" or not settings.google_cloud_project
        }
        args = (settings.metadata_host, paths, facts.learn)
        threading.Thread(target=_ask_until_answered, args=args, daemon=True).start()
    return facts


def _ask_until_answered(host: str, paths: dict[str, str], deliver: Listener) -> None:
    """One poller for every fact: each delivered once answered, again with back-off until the
    project and the instance id are known (the region comes with the instance id, if at all)."""
    missing = dict(paths)

    def ask() -> bool:
        found = {key: metadata.ask_metadata_server(host, path) for key, path in missing.items()}
        known = {key: value for key, value in found.items() if value}
        if "region" in known:
            known["region"] = known["region"].rpartition("/")[2]
        if known:
            deliver(known)
        for key in (*known, *(("region",) if "instance_id" in known else ())):
            missing.pop(key, None)
        return not missing.keys() & {"project", "instance_id"}

    metadata.retry_until(ask, lambda _: None)


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
