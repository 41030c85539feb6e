"""prometheus-client's multiprocess files: read safely, and a dead worker's gauges dropped.

No Flask here: gunicorn's master calls `mark_process_dead` from its child_exit hook.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from prometheus_client import multiprocess


class SettledFilesCollector(multiprocess.MultiProcessCollector):
    """prometheus-client's multiprocess collector, skipping metric files still 0 bytes long.

    A worker creates its file before sizing it; a scrape in between (or after the
    worker died in that instant) fails on the empty file and loses every metric
    (prometheus/client_python#1199, open). An empty file holds no values: skip it.
    """

    def collect(self) -> Any:
        files = [
            path
            for path in glob.glob(os.path.join(self._path, "*.db"))
            if _size(path) >= _MMAP_HEADER_BYTES
        ]
        try:
            return self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
        except FileNotFoundError:  # a dead worker's file removed since the listing
            present = [path for path in files if os.path.exists(path)]
            return self.merge(present, accumulate=True)  # type: ignore[no-untyped-call]


_MMAP_HEADER_BYTES = 8


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # removed since the listing (mark_process_dead)
        return 0


def mark_process_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (gunicorn's child_exit hook calls this)."""
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
