"""echoscope's OTLP/HTTP JSON sender and its settings: the standard variables, retries, bounds."""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from opentelemetry.sdk.version import __version__ as sdk_version

from service import __version__
from service.settings import Settings, SettingsError
from service.settings.otlp import OtlpHttp
from service.telemetry.otlphttp import USER_AGENT, OtlpSender
from tests.support.listener import Listener, Received, send


def test_each_signal_has_its_endpoint_and_its_own_variables_win() -> None:
    settings = Settings.from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://logs.example/custom",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-team=echo,authorization=Bearer%20t",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-only=traces",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": "gzip",
        }
    )
    traces, metrics, logs = (settings.otlp_http[name] for name in ("traces", "metrics", "logs"))
    assert traces.endpoint == "http://collector:4318/v1/traces"
    assert metrics.endpoint == "http://collector:4318/v1/metrics"
    assert logs.endpoint == "https://logs.example/custom"  # a signal's own endpoint, as given
    assert traces.headers == (("x-only", "traces"),)  # replaces the generic list
    assert metrics.headers == (("authorization", "Bearer t"), ("x-team", "echo"))
    assert (traces.timeout_seconds, metrics.compression, traces.compression) == (3, "gzip", "none")


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "OTLP_ENDPOINT='collector:4318'"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x", "TRACES_ENDPOINT='ftp://x'"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", r"_\)TIMEOUT='soon'"),
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "brotli", r"\(LOGS_\)COMPRESSION='brotli'"),
    ],
)
def test_a_bad_value_stops_start_up_naming_it(name: str, value: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("exporting", "signal"),
    [
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "TRACES"),
        ({"OTEL_METRICS_EXPORTER": "prometheus,otlp"}, "METRICS"),
        ({"OTEL_LOGS_EXPORTER": "otlp"}, "LOGS"),
    ],
)
def test_a_credential_provider_refuses_json_exports_it_would_not_sign(
    exporting: dict[str, str], signal: str
) -> None:
    provider = {"OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER": "gcp_http_credentials"}
    json = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
    with pytest.raises(SettingsError, match=rf"\({signal}_\)PROTOCOL=http/json.*gcp_http"):
        Settings.from_env({**exporting, **provider, **json})
    # Signed by the SDK's exporter over http/protobuf (the default) and grpc: accepted.
    for protocol in ("http/protobuf", "grpc"):
        Settings.from_env({**exporting, **provider, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol})
    # A signal's own protocol decides for it, and a provider for another signal is no matter.
    own = {f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL": "http/protobuf"}
    Settings.from_env({**exporting, **provider, **json, **own})
    other = "LOGS" if signal != "LOGS" else "TRACES"
    elsewhere = {f"OTEL_PYTHON_EXPORTER_OTLP_HTTP_{other}_CREDENTIAL_PROVIDER": "gcp_http"}
    Settings.from_env({**exporting, **elsewhere, **json})


def test_json_with_a_credential_provider_is_refused_only_for_what_is_exported() -> None:
    provider = {"OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER": "gcp_http_credentials"}
    json = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
    Settings.from_env({**provider, **json})  # nothing goes over OTLP by default
    Settings.from_env(
        {**provider, **json, "OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}
    )


def _answers(*statuses: int) -> Listener:
    left = list(statuses)

    def answer(_: Listener, __: Received, handler: BaseHTTPRequestHandler) -> None:
        status = left.pop(0) if left else 200
        handler.send_response(status)
        if status == 429:
            handler.send_header("Retry-After", "0")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return Listener(answer)


def test_a_body_is_posted_with_the_headers_and_compression_asked_for() -> None:
    listener = _answers()
    config = OtlpHttp(f"{listener.url}/v1/traces", (("x-team", "echo"),), 5, "gzip")
    assert OtlpSender(config, "application/json").send(b'{"resourceSpans": []}')
    (received,) = listener.wait_for(1)
    assert received.path == "/v1/traces"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-team"] == "echo"
    assert received.headers["content-encoding"] == "gzip"
    assert gzip.decompress(received.body) == b'{"resourceSpans": []}'
    assert received.headers["user-agent"] == USER_AGENT


def test_configured_headers_cannot_double_the_content_type_or_the_user_agent() -> None:
    listener = _answers()
    headers = (("content-type", "text/plain"), ("user-agent", "curl/8"), ("x-team", "echo"))
    config = OtlpHttp(f"{listener.url}/v1/traces", headers, 5, "none")
    assert OtlpSender(config, "application/x-protobuf").send(b"\x0a\x00")
    (received,) = listener.wait_for(1)
    assert received.all_of("content-type") == ["application/x-protobuf"]
    # echoscope, then the exporter, its language and version, as the OTLP specification asks
    assert received.all_of("user-agent") == [
        f"echoscope/{__version__} OTel-OTLP-Exporter-Python/{sdk_version}"
    ]
    assert received.headers["x-team"] == "echo"


def test_429_and_503_are_retried_until_the_collector_takes_the_body() -> None:
    listener = _answers(429, 503)
    assert OtlpSender(
        OtlpHttp(f"{listener.url}/v1/traces", timeout_seconds=10), "application/json"
    ).send(b"{}")
    assert len(listener.wait_for(3)) == 3


def test_a_400_is_not_retried() -> None:
    listener = _answers(400)
    assert not OtlpSender(OtlpHttp(f"{listener.url}/v1/traces"), "application/json").send(b"{}")
    time.sleep(0.3)
    assert len(listener.received) == 1


def test_shutdown_ends_a_back_off_in_progress() -> None:
    listener = _answers(503, 503, 503, 503, 503, 503)
    sender = OtlpSender(
        OtlpHttp(f"{listener.url}/v1/traces", timeout_seconds=60), "application/json"
    )
    result: list[bool] = []
    sending = threading.Thread(target=lambda: result.append(sender.send(b"{}")))
    sending.start()
    listener.wait_for(2)  # in its second back-off (about 2 s)
    sender.shutdown()
    sending.join(30)
    assert not sending.is_alive() and result == [False]
    assert len(listener.received) <= 3


def test_an_unreachable_collector_is_a_failure_within_the_timeout() -> None:
    listener = Listener(lambda _, __, handler: send(handler, 200, b"", "application/json"))
    url = f"{listener.url}/v1/traces"
    listener.close()
    assert not OtlpSender(OtlpHttp(url, timeout_seconds=1.5), "application/json").send(b"{}")
