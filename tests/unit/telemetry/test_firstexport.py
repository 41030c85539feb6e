"""The span exporter is made by the batch thread's first export, not at start."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service.telemetry.firstexport import MadeOnFirstUse


def test_nothing_is_made_until_spans_are_exported_then_once() -> None:
    made: list[InMemorySpanExporter] = []

    def make() -> InMemorySpanExporter:
        made.append(InMemorySpanExporter())
        return made[-1]

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(MadeOnFirstUse(make)))
    assert provider.force_flush() and made == []  # nothing ended: nothing made
    for name in ("a", "b"):
        provider.get_tracer("t").start_span(name).end()
    provider.shutdown()  # nothing lost at shutdown: the exporter is made for the last batch
    assert len(made) == 1
    assert sorted(span.name for span in made[0].get_finished_spans()) == ["a", "b"]


def test_a_worker_stopped_before_any_span_makes_no_exporter() -> None:
    made: list[object] = []
    exporter = MadeOnFirstUse(lambda: made.append(1) or None)  # type: ignore[func-returns-value]
    exporter.shutdown()
    assert exporter.force_flush() and made == []
    assert exporter.export([]) is SpanExportResult.SUCCESS  # `none`: spans go nowhere
    assert made == [1]
