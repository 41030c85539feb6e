"""Propagation forensics (service/telemetry/tracecontext.py): the record's `trace_context`, and verdicts."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import propagate
from opentelemetry.propagators.textmap import TextMapPropagator, default_getter, default_setter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from service.exchange.traceids import TraceIds
from service.telemetry import tracecontext
from tests.support.constants import CLOUD_TRACE_ID, PARENT_SPAN_ID, TRACE_ID, TRACEPARENT
from tests.unit.conftest import Echo, MakeEcho

CLOUD_HEADER = f"{TRACE_ID}/{int(PARENT_SPAN_ID, 16)};o=1"


def test_no_trace_header_no_context(echo: Echo) -> None:
    context = echo.client.get("/anything").json["trace_context"]
    assert context == {
        "headers": {},
        "continued": None,
        "agree": {"trace_id": None, "span_id": None, "sampled": None},
    }


def test_traceparent_is_continued_and_agrees_with_cloud_trace(echo: Echo) -> None:
    headers = {"traceparent": TRACEPARENT, "X-Cloud-Trace-Context": CLOUD_HEADER}
    context = echo.client.get("/anything", headers=headers).json["trace_context"]
    assert set(context["headers"]) == {"traceparent", "x-cloud-trace-context"}
    assert context["continued"] == "traceparent"
    assert context["agree"] == {"trace_id": True, "span_id": True, "sampled": True}


def test_disagreeing_formats_are_shown_and_traceparent_wins(echo: Echo) -> None:
    headers = {"traceparent": TRACEPARENT, "X-Cloud-Trace-Context": f"{CLOUD_TRACE_ID}/7;o=0"}
    record = echo.client.get("/anything", headers=headers).json
    context = record["trace_context"]
    assert context["continued"] == "traceparent"
    assert context["agree"] == {"trace_id": False, "span_id": False, "sampled": False}
    assert record["trace"]["trace_id"] == TRACE_ID


def test_an_invalid_traceparent_leaves_cloud_trace_continued(echo: Echo) -> None:
    bad = f"00-{TRACE_ID.upper()}-{PARENT_SPAN_ID}-01"
    headers = {"traceparent": bad, "X-Cloud-Trace-Context": f"{CLOUD_TRACE_ID}/7;o=1"}
    record = echo.client.get("/anything", headers=headers).json
    context = record["trace_context"]
    assert context["headers"]["traceparent"]["valid"] is False
    assert context["continued"] == "x-cloud-trace-context"
    assert record["trace"]["trace_id"] == CLOUD_TRACE_ID
    assert context["agree"]["trace_id"] is None  # one usable format: nothing to compare


def test_a_bare_cloud_trace_id_is_continued_under_a_stand_in_parent(echo: Echo) -> None:
    record = echo.client.get("/anything", headers={"X-Cloud-Trace-Context": CLOUD_TRACE_ID}).json
    assert record["trace"]["trace_id"] == CLOUD_TRACE_ID
    assert record["trace_context"]["continued"] == "x-cloud-trace-context"


def test_b3_is_described_but_never_continued(echo: Echo) -> None:
    headers = {"b3": f"{TRACE_ID}-{PARENT_SPAN_ID}-1", "X-B3-Sampled": "0"}
    context = echo.client.get("/anything", headers=headers).json["trace_context"]
    assert context["headers"]["b3"]["valid"] is True
    assert context["headers"]["x-b3"]["sampled"] is False
    assert context["continued"] is None  # OTEL_PROPAGATORS has no b3 propagator
    assert context["agree"]["sampled"] is False


def test_without_tracing_nothing_is_continued(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_SDK_DISABLED": "true"})
    context = echo.client.get("/", headers={"traceparent": TRACEPARENT}).json["trace_context"]
    assert context["headers"]["traceparent"]["valid"] is True
    assert context["continued"] is None


# --- verdicts ------------------------------------------------------------------------------


def _downstream(traceparent: str | None) -> dict[str, Any]:
    headers = {} if traceparent is None else {"traceparent": traceparent}
    return {"trace_context": tracecontext.describe(headers, None)}


SENT = {"traceparent": TRACEPARENT, "x-echoscope-hops": "1"}


@pytest.mark.parametrize(
    ("received", "verdict"),
    [
        (TRACEPARENT, "propagated"),
        (f"00-{TRACE_ID}-00f067aa0ba902b7-01", "parent_changed"),
        (f"00-{TRACE_ID}-{PARENT_SPAN_ID}-00", "sampled_changed"),
        (f"00-{CLOUD_TRACE_ID}-{PARENT_SPAN_ID}-01", "trace_changed"),
        (None, "dropped"),
        ("not a traceparent", "dropped"),
    ],
)
def test_verdict_compares_sent_and_received(received: str | None, verdict: str) -> None:
    assert tracecontext.verdict(SENT, _downstream(received)) == verdict


def test_a_cloud_trace_header_alone_counts_as_received() -> None:
    downstream = {
        "trace_context": tracecontext.describe({"x-cloud-trace-context": CLOUD_HEADER}, None)
    }
    assert tracecontext.verdict(SENT, downstream) == "propagated"


@pytest.mark.parametrize("answer", ["plain text", {"no": "record"}, None, [1, 2]])
def test_a_non_echoscope_answer_is_unknown(answer: Any) -> None:
    assert tracecontext.verdict(SENT, answer) == "unknown"


def test_nothing_sent_is_unknown() -> None:
    assert tracecontext.verdict({"x-echoscope-hops": "1"}, _downstream(TRACEPARENT)) == "unknown"


class _Counting(TextMapPropagator):
    """W3C trace context, counting its extractions."""

    def __init__(self) -> None:
        self.inner, self.extractions = TraceContextTextMapPropagator(), 0

    def extract(self, carrier: Any, context: Any = None, getter: Any = default_getter) -> Any:
        self.extractions += 1
        return self.inner.extract(carrier, context, getter)

    def inject(self, carrier: Any, context: Any = None, setter: Any = default_setter) -> None:
        self.inner.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        return self.inner.fields


def test_the_verdict_reuses_what_the_propagators_extracted_from_the_same_carrier() -> None:
    counting = _Counting()
    propagator = tracecontext.Remembering(counting)
    environ = {"traceparent": TRACEPARENT}
    ids = TraceIds(TRACE_ID, "1" * 16, True)
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(propagator)
    try:
        propagator.extract(environ)  # as the instrumentation does, once per request
        described = tracecontext.describe({"traceparent": TRACEPARENT}, ids, environ)
        assert described["continued"] == "traceparent"
        assert counting.extractions == 1
        other = tracecontext.describe({"traceparent": TRACEPARENT}, ids, {"another": "carrier"})
        assert other["continued"] == "traceparent"
        assert counting.extractions == 2  # another carrier: extracted again
    finally:
        propagate.set_global_textmap(previous)
