"""All three signals over OTLP, from a real gunicorn to a real receiver (HTTP protobuf/JSON, gRPC).

Spans, log records and metric data points are decoded by the receiver the
suite starts; each test matches them one to one by trace id.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter

import pytest
import requests

from service.telemetry.otlphttp import USER_AGENT
from tests.integration.conftest import MakeServer
from tests.support.constants import NO_METADATA
from tests.support.metadata import INSTANCE_ID, PROJECT, REGION, MetadataServer
from tests.support.otlp import OtlpReceiver, ReceivedLog, ReceivedPoint
from tests.support.server import ROOT, Server

ALL = ("traces", "metrics", "logs")
DURATION = "http.server.request.duration"
CONTENT_TYPES = {
    "http/protobuf": "application/x-protobuf",
    "http/json": "application/json",
    "grpc": "application/grpc",
}
RESOURCE = "deployment.environment.name=otlp-test,team=echo%20scope"
SLOW = {  # nothing leaves before SIGTERM unless the shutdown flushes it
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_BLRP_SCHEDULE_DELAY": "60000",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
}
N = 24


def _traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def _send(server: Server, trace_ids: list[str], path: str = "/anything/otlp") -> list[str]:
    """One request per trace id, each on its own connection (both workers serve); the uuids."""
    uuids = []
    for trace_id in trace_ids:
        response = requests.get(
            f"{server.url}{path}",
            headers={"traceparent": _traceparent(trace_id), "Connection": "close"},
            timeout=10,
        )
        assert response.status_code == 200
        uuids.append(response.headers["X-Request-Id"])
    return uuids


def _exchange_logs(receiver: OtlpReceiver, trace_ids: set[str]) -> list[ReceivedLog]:
    return [
        record
        for record in list(receiver.logs)
        if record.trace_id in trace_ids and "http.response.status_code" in record.attributes
    ]


def _route_count(points: list[ReceivedPoint], route: str) -> int:
    return sum(point.count for point in points if point.attributes.get("http.route") == route)


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_every_exchange_is_one_span_one_log_record_and_one_count_after_sigterm(
    protocol: str, make_server: MakeServer
) -> None:
    receiver = OtlpReceiver()
    try:
        env = {
            **receiver.env(protocol, ALL),
            **SLOW,
            **NO_METADATA,
            "OTEL_RESOURCE_ATTRIBUTES": RESOURCE,
            "OTEL_SERVICE_NAME": "echo-otlp",
        }
        server = make_server(env, workers=2)
        trace_ids = [secrets.token_hex(16) for _ in range(N)]
        uuids = _send(server, trace_ids)
        assert server.stop() == 0  # SIGTERM: every worker flushes its three exporters
        wanted = set(trace_ids)

        spans = [span for span in list(receiver.spans) if span.trace_id in wanted]
        logs = _exchange_logs(receiver, wanted)
        points = receiver.latest_points(DURATION)
        assert len(spans) == N and Counter(s.trace_id for s in spans).most_common(1)[0][1] == 1
        assert len(logs) == N and {record.trace_id for record in logs} == wanted
        span_of = {span.trace_id: span for span in spans}
        for record in logs:  # the record carries its exchange's span, sampled
            assert record.span_id == span_of[record.trace_id].span_id
            assert record.flags & 1 == 1
            assert record.attributes["echoscope.uuid"] in uuids
            same = span_of[record.trace_id].resource["service.instance.id"]
            assert record.resource["service.instance.id"] == same
        instances = {point.resource["service.instance.id"] for point in points}
        assert instances == {span.resource["service.instance.id"] for span in spans}
        assert _route_count(points, "/anything/<path:path>") == N  # summed over the workers
        exemplars = {e for p in receiver.points if p.name == DURATION for e in p.exemplars}
        assert exemplars and exemplars <= {(s.trace_id, s.span_id) for s in spans}

        for item in [*spans, *logs, *points]:  # one resource for the three signals
            assert item.resource["deployment.environment.name"] == "otlp-test"
            assert item.resource["team"] == "echo scope"
            assert item.resource["service.name"] == "echo-otlp"
        assert set(receiver.content_types) == {CONTENT_TYPES[protocol]}
        assert set(receiver.signals) == set(ALL)
        if protocol != "grpc":  # all three encoded by echoscope and posted by its sender
            assert receiver.agents == {signal: {USER_AGENT} for signal in ALL}
    finally:
        receiver.close()


def test_the_log_record_speaks_opentelemetry(make_server: MakeServer) -> None:
    receiver = OtlpReceiver()
    try:
        server = make_server({**receiver.env("http/protobuf", ALL), **NO_METADATA})
        trace_id = secrets.token_hex(16)
        requests.post(
            f"{server.url}/status/503?token=sekret-q&x=1",
            data=b"hello",
            headers={
                "traceparent": _traceparent(trace_id),
                "Authorization": "Bearer sekret-a",
                "User-Agent": "otlp-test/1",
                "Referer": "https://app.example/page?password=sekret-r",
            },
            timeout=10,
        )
        (record,) = receiver.wait_for_logs(1, trace_id=trace_id)
        line = server.wait_for_lines(lambda line: line.get("trace_id") == trace_id)[0]
    finally:
        receiver.close()
    assert (record.severity_number, record.severity_text) == (17, "ERROR")
    assert record.body == line["message"]
    attributes = record.attributes
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.route"] == "/status/<code>"
    assert attributes["http.response.status_code"] == 503
    assert attributes["error.type"] == "503"
    assert attributes["url.full"] == line["httpRequest"]["requestUrl"]
    assert attributes["url.full"].endswith("/status/503?token=[REDACTED]&x=1")
    assert attributes["user_agent.original"] == "otlp-test/1"
    assert attributes["client.address"] == "127.0.0.1"
    assert attributes["http.request.body.size"] == 5
    assert attributes["network.protocol.version"] == "1.1"
    # nested fields as their JSON text: redacted and bounded alike
    assert json.loads(attributes["echoscope.request"]) == line["request"]
    assert json.loads(attributes["echoscope.response"]) == line["response"]
    assert "sekret" not in repr(attributes)


def test_a_raising_view_leaves_the_exception_on_span_metric_and_log_record(
    make_server: MakeServer,
) -> None:
    receiver = OtlpReceiver()
    try:
        env = {**receiver.env("http/protobuf", ALL), **NO_METADATA}
        server = make_server(env, app="tests.support.raising:app")
        trace_id = secrets.token_hex(16)
        response = requests.get(
            f"{server.url}/raise", headers={"traceparent": _traceparent(trace_id)}, timeout=10
        )
        assert response.status_code == 500
        assert response.json()["error"] == "Internal Server Error"
        (span,) = receiver.wait_for(1, trace_id=trace_id)
        records = receiver.wait_for_logs(2, trace_id=trace_id)
        point = _wait_point(receiver, lambda p: p.attributes.get("http.route") == "/raise")
    finally:
        receiver.close()
    events = dict(span.events)
    assert events["exception"]["exception.type"] == "RuntimeError"
    assert events["exception"]["exception.message"] == "raised on purpose"
    assert "Traceback" in events["exception"]["exception.stacktrace"]
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
    assert span.status_code == 2  # STATUS_CODE_ERROR
    assert point.attributes["error.type"] == "RuntimeError" and point.count == 1
    exchange = [r for r in records if "http.response.status_code" in r.attributes]
    thrown = [r for r in records if "exception.stacktrace" in r.attributes]
    assert exchange[0].attributes["error.type"] == "RuntimeError"
    assert thrown[0].attributes["exception.type"] == "RuntimeError"
    assert thrown[0].attributes["exception.message"] == "raised on purpose"
    assert thrown[0].span_id == span.span_id


def _wait_point(receiver: OtlpReceiver, match: object, timeout: float = 10) -> ReceivedPoint:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in receiver.latest_points(DURATION) if match(p)]  # type: ignore[operator]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {DURATION} point in {timeout}s")


def test_a_collector_down_then_up_never_fails_a_request_and_gets_data_again(
    make_server: MakeServer,
) -> None:
    receiver = OtlpReceiver()
    try:
        env = {
            **receiver.env("http/protobuf", ALL),
            **NO_METADATA,
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        }
        server = make_server(env, workers=2)
        receiver.down()
        _send(server, [secrets.token_hex(16) for _ in range(40)])  # each answered 200
        time.sleep(2)  # the exporters try, fail and warn meanwhile
        receiver.up()
        after = [secrets.token_hex(16) for _ in range(4)]
        _send(server, after)
        spans = [receiver.wait_for(1, timeout=20, trace_id=trace_id)[0] for trace_id in after]
        records = [receiver.wait_for_logs(1, timeout=20, trace_id=t)[0] for t in after]
        assert {r.span_id for r in records} == {s.span_id for s in spans}
        assert _wait_point(receiver, lambda p: p.count > 0, timeout=20)
        warnings = [
            line
            for line in server.json_lines()
            if str(line.get("logger", "")).startswith("opentelemetry")
        ]
    finally:
        receiver.close()
    assert len(warnings) <= 2, warnings  # one per 30 s per worker at most


def test_spans_over_the_default_protocol_go_gzipped_and_a_503_is_retried(
    make_server: MakeServer,
) -> None:
    receiver = OtlpReceiver()
    try:
        env = {**receiver.env(), **NO_METADATA, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip"}
        del env["OTEL_EXPORTER_OTLP_PROTOCOL"]  # the default: http/protobuf
        receiver.refuse(2)
        server = make_server(env)
        trace_ids = [secrets.token_hex(16) for _ in range(3)]
        _send(server, trace_ids)
        spans = [receiver.wait_for(1, timeout=20, trace_id=trace_id)[0] for trace_id in trace_ids]
    finally:
        receiver.close()
    assert receiver.refused == 2  # each refused export was tried again until taken
    assert set(receiver.content_types) == {"application/x-protobuf"}
    assert set(receiver.encodings) == {"gzip"}
    assert all(span.attributes["url.path"] == "/anything/otlp" for span in spans)


def test_stdout_lines_carry_the_trace_context_without_a_project(server: Server) -> None:
    trace_id = secrets.token_hex(16)
    response = requests.get(
        f"{server.url}/anything/local", headers={"traceparent": _traceparent(trace_id)}
    )
    line = server.line_for(response.headers["X-Request-Id"])
    span_id = response.json()["trace"]["span_id"]
    assert (line["trace_id"], line["span_id"], line["trace_flags"]) == (trace_id, span_id, "01")
    assert "logging.googleapis.com/trace" not in line  # no project known: as before


def test_metrics_has_target_info_from_the_resource(make_server: MakeServer) -> None:
    server = make_server({"OTEL_RESOURCE_ATTRIBUTES": RESOURCE, "OTEL_SERVICE_NAME": "echo-ti"})
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    (line,) = [line for line in text.splitlines() if line.startswith("target_info{")]
    assert 'service_name="echo-ti"' in line
    assert 'deployment_environment_name="otlp-test"' in line
    assert 'team="echo scope"' in line
    assert "service_instance_id" not in line
    assert line.endswith(" 1.0")


def test_on_cloud_run_the_google_cloud_detector_fills_the_resource_of_all_three(
    make_server: MakeServer,
) -> None:
    # Google's detector asks http://metadata.google.internal (port 80) itself: the
    # test-only resolver points that name at a fake metadata server on a loopback address.
    metadata = MetadataServer(address=("127.3.0.80", 80))
    receiver = OtlpReceiver()
    try:
        env = {
            **receiver.env("http/protobuf", ALL),
            "K_SERVICE": "echo-run",
            "K_REVISION": "echo-run-00003",
            "K_CONFIGURATION": "echo-run",
            "GCE_METADATA_HOST": metadata.host,
            "PYTHONPATH": str(ROOT / "tests" / "support" / "fakedns"),
            "ECHOSCOPE_TEST_HOSTS": "metadata.google.internal=127.3.0.80",
        }
        server = make_server(env)
        trace_id = secrets.token_hex(16)
        _send(server, [trace_id])
        (span,) = receiver.wait_for(1, trace_id=trace_id)
        (record,) = receiver.wait_for_logs(1, trace_id=trace_id)
        point = _wait_point(receiver, lambda p: p.attributes.get("http.route") is not None)
    finally:
        receiver.close()
        metadata.close()
    expected = {
        "cloud.provider": "gcp",
        "cloud.platform": "gcp_cloud_run",
        "cloud.account.id": PROJECT,
        "cloud.region": REGION,
        "faas.name": "echo-run",
        "faas.version": "echo-run-00003",
        "faas.instance": INSTANCE_ID,
    }
    for resource in (span.resource, record.resource, point.resource):
        assert {key: resource.get(key) for key in expected} == expected


def test_otlp_metrics_alone_need_no_shared_files(make_server: MakeServer) -> None:
    receiver = OtlpReceiver()
    try:
        env = {**receiver.env("http/protobuf", ("metrics",)), **NO_METADATA}
        env["OTEL_METRICS_EXPORTER"] = "otlp"
        server = make_server(env, workers=2)
        _send(server, [secrets.token_hex(16) for _ in range(6)])
        point = _wait_point(receiver, lambda p: p.attributes.get("http.route") is not None)
        text = requests.get(f"{server.url}/metrics", timeout=10).text
    finally:
        receiver.close()
    assert point.count >= 1
    # No multiprocess files: each worker's own registry, with its process metrics,
    # and no request series (prometheus is not listed).
    assert "process_cpu_seconds_total" in text and "target_info{" in text
    assert "http_server_request_duration_seconds_count{" not in text
