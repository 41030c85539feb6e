"""Traces from a real gunicorn exporting to a real OTLP/HTTP receiver, with 1 and 2 workers."""

from __future__ import annotations

import secrets

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.constants import NO_METADATA, PARENT_SPAN_ID
from tests.support.otlp import OtlpReceiver
from tests.support.server import Server, free_port

SERVER_KIND = 2  # opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER
CLOUD_RUN = {"K_SERVICE": "echo-svc", "K_REVISION": "echo-svc-00007", "K_CONFIGURATION": "echo-cfg"}


@pytest.fixture(
    scope="module",
    params=[(1, "http/protobuf"), (2, "http/protobuf"), (1, "http/json")],
    ids=["1-worker", "2-workers", "1-worker-otlp-json"],
)
def traced(
    request: pytest.FixtureRequest, receiver: OtlpReceiver, make_module_server: MakeServer
) -> Server:
    workers, protocol = request.param
    env = {
        **receiver.env(protocol),
        **CLOUD_RUN,
        "OTEL_SERVICE_NAME": "echo-traces",
        **NO_METADATA,
    }
    return make_module_server(env, workers=workers)


def _trace_id() -> str:
    return secrets.token_hex(16)


def test_traceparent_is_continued(traced: Server, receiver: OtlpReceiver) -> None:
    trace_id = _trace_id()
    response = requests.get(
        f"{traced.url}/anything/a?x=1",
        headers={"traceparent": f"00-{trace_id}-{PARENT_SPAN_ID}-01"},
    )
    span = receiver.wait_for(1, trace_id=trace_id)[0]
    assert span.parent_span_id == PARENT_SPAN_ID
    assert span.kind == SERVER_KIND
    assert span.span_id == response.json()["trace"]["span_id"]
    assert response.headers["traceresponse"] == f"00-{trace_id}-{span.span_id}-01"


def test_cloud_trace_context_is_continued(traced: Server, receiver: OtlpReceiver) -> None:
    trace_id = _trace_id()
    requests.get(
        f"{traced.url}/anything", headers={"X-Cloud-Trace-Context": f"{trace_id}/12345;o=1"}
    )
    span = receiver.wait_for(1, trace_id=trace_id)[0]
    assert span.parent_span_id == format(12345, "016x")


def test_traceparent_wins_over_cloud_trace_context(traced: Server, receiver: OtlpReceiver) -> None:
    wanted, other = _trace_id(), _trace_id()
    requests.get(
        f"{traced.url}/anything",
        headers={
            "traceparent": f"00-{wanted}-{PARENT_SPAN_ID}-01",
            "X-Cloud-Trace-Context": f"{other}/1;o=1",
        },
    )
    assert receiver.wait_for(1, trace_id=wanted)[0].parent_span_id == PARENT_SPAN_ID
    assert not [s for s in receiver.spans if s.trace_id == other]


@pytest.mark.parametrize(
    "headers",
    [
        {"traceparent": "00-zzzz-b7ad6b7169203331-01"},
        {"traceparent": "00-" + "0" * 32 + "-b7ad6b7169203331-01"},
        {"traceparent": "x" * 5000},
        {"X-Cloud-Trace-Context": "nothex/abc;o=9"},
        {"X-Cloud-Trace-Context": "a" * 32 + "/" + "9" * 40 + ";o=1"},
    ],
)
def test_malformed_context_starts_a_new_trace(
    traced: Server, receiver: OtlpReceiver, headers: dict[str, str]
) -> None:
    response = requests.get(f"{traced.url}/anything/malformed", headers=headers)
    assert response.status_code == 200
    trace = response.json()["trace"]
    span = receiver.wait_for(1, trace_id=trace["trace_id"])[0]
    assert span.parent_span_id == ""


def test_span_name_and_attributes(traced: Server, receiver: OtlpReceiver) -> None:
    trace_id = _trace_id()
    requests.post(
        f"{traced.url}/status/503", headers={"traceparent": f"00-{trace_id}-{PARENT_SPAN_ID}-01"}
    )
    span = receiver.wait_for(1, trace_id=trace_id)[0]
    assert span.name == "POST /status/<code>"
    assert span.attributes["http.request.method"] == "POST"
    assert span.attributes["http.route"] == "/status/<code>"
    assert span.attributes["http.response.status_code"] == 503
    assert span.attributes["url.path"] == "/status/503"


def test_unknown_method_and_catch_all_never_name_the_raw_path(
    traced: Server, receiver: OtlpReceiver
) -> None:
    trace_id = _trace_id()
    requests.request(
        "PURGE",
        f"{traced.url}/a/raw/path",
        headers={"traceparent": f"00-{trace_id}-{PARENT_SPAN_ID}-01"},
    )
    span = receiver.wait_for(1, trace_id=trace_id)[0]
    assert span.name == "HTTP /<path:path>"


def test_resource_attributes(traced: Server, receiver: OtlpReceiver) -> None:
    trace_id = _trace_id()
    response = requests.get(
        f"{traced.url}/anything", headers={"traceparent": f"00-{trace_id}-{PARENT_SPAN_ID}-01"}
    )
    resource = receiver.wait_for(1, trace_id=trace_id)[0].resource
    assert resource["service.name"] == "echo-svc"
    assert resource["service.version"] == "1.0.0"
    assert resource["service.instance.id"] == response.json()["server"]["instance"]
    assert resource["faas.version"] == "echo-svc-00007"
    assert resource["cloud.platform"] == "gcp_cloud_run"
    assert resource["gcp.cloud_run.configuration"] == "echo-cfg"


def test_no_redacted_value_in_any_attribute(traced: Server, receiver: OtlpReceiver) -> None:
    trace_id = _trace_id()
    requests.get(
        f"{traced.url}/anything?token=sekret-q&api_key=sekret-k&ok=1",
        headers={
            "traceparent": f"00-{trace_id}-{PARENT_SPAN_ID}-01",
            "Authorization": "Bearer sekret-a",
            "Cookie": "sid=sekret-c",
        },
    )
    span = receiver.wait_for(1, trace_id=trace_id)[0]
    assert "sekret" not in repr(span.attributes)
    assert span.attributes["url.query"] == "token=[REDACTED]&api_key=[REDACTED]&ok=1"


def test_excluded_paths_make_no_span(traced: Server, receiver: OtlpReceiver) -> None:
    trace_id = _trace_id()
    for path in ("/health", "/metrics"):
        requests.get(
            f"{traced.url}{path}", headers={"traceparent": f"00-{trace_id}-{PARENT_SPAN_ID}-01"}
        )
    requests.get(
        f"{traced.url}/anything", headers={"traceparent": f"00-{trace_id}-{PARENT_SPAN_ID}-01"}
    )
    spans = receiver.wait_for(1, trace_id=trace_id)
    assert [s.attributes["url.path"] for s in spans] == ["/anything"]


def test_sigterm_flushes_spans_held_in_the_batch(
    receiver: OtlpReceiver, make_server: MakeServer
) -> None:
    env = {**receiver.env(), "OTEL_BSP_SCHEDULE_DELAY": "30000"}
    server = make_server(env, workers=2)
    trace_ids = [_trace_id() for _ in range(10)]
    for trace_id in trace_ids:
        requests.get(
            f"{server.url}/anything", headers={"traceparent": f"00-{trace_id}-{PARENT_SPAN_ID}-01"}
        )
    assert server.stop() == 0
    for trace_id in trace_ids:
        receiver.wait_for(1, timeout=2, trace_id=trace_id)


def test_receiver_down_every_request_still_succeeds(make_server: MakeServer) -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    server = make_server(env)
    with requests.Session() as session:
        assert all(session.get(f"{server.url}/anything/{n}").status_code == 200 for n in range(50))


@pytest.mark.parametrize("protocol", ["http/json", "http/protobuf"])
def test_the_otlp_protocol_setting_chooses_the_encoding(
    protocol: str, make_server: MakeServer
) -> None:
    receiver = OtlpReceiver()
    try:
        server = make_server({**receiver.env(protocol), **NO_METADATA})
        trace_id = _trace_id()
        requests.get(
            f"{server.url}/anything", headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"}
        )
        span = receiver.wait_for(1, trace_id=trace_id)[0]
    finally:
        receiver.close()
    wanted = "application/json" if protocol == "http/json" else "application/x-protobuf"
    assert set(receiver.content_types) == {wanted}
    assert span.attributes["url.path"] == "/anything" and span.resource["service.name"]
