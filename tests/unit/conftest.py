"""Shared fixtures: a fresh echoscope app per test, with its log stream, spans and registry."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from service.app import create_app
from service.settings import Settings
from service.telemetry import logfields
from tests.support.constants import NO_METADATA


@dataclasses.dataclass
class Echo:
    """One app under test, with what it wrote and recorded."""

    app: Flask
    client: FlaskClient
    stream: io.BytesIO
    exporter: InMemorySpanExporter

    @property
    def registry(self) -> CollectorRegistry:
        registry: CollectorRegistry = self.app.extensions["echoscope.metrics"].registry
        return registry

    def raw_lines(self) -> list[bytes]:
        """Every line written, split on newline bytes only (JSON may hold a raw U+2028)."""
        return [line for line in self.stream.getvalue().split(b"\n") if line]

    def lines(self) -> list[dict[str, Any]]:
        """Every line written, parsed as JSON."""
        return [json.loads(line) for line in self.raw_lines()]

    def exchange_lines(self) -> list[dict[str, Any]]:
        """The exchange lines (those with an httpRequest)."""
        return [line for line in self.lines() if "httpRequest" in line]

    def exchange_line(self) -> dict[str, Any]:
        """The single exchange line written so far."""
        (line,) = self.exchange_lines()
        return line

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def span(self) -> ReadableSpan:
        """The single span finished so far."""
        (span,) = self.spans()
        return span


MakeEcho = Callable[..., Echo]


def build(env: Mapping[str, str] | None = None) -> Echo:
    """A fresh app from `env` (a plain dict, never os.environ)."""
    environ = {**NO_METADATA, **(env or {})}
    stream = io.BytesIO()
    app = create_app(Settings.from_env(environ), stream)
    exporter = InMemorySpanExporter()
    provider = app.extensions.get("echoscope.tracer_provider")
    if provider is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Echo(app, app.test_client(use_cookies=False), stream, exporter)


@pytest.fixture(autouse=True)
def _fresh_correlation() -> Iterator[None]:
    # The trace fields are process-wide; keep one test's project out of the next test.
    yield
    logfields.cloud_trace.configure({})


@pytest.fixture
def make_echo() -> Iterator[MakeEcho]:
    """Build apps from env dicts; each built app's provider is shut down afterwards."""
    built: list[Echo] = []

    def make(env: Mapping[str, str] | None = None) -> Echo:
        echo = build(env)
        built.append(echo)
        return echo

    yield make
    for echo in built:
        provider = echo.app.extensions.get("echoscope.tracer_provider")
        if provider is not None:
            provider.shutdown()


@pytest.fixture
def echo(make_echo: MakeEcho) -> Echo:
    """An app with default settings."""
    return make_echo()
