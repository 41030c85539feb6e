"""Reading /metrics the way Prometheus does."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

DURATION = "http_server_request_duration_seconds"


def scrape(url: str) -> list[Sample]:
    """Every sample of one scrape of `url`/metrics (Prometheus text format)."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def series(samples: list[Sample], prefix: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """The distinct series whose names start with `prefix`."""
    return {(s.name, frozenset(s.labels.items())) for s in samples if s.name.startswith(prefix)}
