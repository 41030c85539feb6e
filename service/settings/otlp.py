"""Where echoscope's own OTLP/HTTP sender posts each signal: the standard variables.

The SDK's exporters (gRPC, and http/protobuf with a setting only they honour) read
OTEL_EXPORTER_OTLP_* themselves; everything else over http/protobuf and http/json is
encoded and sent by echoscope, so these are read here, with the SDK's meanings (a
per-signal variable wins; the generic endpoint gets `/v1/<signal>` appended; the
timeout is in seconds, as the Python SDK reads it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry.util.re import parse_env_headers

from service.settings.parse import (
    Reader,
    SettingsError,
    choice,
    float_in,
    int_in,
    metrics_exporters,
)

T = TypeVar("T")
SIGNALS = ("traces", "metrics", "logs")
OTLP_PROTOCOLS = ("http/protobuf", "http/json", "grpc")
_LOGS_EXPORTERS = ("none", "otlp")
_COMPRESSIONS = ("none", "gzip", "deflate")
_METRIC_PREFERENCES = (  # read by the SDK's metric exporter, these defaults echoscope's own
    ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative"),
    ("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "explicit_bucket_histogram"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class OtlpHttp:
    """One signal's OTLP/HTTP destination."""

    endpoint: str = "http://localhost:4318/v1/traces"
    headers: tuple[tuple[str, str], ...] = ()
    timeout_seconds: float = 10.0
    compression: str = "none"
    certificate: str | None = None  # the CA bundle to verify the collector with
    client_key: str | None = None
    client_certificate: str | None = None
    # What only the SDK's exporter does; when set, the protobuf encoding stays the SDK's:
    credential_provider: str | None = None  # an entry point signing every export (e.g. gcp)
    exporter_metrics: bool = False  # the exporter's own metrics (SDK internal metrics on)
    # Metrics only: OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE or _DEFAULT_HISTOGRAM_
    # AGGREGATION set to other than its default (the SDK's metric exporter reads them itself)
    metric_preferences: bool = False


def defaults() -> dict[str, OtlpHttp]:
    """Each signal's destination with no variable set: a Collector on localhost."""
    return {signal: OtlpHttp(f"http://localhost:4318/v1/{signal}") for signal in SIGNALS}


def otlp_http(reader: Reader) -> dict[str, Any]:
    """The Settings field of this part: each signal's destination."""
    return {"otlp_http": {signal: _signal(reader, signal) for signal in SIGNALS}}


def _signal(reader: Reader, signal: str) -> OtlpHttp:
    def either(name: str) -> str | None:  # the signal's own variable, else the generic one
        own = reader.optional(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{name}")
        return own or reader.optional(f"OTEL_EXPORTER_OTLP_{name}")

    own_endpoint = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
    base = reader.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318", _url)
    return OtlpHttp(
        endpoint=reader.get(own_endpoint, f"{base.rstrip('/')}/v1/{signal}", _url),
        headers=_headers(either("HEADERS") or ""),
        timeout_seconds=_checked(
            signal, "TIMEOUT", either("TIMEOUT") or "10", float_in(0.001, 600)
        ),
        compression=_checked(
            signal, "COMPRESSION", either("COMPRESSION") or "none", choice(_COMPRESSIONS)
        ),
        certificate=either("CERTIFICATE"),
        client_key=either("CLIENT_KEY"),
        client_certificate=either("CLIENT_CERTIFICATE"),
        # The SDK's precedence: here the generic variable wins over the signal's own.
        credential_provider=reader.optional("OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER")
        or reader.optional(f"OTEL_PYTHON_EXPORTER_OTLP_HTTP_{signal.upper()}_CREDENTIAL_PROVIDER"),
        exporter_metrics=(reader.optional("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED") or "").lower()
        == "true",  # as the SDK reads it: anything else is off
        metric_preferences=signal == "metrics" and _metric_preferences(reader),
    )


def _metric_preferences(reader: Reader) -> bool:
    """True when a metrics preference the SDK's exporter reads differs from its default."""
    return any(
        (reader.optional(name) or default).strip().lower() != default
        for name, default in _METRIC_PREFERENCES
    )


def _checked(signal: str, name: str, raw: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(raw)
    except ValueError as error:
        raise SettingsError(
            f"invalid OTEL_EXPORTER_OTLP_({signal.upper()}_){name}={raw!r}: {error}"
        ) from None


def _url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")) or any(ch in raw for ch in " \r\n\0"):
        raise ValueError("must be an http:// or https:// URL")
    return raw


def _headers(raw: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(parse_env_headers(raw, liberal=True).items())) if raw else ()


def otlp_signals(reader: Reader, otlp_protocol: str) -> dict[str, Any]:
    """The OTLP protocol of each signal, OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER."""
    protocols = choice(OTLP_PROTOCOLS)
    return dict(
        otlp_traces_protocol=reader.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", otlp_protocol, protocols
        ),
        metrics_exporters=reader.get("OTEL_METRICS_EXPORTER", "prometheus", metrics_exporters),
        otlp_metrics_protocol=reader.get(
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", otlp_protocol, protocols
        ),
        metric_export_interval_millis=reader.get(
            "OTEL_METRIC_EXPORT_INTERVAL", "60000", int_in(100, 86_400_000)
        ),
        metric_export_timeout_millis=reader.get(
            "OTEL_METRIC_EXPORT_TIMEOUT", "30000", int_in(100, 86_400_000)
        ),
        logs_exporter=reader.get("OTEL_LOGS_EXPORTER", "none", choice(_LOGS_EXPORTERS)),
        otlp_logs_protocol=reader.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", otlp_protocol, protocols),
    )
