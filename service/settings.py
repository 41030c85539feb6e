"""Settings: the only place that reads the environment, once, into a frozen object."""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

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
URL_TEMPLATE_FIELDS = frozenset({"trace_id", "span_id", "uuid", "project"})
_PROPAGATORS = ("gcp_trace", "tracecontext", "baggage", "none")  # the installed ones
_OTLP_PROTOCOLS = ("http/protobuf", "http/json")  # OTLP over HTTP; no gRPC exporter installed
_ECHO_BODY_LOGGING = ("reference", "copy")


class SettingsError(ValueError):
    """A setting has a value echoscope cannot use; the message names both."""


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything echoscope reads from its environment (see SPEC §2 and the README)."""

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
    semconv_opt_in: str = "http"
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
    log_echo_body: str = "reference"
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 15.0
    faults_enabled: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every setting; raise SettingsError naming a bad one."""
        reader = _Reader(environ)
        otlp_protocol = reader.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", _choice(_OTLP_PROTOCOLS)
        )
        return cls(
            **_server(reader),
            log_level=reader.get("ECHO_LOG_LEVEL", "INFO", _choice(_LOG_LEVELS, upper=True)),
            log_format=reader.get("ECHO_LOG_FORMAT", "json", _choice(("json", "console"))),
            log_body_bytes=reader.get("ECHO_LOG_BODY_BYTES", "4096", _int_in(0, 1 << 20)),
            redact_headers=reader.get(
                "ECHO_REDACT_HEADERS", _DEFAULT_REDACT_HEADERS, _name_set, True
            ),
            redact_query=reader.get("ECHO_REDACT_QUERY", _DEFAULT_REDACT_QUERY, _name_set, True),
            max_body_bytes=reader.get("ECHO_MAX_BODY_BYTES", "10485760", _int_in(0, 1 << 34)),
            max_delay_seconds=reader.get("ECHO_MAX_DELAY_SECONDS", "10.0", _float_in(0, 3600)),
            trusted_proxy_hops=reader.get("ECHO_TRUSTED_PROXY_HOPS", "0", _int_in(0, 16)),
            cors_origin=reader.get("ECHO_CORS_ORIGIN", "*", _header_value, True),
            exclude_paths=reader.get("ECHO_EXCLUDE_PATHS", "/health,/metrics", _paths, True),
            metrics_enabled=reader.get("ECHO_METRICS", "true", _boolean),
            multiproc_dir=reader.optional("PROMETHEUS_MULTIPROC_DIR"),
            google_cloud_project=reader.optional("GOOGLE_CLOUD_PROJECT"),
            k_service=reader.optional("K_SERVICE"),
            k_revision=reader.optional("K_REVISION"),
            k_configuration=reader.optional("K_CONFIGURATION"),
            otel_sdk_disabled=reader.get("OTEL_SDK_DISABLED", "false", _boolean),
            service_name=reader.get("OTEL_SERVICE_NAME", "echoscope", _non_empty),
            traces_exporter=reader.get("OTEL_TRACES_EXPORTER", "none", _choice(_EXPORTERS)),
            traces_sampler=reader.get(
                "OTEL_TRACES_SAMPLER", "parentbased_always_on", _choice(_SAMPLERS)
            ),
            traces_sampler_arg=reader.get("OTEL_TRACES_SAMPLER_ARG", "1.0", _float_in(0, 1)),
            propagators=reader.get(
                "OTEL_PROPAGATORS", "gcp_trace,tracecontext,baggage", _propagator_list
            ),
            semconv_opt_in=reader.get("OTEL_SEMCONV_STABILITY_OPT_IN", "http", _non_empty),
            metadata_host=reader.get("GCE_METADATA_HOST", "metadata.google.internal", _non_empty),
            unsafe_content_types=reader.get("ECHO_UNSAFE_CONTENT_TYPES", "false", _boolean),
            redirect_hosts=reader.get("ECHO_REDIRECT_HOSTS", "", _name_set, True),
            call_targets=reader.get("ECHO_CALL_TARGETS", "", _url_prefixes, True),
            call_auth=reader.get("ECHO_CALL_AUTH", "none", _choice(("none", "google"))),
            call_timeout_seconds=reader.get("ECHO_CALL_TIMEOUT_SECONDS", "5", _float_in(0.1, 60)),
            call_max_hops=reader.get("ECHO_CALL_MAX_HOPS", "5", _int_in(1, 32)),
            inspect_token=reader.optional("ECHO_INSPECT_TOKEN"),
            history_size=reader.get("ECHO_HISTORY_SIZE", "500", _int_in(1, 100_000)),
            history_url=reader.get("ECHO_HISTORY_URL", "", _redis_url_or_empty, True) or None,
            history_path=reader.optional("ECHO_HISTORY_PATH"),
            trace_url_template=reader.get("ECHO_TRACE_URL_TEMPLATE", "", _url_template, True)
            or None,
            logs_url_template=reader.get("ECHO_LOGS_URL_TEMPLATE", "", _url_template, True) or None,
            otlp_traces_protocol=reader.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", otlp_protocol, _choice(_OTLP_PROTOCOLS)
            ),
            log_echo_body=reader.get(
                "ECHO_LOG_ECHO_BODY", "reference", _choice(_ECHO_BODY_LOGGING)
            ),
            faults_enabled=reader.get("ECHO_FAULTS", "true", _boolean),
        )._checked()

    def _checked(self) -> Settings:
        # The inspector's token arrives in Authorization: a log line must never hold it.
        if self.inspect_token and "authorization" not in self.redact_headers:
            raise SettingsError(
                f"invalid ECHO_REDACT_HEADERS={','.join(sorted(self.redact_headers))!r}: "
                "must include authorization while ECHO_INSPECT_TOKEN is set"
            )
        return self

    @property
    def multiprocess(self) -> bool:
        """True when metrics are shared between gunicorn workers through files."""
        return self.multiproc_dir is not None


def _server(reader: _Reader) -> dict[str, Any]:
    """What gunicorn and its worker are given: the port, processes, threads and read bounds."""
    return {
        "port": reader.get("PORT", "8080", _int_in(1, 65535)),
        "web_concurrency": reader.get("WEB_CONCURRENCY", "1", _int_in(1, 64)),
        "threads": reader.get("ECHO_THREADS", "8", _int_in(1, 256)),
        "header_timeout_seconds": reader.get(
            "ECHO_HEADER_TIMEOUT_SECONDS", "10", _float_in(0.1, 3600)
        ),
        "body_timeout_seconds": reader.get("ECHO_BODY_TIMEOUT_SECONDS", "15", _float_in(0.1, 3600)),
    }


class _Reader:
    """Reads one variable at a time and turns parse failures into SettingsError."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(
        self, name: str, default: str, parse: Callable[[str], T], keep_empty: bool = False
    ) -> T:
        raw = self._environ.get(name)
        text = default if raw is None or not (raw.strip() or keep_empty) else raw.strip()
        try:
            return parse(text)
        except ValueError as error:
            raise SettingsError(f"invalid {name}={raw!r}: {error}") from None

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.lstrip("-").isdigit():
            raise ValueError(f"must be an integer from {low} to {high}")
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return parse


def _float_in(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number from {low} to {high}") from None
        if not low <= value <= high:  # also rejects nan
            raise ValueError(f"must be a number from {low} to {high}")
        return value

    return parse


def _choice(options: tuple[str, ...], upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _boolean(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _name_set(raw: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


def _paths(raw: str) -> tuple[str, ...]:
    paths = tuple(part.strip() for part in raw.split(",") if part.strip())
    if any(not path.startswith("/") for path in paths):
        raise ValueError("every path must start with /")
    return paths


def _propagator_list(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [name for name in names if name not in _PROPAGATORS]
    if unknown:
        raise ValueError(f"unknown propagator {unknown[0]!r}")
    return tuple(name for name in names if name != "none")


def _url_prefixes(raw: str) -> tuple[str, ...]:
    prefixes = tuple(part.strip() for part in raw.split(",") if part.strip())
    for prefix in prefixes:
        scheme, sep, rest = prefix.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest or "@" in rest:
            raise ValueError(f"every target must be an http:// or https:// URL, got {prefix!r}")
    return prefixes


def _redis_url_or_empty(raw: str) -> str:
    if raw and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return raw


def _url_template(raw: str) -> str:
    if not raw:
        return raw
    if not raw.startswith(("http://", "https://")) or any(ch in raw for ch in " \r\n\0"):
        raise ValueError("must be an http:// or https:// URL")
    try:
        fields = [part[1:] for part in string.Formatter().parse(raw) if part[1] is not None]
    except ValueError:
        raise ValueError("has an unbalanced { or }") from None
    for name, spec, conversion in fields:
        if name not in URL_TEMPLATE_FIELDS or spec or conversion:
            raise ValueError(f"placeholders are {', '.join(sorted(URL_TEMPLATE_FIELDS))}")
    return raw


def _header_value(raw: str) -> str:
    if any(ch in raw for ch in "\r\n\0"):
        raise ValueError("must not contain control characters")
    return raw


def _non_empty(raw: str) -> str:
    if not raw:
        raise ValueError("must not be empty")
    return raw
