"""What every OTLP export request does first: its items grouped by resource, then by scope.

One grouping for echoscope's encoders (otlpproto's spans, otlpjson's spans,
otlpprotologs' and otlpjsonsignals' log records). Resources are grouped by identity: a Resource
hashes by JSON-encoding its attributes, on every item, and a worker has one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

Encoded = TypeVar("Encoded")
ByScope = dict[InstrumentationScope | None, list[Encoded]]


class Item(Protocol):
    """A finished span or log record: what a request groups it by."""

    @property
    def resource(self) -> Resource: ...

    @property
    def instrumentation_scope(self) -> InstrumentationScope | None: ...


Each = TypeVar("Each", bound=Item)


def by_resource(
    items: Iterable[Each], encode: Callable[[Each], Encoded]
) -> list[tuple[Resource, ByScope[Encoded]]]:
    """Each resource once, in the order first seen, with its items' encodings by scope."""
    groups: dict[int, tuple[Resource, ByScope[Encoded]]] = {}
    for item in items:
        resource = item.resource
        group = groups.get(id(resource))
        if group is None:
            group = groups[id(resource)] = (resource, {})
        group[1].setdefault(item.instrumentation_scope, []).append(encode(item))
    return list(groups.values())
