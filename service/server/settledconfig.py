"""gunicorn's configuration as one worker reads it: each setting looked up once, then kept.

gunicorn's `Config` answers every read through `__getattr__` and the setting's `get()`,
and its properties (`is_ssl`, `forwarder_headers`, …) read their settings again each time.
The request path reads it a few dozen times per request: the parser and its header
policy, the h2c checks, the WSGI environ and the request hooks. A worker's configuration
never changes after it starts (a HUP starts new workers with the new one), so the worker
keeps each value it reads, and every later read is an ordinary attribute.
"""

from __future__ import annotations

from typing import Any


class SettledConfig:
    """A worker's read-only view of a gunicorn `Config`: each attribute read once, then kept."""

    def __init__(self, cfg: Any) -> None:
        self._cfg = cfg

    def __getattr__(self, name: str) -> Any:
        # Only called for what is not kept yet; a name gunicorn does not know still raises
        # AttributeError, so `getattr(cfg, name, default)` keeps working.
        value = getattr(self._cfg, name)
        setattr(self, name, value)
        return value
