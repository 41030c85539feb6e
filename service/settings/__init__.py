"""Settings: the only place that reads the environment, once, into a frozen object."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from service.settings.otlp import OTLP_PROTOCOLS, OtlpHttp, otlp_http, otlp_signals
from service.settings.otlp import defaults as otlp_defaults
from service.settings.parse import (
    Reader,
    SettingsError,
    boolean,
    choice,
    float_in,
    header_value,
    int_in,
    name_set,
    non_empty,
    paths,
    propagator_list,
    redis_url_or_empty,
    url_prefixes,
    url_template,
)
from service.settings.served import served

__all__ = ["Settings", "SettingsError"]

_DEFAULT_REDACT_HEADERS = (
    "authorization,proxy-authorization,cookie,set-cookie,x-api-key,x-serverless-authorization"
)
# OpenTelemetry's `url.query` list and the cloud signed-URL credentials included.
_DEFAULT_REDACT_QUERY = (
    "token,access_token,password,secret,api_key,key,sig,signature,"
    "awsaccesskeyid,x-goog-signature,x-goog-credential,"
    "x-amz-signature,x-amz-credential,x-amz-security-token"
)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_EXPORTERS = ("none", "otlp", "console")
_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_ECHO_BODY_LOGGING = ("reference", "copy")


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything echoscope reads from its environment (the README's settings table)."""

    port: int = 8080
    web_concurrency: int = 1
    threads: int = 8
    log_level: str = "INFO"
    log_format: str = "json"
    log_body_bytes: int = 4096
    redact_headers: frozenset[str] = frozenset(_DEFAULT_REDACT_HEADERS.split(","))
    redact_query: frozenset[str] = frozenset(_DEFAULT_REDACT_QUERY.split(","))
    max_body_bytes: int = 10_485_760
    max_delay_seconds: float = 10.0
    trusted_proxy_hops: int = 0
    cors_origin: str = "*"
    exclude_paths: tuple[str, ...] = ("/health", "/metrics")
    metrics_enabled: bool = True
    multiproc_dir: str | None = None
    google_cloud_project: str | None = None
    k_service: str | None = None
    k_revision: str | None = None
    k_configuration: str | None = None
    otel_sdk_disabled: bool = False
    service_name: str = "echoscope"
    traces_exporter: str = "none"
    traces_sampler: str = "parentbased_always_on"
    traces_sampler_arg: float = 1.0
    propagators: tuple[str, ...] = ("gcp_trace", "tracecontext", "baggage")
    metadata_host: str = "metadata.google.internal"
    unsafe_content_types: bool = False
    redirect_hosts: frozenset[str] = frozenset()
    call_targets: tuple[str, ...] = ()
    call_auth: str = "none"
    call_timeout_seconds: float = 5.0
    call_max_hops: int = 5
    inspect_token: str | None = None
    history_size: int = 500
    history_url: str | None = None
    history_path: str | None = None
    trace_url_template: str | None = None
    logs_url_template: str | None = None
    otlp_traces_protocol: str = "http/protobuf"
    metrics_exporters: tuple[str, ...] = ("prometheus",)
    otlp_metrics_protocol: str = "http/protobuf"
    metric_export_interval_millis: int = 60_000
    metric_export_timeout_millis: int = 30_000
    logs_exporter: str = "none"
    otlp_logs_protocol: str = "http/protobuf"
    log_echo_body: str = "reference"
    http2: bool = True
    websocket_max_seconds: float = 55.0
    env_vars: tuple[tuple[str, str], ...] = ()  # the ECHO_ENV_* variables, sorted by name
    tls_cert_file: str | None = None  # with tls_key_file: HTTPS (ALPN) on the port
    tls_key_file: str | None = None
    tls_client_cert: str = "none"  # optional / require: ask for a client certificate
    tls_client_ca_file: str | None = None  # what a client certificate must chain to
    # where the OTLP JSON encoding is posted, per signal
    otlp_http: dict[str, OtlpHttp] = dataclasses.field(default_factory=otlp_defaults)
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 15.0
    faults_enabled: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every setting; raise SettingsError naming a bad one."""
        reader = Reader(environ)
        otlp_protocol = reader.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", choice(OTLP_PROTOCOLS)
        )
        return cls(
            **_server(reader),
            log_level=reader.get("ECHO_LOG_LEVEL", "INFO", choice(_LOG_LEVELS, upper=True)),
            log_format=reader.get("ECHO_LOG_FORMAT", "json", choice(("json", "console"))),
            log_body_bytes=reader.get("ECHO_LOG_BODY_BYTES", "4096", int_in(0, 1 << 20)),
            redact_headers=reader.get(
                "ECHO_REDACT_HEADERS", _DEFAULT_REDACT_HEADERS, name_set, True
            ),
            redact_query=reader.get("ECHO_REDACT_QUERY", _DEFAULT_REDACT_QUERY, name_set, True),
            max_body_bytes=reader.get("ECHO_MAX_BODY_BYTES", "10485760", int_in(0, 1 << 34)),
            max_delay_seconds=reader.get("ECHO_MAX_DELAY_SECONDS", "10.0", float_in(0, 3600)),
            trusted_proxy_hops=reader.get("ECHO_TRUSTED_PROXY_HOPS", "0", int_in(0, 16)),
            cors_origin=reader.get("ECHO_CORS_ORIGIN", "*", header_value, True),
            exclude_paths=reader.get("ECHO_EXCLUDE_PATHS", "/health,/metrics", paths, True),
            metrics_enabled=reader.get("ECHO_METRICS", "true", boolean),
            multiproc_dir=reader.optional("PROMETHEUS_MULTIPROC_DIR"),
            google_cloud_project=reader.optional("GOOGLE_CLOUD_PROJECT"),
            k_service=reader.optional("K_SERVICE"),
            k_revision=reader.optional("K_REVISION"),
            k_configuration=reader.optional("K_CONFIGURATION"),
            otel_sdk_disabled=reader.get("OTEL_SDK_DISABLED", "false", boolean),
            service_name=reader.get("OTEL_SERVICE_NAME", "echoscope", non_empty),
            traces_exporter=reader.get("OTEL_TRACES_EXPORTER", "none", choice(_EXPORTERS)),
            traces_sampler=reader.get(
                "OTEL_TRACES_SAMPLER", "parentbased_always_on", choice(_SAMPLERS)
            ),
            traces_sampler_arg=reader.get("OTEL_TRACES_SAMPLER_ARG", "1.0", float_in(0, 1)),
            propagators=reader.get(
                "OTEL_PROPAGATORS", "gcp_trace,tracecontext,baggage", propagator_list
            ),
            metadata_host=reader.get("GCE_METADATA_HOST", "metadata.google.internal", non_empty),
            unsafe_content_types=reader.get("ECHO_UNSAFE_CONTENT_TYPES", "false", boolean),
            faults_enabled=reader.get("ECHO_FAULTS", "true", boolean),
            redirect_hosts=reader.get("ECHO_REDIRECT_HOSTS", "", name_set, True),
            call_targets=reader.get("ECHO_CALL_TARGETS", "", url_prefixes, True),
            call_auth=reader.get("ECHO_CALL_AUTH", "none", choice(("none", "google"))),
            call_timeout_seconds=reader.get("ECHO_CALL_TIMEOUT_SECONDS", "5", float_in(0.1, 60)),
            call_max_hops=reader.get("ECHO_CALL_MAX_HOPS", "5", int_in(1, 32)),
            inspect_token=reader.optional("ECHO_INSPECT_TOKEN"),
            history_size=reader.get("ECHO_HISTORY_SIZE", "500", int_in(1, 100_000)),
            history_url=reader.get("ECHO_HISTORY_URL", "", redis_url_or_empty, True) or None,
            history_path=reader.optional("ECHO_HISTORY_PATH"),
            trace_url_template=reader.get("ECHO_TRACE_URL_TEMPLATE", "", url_template, True)
            or None,
            logs_url_template=reader.get("ECHO_LOGS_URL_TEMPLATE", "", url_template, True) or None,
            **otlp_signals(reader, otlp_protocol),
            log_echo_body=reader.get("ECHO_LOG_ECHO_BODY", "reference", choice(_ECHO_BODY_LOGGING)),
            **_protocols(reader),
            **served(reader, environ),
            **otlp_http(reader),
        )._checked()

    def _checked(self) -> Settings:
        # The inspector's token arrives in Authorization: a log line must never hold it.
        if self.inspect_token and "authorization" not in self.redact_headers:
            raise SettingsError(
                f"invalid ECHO_REDACT_HEADERS={','.join(sorted(self.redact_headers))!r}: "
                "must include authorization while ECHO_INSPECT_TOKEN is set"
            )
        signal = self._unsigned_json_signal()
        if signal is not None:
            raise SettingsError(
                f"invalid OTEL_EXPORTER_OTLP_({signal.upper()}_)PROTOCOL=http/json:"
                f" the HTTP credential provider {self.otlp_http[signal].credential_provider!r}"
                " signs only the SDK's http/protobuf exports; JSON ones would go unsigned"
            )
        return self

    def _unsigned_json_signal(self) -> str | None:
        """A signal exported over http/json while a credential provider is set for it."""
        traces = self.traces_exporter == "otlp" and not self.otel_sdk_disabled
        for signal, on, protocol in (
            ("traces", traces, self.otlp_traces_protocol),
            ("metrics", self.otlp_metrics, self.otlp_metrics_protocol),
            ("logs", self.otlp_logs, self.otlp_logs_protocol),
        ):
            if on and protocol == "http/json" and self.otlp_http[signal].credential_provider:
                return signal
        return None

    @property
    def prometheus_metrics(self) -> bool:
        """True when requests are counted for /metrics (OTEL_METRICS_EXPORTER lists prometheus)."""
        return self.metrics_enabled and "prometheus" in self.metrics_exporters

    @property
    def otlp_metrics(self) -> bool:
        """True when requests are counted for OTLP too (OTEL_METRICS_EXPORTER lists otlp)."""
        on = self.metrics_enabled and "otlp" in self.metrics_exporters
        return on and not self.otel_sdk_disabled

    @property
    def otlp_logs(self) -> bool:
        """True when every line also goes out as an OTLP LogRecord (OTEL_LOGS_EXPORTER=otlp)."""
        return self.logs_exporter == "otlp" and not self.otel_sdk_disabled

    @property
    def tls(self) -> bool:
        """True when echoscope serves HTTPS on its port (ECHO_TLS_CERT_FILE and _KEY_FILE)."""
        return self.tls_cert_file is not None

    @property
    def multiprocess(self) -> bool:
        """True when metrics are shared between gunicorn workers through files."""
        return self.multiproc_dir is not None


def _protocols(reader: Reader) -> dict[str, Any]:
    """HTTP/2 (h2c on the port) and the WebSocket echo's session length."""
    return {
        "http2": reader.get("ECHO_HTTP2", "true", boolean),
        "websocket_max_seconds": reader.get("ECHO_WEBSOCKET_MAX_SECONDS", "55", float_in(1, 3600)),
    }


def _server(reader: Reader) -> dict[str, Any]:
    """What gunicorn and its worker are given: the port, processes, threads and read bounds."""
    return {
        "port": reader.get("PORT", "8080", int_in(1, 65535)),
        "web_concurrency": reader.get("WEB_CONCURRENCY", "1", int_in(1, 64)),
        "threads": reader.get("ECHO_THREADS", "8", int_in(1, 256)),
        "header_timeout_seconds": reader.get(
            "ECHO_HEADER_TIMEOUT_SECONDS", "10", float_in(0.1, 3600)
        ),
        "body_timeout_seconds": reader.get("ECHO_BODY_TIMEOUT_SECONDS", "15", float_in(0.1, 3600)),
    }
