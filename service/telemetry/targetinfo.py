"""The OpenTelemetry resource on /metrics as `target_info` (OpenTelemetry's Prometheus rules)."""

from __future__ import annotations

import re

from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, Gauge


def gauge(registry: CollectorRegistry, resource: Resource | None) -> Gauge:
    """`target_info` = 1, labelled with the resource's attributes.

    Every worker's resource differs only in `service.instance.id`, which is left
    out: /metrics speaks for the instance, whose `instance` label the scraper sets.
    """
    attributes = {
        label_name(key): str(value)
        for key, value in sorted((resource.attributes if resource else {}).items())
        if key != "service.instance.id"
    }
    info = Gauge(
        "target_info",
        "Target metadata: the OpenTelemetry resource of this service.",
        tuple(attributes),
        registry=registry,
        multiprocess_mode="max",
    )
    if attributes:
        info.labels(*attributes.values()).set(1)
    else:
        info.set(1)
    return info


def label_name(key: str) -> str:
    """A resource attribute key as a Prometheus label name (what is not [a-zA-Z0-9_] becomes _)."""
    name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    return f"key_{name}" if name[0].isdigit() else name
