"""Who is answering: service, version, revision and a per-process instance id."""

from __future__ import annotations

import dataclasses
import platform
import uuid
from typing import Any

from service import __version__
from service.settings import Settings


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """The identity of one worker process, shared by the record, logs, metrics and spans."""

    service: str
    version: str
    revision: str | None
    configuration: str | None
    instance: str
    python_version: str
    env: tuple[tuple[str, str], ...] = ()  # the operator's ECHO_ENV_* labels (blue/green, canary)

    def server_info(self) -> dict[str, Any]:
        """The record's `server`, before the instance facts are added."""
        return {
            "service": self.service,
            "version": self.version,
            "revision": self.revision,
            "instance": self.instance,
            "env": dict(self.env),
        }


def of_process(settings: Settings) -> Identity:
    """Build the identity of this process; call it in the worker, after fork."""
    return Identity(
        service=settings.k_service or settings.service_name,
        version=__version__,
        revision=settings.k_revision,
        configuration=settings.k_configuration,
        instance=uuid.uuid4().hex,
        python_version=platform.python_version(),
        env=settings.env_vars,
    )
