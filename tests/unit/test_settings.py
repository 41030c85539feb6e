"""Settings: every variable of SPEC §2 read from a plain dict, validated, frozen."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.settings import Settings, SettingsError
from service.telemetry import tracing

PARSED = [
    ("PORT", "9090", "port", 9090),
    ("PORT", " 8081 ", "port", 8081),
    ("WEB_CONCURRENCY", "4", "web_concurrency", 4),
    ("ECHO_THREADS", "16", "threads", 16),
    ("ECHO_LOG_LEVEL", "warning", "log_level", "WARNING"),
    ("ECHO_LOG_FORMAT", "console", "log_format", "console"),
    ("ECHO_LOG_FORMAT", "JSON", "log_format", "json"),
    ("ECHO_LOG_BODY_BYTES", "0", "log_body_bytes", 0),
    ("ECHO_LOG_BODY_BYTES", "128", "log_body_bytes", 128),
    ("ECHO_REDACT_HEADERS", "X-Secret, Authorization", "redact_headers",
     frozenset({"x-secret", "authorization"})),
    ("ECHO_REDACT_HEADERS", "", "redact_headers", frozenset()),
    ("ECHO_REDACT_QUERY", "Token,pw", "redact_query", frozenset({"token", "pw"})),
    ("ECHO_MAX_BODY_BYTES", "1024", "max_body_bytes", 1024),
    ("ECHO_MAX_DELAY_SECONDS", "0.5", "max_delay_seconds", 0.5),
    ("ECHO_TRUSTED_PROXY_HOPS", "1", "trusted_proxy_hops", 1),
    ("ECHO_CORS_ORIGIN", "https://app.example", "cors_origin", "https://app.example"),
    ("ECHO_CORS_ORIGIN", "", "cors_origin", ""),
    ("ECHO_EXCLUDE_PATHS", "/ping, /ready", "exclude_paths", ("/ping", "/ready")),
    ("ECHO_EXCLUDE_PATHS", "", "exclude_paths", ()),
    ("ECHO_METRICS", "false", "metrics_enabled", False),
    ("PROMETHEUS_MULTIPROC_DIR", "/tmp/prom", "multiproc_dir", "/tmp/prom"),
    ("GOOGLE_CLOUD_PROJECT", "my-project", "google_cloud_project", "my-project"),
    ("K_SERVICE", "svc", "k_service", "svc"),
    ("K_REVISION", "svc-00001-abc", "k_revision", "svc-00001-abc"),
    ("K_CONFIGURATION", "svc", "k_configuration", "svc"),
    ("OTEL_SDK_DISABLED", "true", "otel_sdk_disabled", True),
    ("OTEL_SERVICE_NAME", "probe", "service_name", "probe"),
    ("OTEL_TRACES_EXPORTER", "otlp", "traces_exporter", "otlp"),
    ("OTEL_TRACES_EXPORTER", "console", "traces_exporter", "console"),
    ("OTEL_TRACES_SAMPLER", "traceidratio", "traces_sampler", "traceidratio"),
    ("OTEL_TRACES_SAMPLER", "always_off", "traces_sampler", "always_off"),
    ("OTEL_TRACES_SAMPLER_ARG", "0.25", "traces_sampler_arg", 0.25),
    ("OTEL_PROPAGATORS", "tracecontext", "propagators", ("tracecontext",)),
    ("OTEL_PROPAGATORS", "none", "propagators", ()),
    ("GCE_METADATA_HOST", "127.0.0.1:9", "metadata_host", "127.0.0.1:9"),
    ("ECHO_UNSAFE_CONTENT_TYPES", "true", "unsafe_content_types", True),
    ("ECHO_REDIRECT_HOSTS", "Example.com, b.example", "redirect_hosts",
     frozenset({"example.com", "b.example"})),
    ("ECHO_CALL_TARGETS", "http://127.0.0.1:9000/, https://b.example/api", "call_targets",
     ("http://127.0.0.1:9000/", "https://b.example/api")),
    ("ECHO_CALL_AUTH", "google", "call_auth", "google"),
    ("ECHO_CALL_TIMEOUT_SECONDS", "1.5", "call_timeout_seconds", 1.5),
    ("ECHO_CALL_MAX_HOPS", "3", "call_max_hops", 3),
    ("ECHO_INSPECT_TOKEN", "s3cr3t-token", "inspect_token", "s3cr3t-token"),
    ("ECHO_HISTORY_SIZE", "50", "history_size", 50),
    ("ECHO_HISTORY_URL", "redis://127.0.0.1:6379/0", "history_url", "redis://127.0.0.1:6379/0"),
    ("ECHO_HISTORY_PATH", "/tmp/h.sqlite3", "history_path", "/tmp/h.sqlite3"),
    ("ECHO_TRACE_URL_TEMPLATE", "http://localhost:16686/trace/{trace_id}", "trace_url_template",
     "http://localhost:16686/trace/{trace_id}"),
    ("ECHO_LOGS_URL_TEMPLATE", "https://logs.example/?q={uuid}&p={project}&s={span_id}",
     "logs_url_template", "https://logs.example/?q={uuid}&p={project}&s={span_id}"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "otlp_traces_protocol", "http/json"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "otlp_traces_protocol", "grpc"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "otlp_metrics_protocol", "grpc"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "otlp_logs_protocol", "grpc"),
    ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json", "otlp_metrics_protocol", "http/json"),
    ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "GRPC", "otlp_logs_protocol", "grpc"),
    ("OTEL_METRICS_EXPORTER", "prometheus, otlp", "metrics_exporters", ("prometheus", "otlp")),
    ("OTEL_METRICS_EXPORTER", "otlp", "metrics_exporters", ("otlp",)),
    ("OTEL_METRICS_EXPORTER", "none", "metrics_exporters", ()),
    ("OTEL_LOGS_EXPORTER", "otlp", "logs_exporter", "otlp"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "500", "metric_export_interval_millis", 500),
    ("OTEL_METRIC_EXPORT_TIMEOUT", "2000", "metric_export_timeout_millis", 2000),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "HTTP/JSON", "otlp_traces_protocol", "http/json"),
    ("ECHO_LOG_ECHO_BODY", "copy", "log_echo_body", "copy"),
    ("ECHO_HEADER_TIMEOUT_SECONDS", "2.5", "header_timeout_seconds", 2.5),
    ("ECHO_BODY_TIMEOUT_SECONDS", "30", "body_timeout_seconds", 30.0),
    ("ECHO_FAULTS", "false", "faults_enabled", False),
    ("ECHO_HTTP2", "false", "http2", False),
    ("ECHO_HTTP2", "on", "http2", True),
    ("ECHO_WEBSOCKET_MAX_SECONDS", "30.5", "websocket_max_seconds", 30.5),
]  # fmt: skip

BAD = [
    ("PORT", "abc"),
    ("PORT", "0"),
    ("PORT", "65536"),
    ("PORT", "80.5"),
    ("WEB_CONCURRENCY", "0"),
    ("ECHO_THREADS", "many"),
    ("ECHO_LOG_LEVEL", "LOUD"),
    ("ECHO_LOG_FORMAT", "xml"),
    ("ECHO_LOG_BODY_BYTES", "-5"),
    ("ECHO_MAX_BODY_BYTES", "-1"),
    ("ECHO_MAX_DELAY_SECONDS", "nan"),
    ("ECHO_MAX_DELAY_SECONDS", "-1"),
    ("ECHO_TRUSTED_PROXY_HOPS", "-1"),
    ("ECHO_CORS_ORIGIN", "https://a.example\r\nX-Injected: 1"),
    ("ECHO_EXCLUDE_PATHS", "health"),
    ("ECHO_METRICS", "maybe"),
    ("OTEL_SDK_DISABLED", "perhaps"),
    ("OTEL_TRACES_EXPORTER", "zipkin"),
    ("OTEL_TRACES_SAMPLER", "sometimes"),
    ("OTEL_TRACES_SAMPLER_ARG", "2"),
    ("OTEL_TRACES_SAMPLER_ARG", "nan"),
    ("OTEL_PROPAGATORS", "foo"),
    ("OTEL_PROPAGATORS", "tracecontext,foo"),
    ("ECHO_UNSAFE_CONTENT_TYPES", "sometimes"),
    ("ECHO_CALL_TARGETS", "ftp://a.example/"),
    ("ECHO_CALL_TARGETS", "a.example"),
    ("ECHO_CALL_TARGETS", "http://user:pw@a.example/"),
    ("ECHO_CALL_AUTH", "aws"),
    ("ECHO_CALL_TIMEOUT_SECONDS", "0"),
    ("ECHO_CALL_MAX_HOPS", "0"),
    ("ECHO_HISTORY_SIZE", "0"),
    ("ECHO_HISTORY_URL", "http://redis.example/"),
    ("ECHO_TRACE_URL_TEMPLATE", "javascript:alert(1)//{trace_id}"),
    ("ECHO_TRACE_URL_TEMPLATE", "http://t.example/{trace}"),
    ("ECHO_TRACE_URL_TEMPLATE", "http://t.example/{trace_id!r}"),
    ("ECHO_TRACE_URL_TEMPLATE", "http://t.example/{trace_id:>40}"),
    ("ECHO_LOGS_URL_TEMPLATE", "https://l.example/{uuid"),
    ("ECHO_LOGS_URL_TEMPLATE", "https://l.example/{0}"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
    ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "udp"),
    ("OTEL_METRICS_EXPORTER", "statsd"),
    ("OTEL_METRICS_EXPORTER", "none,otlp"),
    ("OTEL_LOGS_EXPORTER", "console"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
    ("OTEL_METRIC_EXPORT_TIMEOUT", "0"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/xml"),
    ("ECHO_LOG_ECHO_BODY", "none"),
    ("ECHO_HEADER_TIMEOUT_SECONDS", "0"),
    ("ECHO_HEADER_TIMEOUT_SECONDS", "forever"),
    ("ECHO_BODY_TIMEOUT_SECONDS", "-1"),
    ("ECHO_BODY_TIMEOUT_SECONDS", "inf"),
    ("ECHO_FAULTS", "sometimes"),
    ("ECHO_HTTP2", "h2c"),
    ("ECHO_WEBSOCKET_MAX_SECONDS", "0"),
    ("ECHO_WEBSOCKET_MAX_SECONDS", "3601"),
    ("ECHO_WEBSOCKET_MAX_SECONDS", "forever"),
]


def test_defaults_equal_the_dataclass_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_defaults_are_those_of_the_spec() -> None:
    settings = Settings()
    assert (settings.port, settings.web_concurrency, settings.threads) == (8080, 1, 8)
    assert (settings.log_level, settings.log_format, settings.log_body_bytes) == (
        "INFO",
        "json",
        4096,
    )
    assert settings.redact_headers == {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-serverless-authorization",
    }
    assert settings.redact_query == {
        "token",
        "access_token",
        "password",
        "secret",
        "api_key",
        "key",
        "sig",
        "signature",
        "awsaccesskeyid",
        "x-goog-signature",
        "x-goog-credential",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
    assert (settings.max_body_bytes, settings.max_delay_seconds) == (10485760, 10)
    assert (settings.trusted_proxy_hops, settings.cors_origin) == (0, "*")
    assert settings.exclude_paths == ("/health", "/metrics")
    assert settings.google_cloud_project is None
    assert (settings.service_name, settings.traces_exporter) == ("echoscope", "none")
    assert settings.propagators == ("gcp_trace", "tracecontext", "baggage")
    assert (settings.unsafe_content_types, settings.redirect_hosts) == (False, frozenset())
    assert (settings.call_targets, settings.call_auth) == ((), "none")
    assert (settings.call_timeout_seconds, settings.call_max_hops) == (5.0, 5)
    assert (settings.inspect_token, settings.history_size, settings.history_url) == (
        None,
        500,
        None,
    )
    assert (settings.header_timeout_seconds, settings.body_timeout_seconds) == (10, 15)
    assert settings.faults_enabled is True
    assert (settings.http2, settings.websocket_max_seconds) == (True, 55)


@pytest.mark.parametrize(("variable", "raw", "field", "expected"), PARSED)
def test_variable_is_parsed(variable: str, raw: str, field: str, expected: Any) -> None:
    assert getattr(Settings.from_env({variable: raw}), field) == expected


def test_unrelated_variables_are_ignored() -> None:
    assert Settings.from_env({"HOME": "/root", "ECHO_UNKNOWN": "x"}) == Settings()


def test_blank_port_falls_back_to_the_default() -> None:
    assert Settings.from_env({"PORT": "  "}).port == 8080


@pytest.mark.parametrize(("variable", "raw"), BAD)
def test_bad_value_names_the_variable_and_the_value(variable: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: raw})
    assert variable in str(caught.value)
    assert repr(raw) in str(caught.value) or raw in str(caught.value)


def test_the_inspector_token_needs_authorization_redacted() -> None:
    with pytest.raises(SettingsError, match=r"ECHO_REDACT_HEADERS.*authorization"):
        Settings.from_env({"ECHO_INSPECT_TOKEN": "t", "ECHO_REDACT_HEADERS": "cookie"})
    assert Settings.from_env({"ECHO_REDACT_HEADERS": "cookie"}).inspect_token is None
    assert Settings.from_env({"ECHO_INSPECT_TOKEN": "t"}).inspect_token == "t"


def test_the_link_templates_are_unset_by_default() -> None:
    settings = Settings()
    assert (settings.history_path, settings.trace_url_template) == (None, None)
    assert settings.logs_url_template is None


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_empty_cors_origin_means_no_cors() -> None:
    assert Settings.from_env({"ECHO_CORS_ORIGIN": ""}).cors_origin == ""


def test_unset_cors_origin_means_any_origin() -> None:
    assert Settings.from_env({}).cors_origin == "*"


def test_the_traces_protocol_wins_over_the_general_one() -> None:
    settings = Settings.from_env(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        }
    )
    assert settings.otlp_traces_protocol == "http/protobuf"
    assert Settings.from_env({}).otlp_traces_protocol == "http/protobuf"  # OTLP's default


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_multiprocess_follows_the_multiproc_dir() -> None:
    assert not Settings().multiprocess
    assert Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": "/tmp/prom"}).multiprocess


def test_optional_variables_treat_blank_as_unset() -> None:
    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": " ", "K_SERVICE": ""})
    assert (settings.google_cloud_project, settings.k_service) == (None, None)


@pytest.mark.parametrize(
    "name", ["gcp_trace", "tracecontext", "baggage", "b3", "b3multi", "jaeger", "xray"]
)
def test_an_accepted_propagator_can_be_built(name: str) -> None:
    # A propagator Settings accepts must not crash create_app later with StopIteration.
    try:
        settings = Settings.from_env({"OTEL_PROPAGATORS": name})
    except SettingsError as error:
        assert "OTEL_PROPAGATORS" in str(error)
        return
    assert tracing.create_propagator(settings.propagators) is not None


def test_per_signal_protocols_override_the_common_one() -> None:
    settings = Settings.from_env(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/json",
        }
    )
    protocols = (settings.otlp_traces_protocol, settings.otlp_metrics_protocol)
    assert (*protocols, settings.otlp_logs_protocol) == ("grpc", "http/json", "grpc")


def test_which_metrics_and_logs_go_where() -> None:
    default = Settings.from_env({})
    assert (default.prometheus_metrics, default.otlp_metrics, default.otlp_logs) == (
        True,
        False,
        False,
    )
    both = Settings.from_env(
        {"OTEL_METRICS_EXPORTER": "otlp,prometheus", "OTEL_LOGS_EXPORTER": "otlp"}
    )
    assert (both.prometheus_metrics, both.otlp_metrics, both.otlp_logs) == (True, True, True)
    only = Settings.from_env({"OTEL_METRICS_EXPORTER": "otlp"})
    assert (only.prometheus_metrics, only.otlp_metrics) == (False, True)
    disabled = Settings.from_env(
        {**dict.fromkeys(["OTEL_SDK_DISABLED"], "true"), "OTEL_LOGS_EXPORTER": "otlp"}
    )
    assert not disabled.otlp_logs


def test_env_vars_are_the_echo_env_prefix_only_sorted() -> None:
    settings = Settings.from_env(
        {"ECHO_ENV_B": "2", "ECHO_ENV_A": "", "ECHO_ENV_": "x", "ECHO_ENVX": "y", "PATH": "/bin"}
    )
    assert settings.env_vars == (("ECHO_ENV_A", ""), ("ECHO_ENV_B", "2"))
    assert Settings.from_env({}).env_vars == ()


def test_env_vars_are_bounded() -> None:
    with pytest.raises(SettingsError, match="ECHO_ENV_BIG"):
        Settings.from_env({"ECHO_ENV_BIG": "x" * 1025})
    with pytest.raises(SettingsError, match="too many ECHO_ENV_"):
        Settings.from_env({f"ECHO_ENV_{i}": "v" for i in range(65)})


def test_tls_needs_both_files_and_client_certs_need_a_ca(tmp_path: Any) -> None:
    cert, key, ca = (tmp_path / name for name in ("cert.pem", "key.pem", "ca.pem"))
    for path in (cert, key, ca):
        path.write_text("x")
    assert not Settings.from_env({}).tls
    served = Settings.from_env({"ECHO_TLS_CERT_FILE": str(cert), "ECHO_TLS_KEY_FILE": str(key)})
    assert served.tls and served.tls_client_cert == "none"
    with pytest.raises(SettingsError, match="set both or neither"):
        Settings.from_env({"ECHO_TLS_CERT_FILE": str(cert)})
    with pytest.raises(SettingsError, match=r"ECHO_TLS_KEY_FILE='/nowhere/key\.pem': no such file"):
        Settings.from_env(
            {"ECHO_TLS_CERT_FILE": str(cert), "ECHO_TLS_KEY_FILE": "/nowhere/key.pem"}
        )
    both = {"ECHO_TLS_CERT_FILE": str(cert), "ECHO_TLS_KEY_FILE": str(key)}
    with pytest.raises(SettingsError, match="ECHO_TLS_CLIENT_CA_FILE"):
        Settings.from_env({**both, "ECHO_TLS_CLIENT_CERT": "optional"})
    with pytest.raises(SettingsError, match="ECHO_TLS_CLIENT_CERT='sometimes'"):
        Settings.from_env({**both, "ECHO_TLS_CLIENT_CERT": "sometimes"})
    asked = Settings.from_env(
        {**both, "ECHO_TLS_CLIENT_CERT": "Require", "ECHO_TLS_CLIENT_CA_FILE": str(ca)}
    )
    assert (asked.tls_client_cert, asked.tls_client_ca_file) == ("require", str(ca))
