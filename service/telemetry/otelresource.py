"""One OpenTelemetry resource per worker, shared by its spans, metrics and log records.

`service.*` from the process identity; OTEL_RESOURCE_ATTRIBUTES (and any
detector named in OTEL_EXPERIMENTAL_RESOURCE_DETECTORS, `gcp` included) merged
in by the SDK's `Resource.create`, as the specification says. On Cloud Run the
standard Google Cloud detector (opentelemetry-resourcedetector-gcp) supplies
`cloud.*` and `faas.*` from the metadata server; start-up waits for it at most
DETECT_SECONDS, then falls back to what K_SERVICE/K_REVISION say.
"""

from __future__ import annotations

import threading

from opentelemetry.sdk.resources import Resource

from service.exchange.identity import Identity

DETECT_SECONDS = 1.0


def of_process(identity: Identity) -> Resource:
    """This worker's resource: identity, the standard variables, Google Cloud's facts."""
    attributes: dict[str, str] = {
        "service.name": identity.service,
        "service.version": identity.version,
        "service.instance.id": identity.instance,
    }
    if identity.revision:  # Cloud Run
        detected = detect_google_cloud(DETECT_SECONDS)
        attributes.update(detected or _cloud_run(identity))
    if identity.configuration:
        attributes["gcp.cloud_run.configuration"] = identity.configuration
    return Resource.create(attributes)


def detect_google_cloud(timeout: float) -> dict[str, str]:
    """The Google Cloud detector's attributes, or {} when it has none within `timeout` seconds."""
    found: list[dict[str, str]] = []

    def detect() -> None:
        # Imported here: the detector loads requests (and urllib3, brotli) off Cloud Run too.
        from opentelemetry.resourcedetector.gcp_resource_detector import (
            GoogleCloudResourceDetector,
        )

        try:
            resource = GoogleCloudResourceDetector(raise_on_error=False).detect()
        except Exception:  # metadata half-answered: fall back, never fail start-up
            return
        found.append({key: str(value) for key, value in resource.attributes.items()})

    worker = threading.Thread(target=detect, name="echoscope-gcp-detector", daemon=True)
    worker.start()
    worker.join(timeout)
    return found[0] if found else {}


def _cloud_run(identity: Identity) -> dict[str, str]:
    # What Cloud Run's variables tell without the metadata server.
    return {
        "cloud.provider": "gcp",
        "cloud.platform": "gcp_cloud_run",
        "faas.name": identity.service,
        "faas.version": identity.revision or "",
        "faas.instance": identity.instance,
    }
