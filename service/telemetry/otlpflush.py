"""Worker exit: every OTLP signal flushed at once, so the three together take one bound.

No Flask import at module level: gunicorn's config module imports this inside
its worker_exit hook, in the worker.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from service.telemetry import otlplogs, otlpmetrics, tracing

if TYPE_CHECKING:
    from flask import Flask


def shutdown(app: Flask) -> None:
    """Flush and stop spans, metrics and log records side by side (each bounded to 3 s)."""
    stoppers = [
        threading.Thread(target=stop, args=(app,), daemon=True)
        for stop in (tracing.shutdown, otlpmetrics.shutdown, otlplogs.shutdown)
    ]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
