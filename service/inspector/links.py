"""Links from a stored exchange to its trace and to its log line.

The URL templates are settings (`ECHO_TRACE_URL_TEMPLATE`, `ECHO_LOGS_URL_TEMPLATE`)
with the placeholders {trace_id}, {span_id}, {uuid} and {project}. Unset, and the
Google Cloud project known (set, or asked of the metadata server on Cloud Run),
they default to Cloud Trace and to a Cloud Logging query for the exchange line.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from service.settings import Settings

CLOUD_TRACE = "https://console.cloud.google.com/traces/list?project={project}&tid={trace_id}"
CLOUD_LOGGING = (
    "https://console.cloud.google.com/logs/query;"
    "query=jsonPayload.uuid%3D%22{uuid}%22?project={project}"
)


class Links:
    """Fills the link templates for one exchange."""

    def __init__(self, settings: Settings) -> None:
        on_google = bool(settings.google_cloud_project or settings.k_service)
        self._trace = settings.trace_url_template or (CLOUD_TRACE if on_google else None)
        self._logs = settings.logs_url_template or (CLOUD_LOGGING if on_google else None)
        self._project: str | None = None
        self._lock = threading.Lock()

    def of(self, entry: dict[str, Any]) -> dict[str, str]:
        """The `trace` and `logs` links of a stored exchange (those that can be filled)."""
        values = {
            "trace_id": entry.get("trace_id"),
            "span_id": entry.get("span_id"),
            "uuid": entry.get("uuid"),
            "project": self._project,
        }
        links = {}
        for name, template in (("trace", self._trace), ("logs", self._logs)):
            url = _filled(template, values)
            if url is not None:
                links[name] = url
        return links

    def learn(self, facts: Mapping[str, str]) -> None:
        """Cloud facts (service.cloud.instance): the project fills {project}."""
        if facts.get("project"):
            with self._lock:
                self._project = facts["project"]


def _filled(template: str | None, values: dict[str, str | None]) -> str | None:
    if template is None:
        return None
    used = {name: value for name, value in values.items() if "{" + name + "}" in template}
    if any(not value for value in used.values()):
        return None  # e.g. no trace id (tracing off) or no project yet
    return template.format_map({name: quote(str(value), safe="") for name, value in used.items()})
