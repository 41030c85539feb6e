"""Traces (SPEC §6): one SERVER span per exchange, continuing the caller's trace."""

from __future__ import annotations

import re

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import service
from service.settings import Settings
from service.telemetry import tracing
from tests.support.constants import (
    CLOUD_TRACE_ID,
    PARENT_SPAN_ID,
    TRACE_ID,
    TRACEPARENT,
    UNSAMPLED_TRACEPARENT,
)
from tests.support.metadata import id_token
from tests.unit.conftest import Echo, MakeEcho


def _all_attribute_text(echo: Echo) -> str:
    parts: list[str] = []
    for span in echo.spans():
        parts.append(span.name)
        parts.extend(f"{key}={value}" for key, value in (span.attributes or {}).items())
        for event in span.events:
            parts.extend(f"{key}={value}" for key, value in (event.attributes or {}).items())
    return "\n".join(parts)


# --- the span ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/status/201", "GET /status/<code>"),
        ("POST", "/some/raw/path", "POST /<path:path>"),
        ("PUT", "/anything", "PUT /anything"),
        ("DELETE", "/anything/a/b", "DELETE /anything/<path:path>"),
        ("GET", "/", "GET /"),
        ("GET", "/delay/0", "GET /delay/<seconds>"),
    ],
)
def test_span_is_named_method_and_route(echo: Echo, method: str, path: str, name: str) -> None:
    echo.client.open(path, method=method)
    assert echo.span().name == name


def test_span_is_a_server_span(echo: Echo) -> None:
    echo.client.get("/anything")
    assert echo.span().kind is SpanKind.SERVER


def test_one_span_per_exchange(echo: Echo) -> None:
    for _ in range(3):
        echo.client.get("/anything")
    assert len(echo.spans()) == 3


def test_span_has_the_http_attributes(echo: Echo) -> None:
    echo.client.post("/status/418?x=1")
    attributes = echo.span().attributes or {}
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.route"] == "/status/<code>"
    assert attributes["http.response.status_code"] == 418
    assert attributes["url.path"] == "/status/418"


def test_span_ids_are_those_of_the_record(echo: Echo) -> None:
    record = echo.client.get("/anything").json
    context = echo.span().context
    assert format(context.trace_id, "032x") == record["trace"]["trace_id"]
    assert format(context.span_id, "016x") == record["trace"]["span_id"]


def test_server_error_marks_the_span_as_error(echo: Echo) -> None:
    echo.client.get("/status/503")
    assert echo.span().status.status_code is StatusCode.ERROR


def test_client_error_leaves_the_server_span_unset(echo: Echo) -> None:
    echo.client.get("/status/404")
    assert echo.span().status.status_code is StatusCode.UNSET


def test_unhandled_exception_marks_the_span_as_error(echo: Echo) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    echo.app.add_url_rule("/boom", "boom", boom)
    echo.client.get("/boom")
    span = echo.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
    (event,) = span.events
    assert event.name == "exception" and event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"
    assert event.attributes["exception.message"] == "boom"
    assert "raise RuntimeError" in str(event.attributes["exception.stacktrace"])


def test_a_5xx_without_an_exception_keeps_the_status_as_error_type(echo: Echo) -> None:
    echo.client.get("/status/503")
    span = echo.span()
    assert span.attributes is not None and span.attributes["error.type"] == "503"
    assert not span.events


# --- parents -----------------------------------------------------------------------------


def test_parent_from_traceparent(echo: Echo) -> None:
    echo.client.get("/anything", headers={"traceparent": TRACEPARENT})
    span = echo.span()
    assert span.parent is not None and span.parent.is_remote
    assert format(span.parent.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert format(span.context.trace_id, "032x") == TRACE_ID


def test_parent_from_cloud_trace_context(echo: Echo) -> None:
    echo.client.get("/anything", headers={"X-Cloud-Trace-Context": f"{CLOUD_TRACE_ID}/12345;o=1"})
    span = echo.span()
    assert span.parent is not None
    assert format(span.parent.trace_id, "032x") == CLOUD_TRACE_ID
    assert span.parent.span_id == 12345  # decimal in the header
    assert format(span.parent.span_id, "016x") == "0000000000003039"


def test_traceparent_wins_over_cloud_trace_context(echo: Echo) -> None:
    echo.client.get(
        "/anything",
        headers={
            "X-Cloud-Trace-Context": f"{CLOUD_TRACE_ID}/12345;o=1",
            "traceparent": TRACEPARENT,
        },
    )
    parent = echo.span().parent
    assert parent is not None
    assert format(parent.trace_id, "032x") == TRACE_ID
    assert format(parent.span_id, "016x") == PARENT_SPAN_ID


@pytest.mark.parametrize(
    "headers",
    [
        {"traceparent": "garbage"},
        {"traceparent": "00-00000000000000000000000000000000-b7ad6b7169203331-01"},
        {"traceparent": f"00-{TRACE_ID}-0000000000000000-01"},
        {"traceparent": f"00-{TRACE_ID.upper()}-{PARENT_SPAN_ID}-01"},
        {"traceparent": "ff-" + TRACE_ID + "-" + PARENT_SPAN_ID + "-01"},
        {"X-Cloud-Trace-Context": "zzz"},
        {"X-Cloud-Trace-Context": "not-hex/abc;o=1"},
        {"X-Cloud-Trace-Context": "zzz", "traceparent": "garbage"},
    ],
)
def test_malformed_context_starts_a_new_trace(echo: Echo, headers: dict[str, str]) -> None:
    response = echo.client.get("/anything", headers=headers)
    assert response.status_code == 200
    span = echo.span()
    assert span.parent is None
    assert format(span.context.trace_id, "032x") == response.json["trace"]["trace_id"]


def test_unsampled_parent_is_not_recorded(echo: Echo) -> None:
    record = echo.client.get("/anything", headers={"traceparent": UNSAMPLED_TRACEPARENT}).json
    assert echo.spans() == ()
    assert record["trace"]["trace_id"] == TRACE_ID
    assert record["trace"]["sampled"] is False


# --- exclusion -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/metrics", "/health?probe=1"])
def test_no_span_for_excluded_paths(echo: Echo, path: str) -> None:
    assert echo.client.get(path).status_code == 200
    assert echo.spans() == ()


@pytest.mark.parametrize("path", ["/healthy", "/x/health", "/metrics/extra"])
def test_span_for_paths_that_only_look_excluded(echo: Echo, path: str) -> None:
    echo.client.get(path)
    assert len(echo.spans()) == 1


def test_an_excluded_path_makes_no_span_even_when_the_caller_samples(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_EXCLUDE_PATHS": "/anything/probe"})
    answer = echo.client.get("/anything/probe", headers={"traceparent": TRACEPARENT})
    assert answer.status_code == 200
    assert answer.json["trace"] is None  # the exchange of an excluded path has no trace ids
    assert "traceresponse" not in answer.headers
    assert echo.spans() == ()
    echo.client.get("/anything/probe/2", headers={"traceparent": TRACEPARENT})
    assert len(echo.spans()) == 1


def test_the_sampler_still_decides_for_every_other_path(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_TRACES_SAMPLER": "always_off"})
    record = echo.client.get("/anything").json
    assert echo.spans() == ()
    assert record["trace"]["sampled"] is False
    provider = tracing.provider_of(echo.app)
    assert provider is not None
    assert provider.sampler.get_description() == "ExcludedPaths{AlwaysOffSampler}"


# --- resource ------------------------------------------------------------------------------


def test_resource_names_the_service(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_SERVICE_NAME": "probe"})
    record = echo.client.get("/anything").json
    attributes = echo.span().resource.attributes
    assert attributes["service.name"] == "probe"
    assert attributes["service.version"] == service.__version__
    assert attributes["service.instance.id"] == record["server"]["instance"]


def test_resource_has_the_cloud_run_attributes(make_echo: MakeEcho) -> None:
    echo = make_echo({"K_SERVICE": "svc", "K_REVISION": "svc-00003", "K_CONFIGURATION": "svc"})
    echo.client.get("/anything")
    attributes = echo.span().resource.attributes
    assert attributes["service.name"] == "svc"
    assert attributes["cloud.platform"] == "gcp_cloud_run"
    assert attributes["faas.name"] == "svc"
    assert attributes["faas.version"] == "svc-00003"
    assert attributes["gcp.cloud_run.configuration"] == "svc"


def test_resource_has_no_cloud_attributes_off_cloud_run(echo: Echo) -> None:
    echo.client.get("/anything")
    attributes = echo.span().resource.attributes
    assert not any(key.startswith(("cloud.", "faas.", "gcp.")) for key in attributes)


# --- redaction -----------------------------------------------------------------------------


def test_no_redacted_value_in_any_span_attribute(echo: Echo) -> None:
    response = echo.client.get(
        "/anything/path?token=s3cr3t-q&api_key=s3cr3t-k&keep=1",
        headers={
            "Authorization": "Bearer s3cr3t-h",
            "Cookie": "session=s3cr3t-c",
            "X-Api-Key": "s3cr3t-x",
        },
    )
    assert response.status_code == 200
    text = _all_attribute_text(echo)
    assert "s3cr3t" not in text
    assert (echo.span().attributes or {})["url.query"] == (
        "token=[REDACTED]&api_key=[REDACTED]&keep=1"
    )


def test_custom_redacted_query_param_not_in_span(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_REDACT_QUERY": "pin"})
    echo.client.get("/anything?pin=s3cr3t-pin")
    assert "s3cr3t-pin" not in _all_attribute_text(echo)


def test_redacted_query_not_in_the_span_of_an_error(echo: Echo) -> None:
    echo.client.get("/status/abc?token=s3cr3t-q")
    assert "s3cr3t-q" not in _all_attribute_text(echo)


# --- samplers and switches ------------------------------------------------------------------


def test_always_off_keeps_trace_ids_unsampled(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_TRACES_SAMPLER": "always_off"})
    response = echo.client.get("/anything")
    trace_ids = response.json["trace"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_ids["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", trace_ids["span_id"])
    assert trace_ids["sampled"] is False
    assert echo.spans() == ()


def test_ratio_zero_samples_nothing(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"})
    assert echo.client.get("/anything").json["trace"]["sampled"] is False
    assert echo.spans() == ()


def test_sdk_disabled_means_no_instrumentation(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_SDK_DISABLED": "true"})
    response = echo.client.get("/anything", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200
    assert response.json["trace"] is None
    assert "traceresponse" not in response.headers
    assert "echoscope.tracer_provider" not in echo.app.extensions


def test_shutdown_flushes_pending_spans(echo: Echo) -> None:
    exporter = InMemorySpanExporter()
    provider = echo.app.extensions["echoscope.tracer_provider"]
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    echo.client.get("/anything")
    tracing.shutdown(echo.app)
    assert len(exporter.get_finished_spans()) == 1


def test_shutdown_without_tracing_is_harmless(make_echo: MakeEcho) -> None:
    tracing.shutdown(make_echo({"OTEL_SDK_DISABLED": "true"}).app)


# --- the parts, directly ----------------------------------------------------------------------


def _extract(names: tuple[str, ...], carrier: dict[str, str]) -> trace.SpanContext:
    context = tracing.create_propagator(names).extract(carrier)
    return trace.get_current_span(context).get_span_context()


def test_create_propagator_reads_tracecontext() -> None:
    context = _extract(("tracecontext",), {"traceparent": TRACEPARENT})
    assert format(context.trace_id, "032x") == TRACE_ID


def test_create_propagator_reads_cloud_trace_context() -> None:
    context = _extract(("gcp_trace",), {"x-cloud-trace-context": f"{CLOUD_TRACE_ID}/1;o=1"})
    assert format(context.trace_id, "032x") == CLOUD_TRACE_ID


def test_create_propagator_later_names_win() -> None:
    carrier = {"traceparent": TRACEPARENT, "x-cloud-trace-context": f"{CLOUD_TRACE_ID}/1;o=1"}
    assert format(_extract(("gcp_trace", "tracecontext"), carrier).trace_id, "032x") == TRACE_ID
    assert (
        format(_extract(("tracecontext", "gcp_trace"), carrier).trace_id, "032x") == CLOUD_TRACE_ID
    )


def test_create_propagator_of_no_names_reads_nothing() -> None:
    assert not _extract((), {"traceparent": TRACEPARENT}).is_valid


def test_create_propagator_injects_tracecontext() -> None:
    propagator = tracing.create_propagator(("tracecontext",))
    parent = trace.set_span_in_context(
        trace.NonRecordingSpan(_extract(("tracecontext",), {"traceparent": TRACEPARENT}))
    )
    carrier: dict[str, str] = {}
    propagator.inject(carrier, context=parent)
    assert carrier["traceparent"] == TRACEPARENT


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("always_on", sampling.StaticSampler),
        ("always_off", sampling.StaticSampler),
        ("traceidratio", sampling.TraceIdRatioBased),
        ("parentbased_always_on", sampling.ParentBased),
        ("parentbased_always_off", sampling.ParentBased),
        ("parentbased_traceidratio", sampling.ParentBased),
    ],
)
def test_create_sampler_by_name(name: str, kind: type) -> None:
    assert isinstance(tracing.create_sampler(Settings(traces_sampler=name)), kind)


def test_create_sampler_always_off_decides_drop() -> None:
    sampler = tracing.create_sampler(Settings(traces_sampler="always_off"))
    result = sampler.should_sample(None, 0x1234, "span")
    assert result.decision is sampling.Decision.DROP


def test_create_sampler_ratio_uses_the_arg() -> None:
    sampler = tracing.create_sampler(
        Settings(traces_sampler="traceidratio", traces_sampler_arg=0.25)
    )
    assert isinstance(sampler, sampling.TraceIdRatioBased)
    assert sampler.rate == 0.25


def test_create_sampler_parent_based_ratio_uses_the_arg() -> None:
    sampler = tracing.create_sampler(
        Settings(traces_sampler="parentbased_traceidratio", traces_sampler_arg=0.5)
    )
    assert "0.5" in sampler.get_description()


def test_default_sampler_follows_the_parent() -> None:
    assert isinstance(tracing.create_sampler(Settings()), sampling.ParentBased)


def test_create_exporter_none_is_none() -> None:
    assert tracing.create_exporter("none") is None


def test_captured_request_headers_are_redacted_on_the_span(
    make_echo: MakeEcho, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers the instrumentation captures: the redacted names, tokens whatever the setting
    says, the referer's query; the rest as sent."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    echo = make_echo({"ECHO_REDACT_HEADERS": "x-other"})  # authorization not named
    token = id_token("https://echoscope.example")
    echo.client.get(
        "/anything",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Goog-IAP-JWT-Assertion": "opaque-assertion",
            "X-Other": "s3cret",
            "Referer": "https://app.example/page?token=abc123&x=1",
            "X-Plain": "visible",
        },
    )
    attributes = echo.span().attributes or {}
    key = "http.request.header."
    assert attributes[f"{key}authorization"] == ("[REDACTED]",)
    assert attributes[f"{key}x_other"] == ("[REDACTED]",)
    assert attributes[f"{key}x_goog_iap_jwt_assertion"] == ("[REDACTED]",)  # bare token
    assert "abc123" not in attributes[f"{key}referer"][0]
    assert "x=1" in attributes[f"{key}referer"][0]
    assert attributes[f"{key}x_plain"] == ("visible",)
