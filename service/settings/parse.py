"""Parsers for settings values: each raises ValueError with what a good value looks like."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")
URL_TEMPLATE_FIELDS = frozenset({"trace_id", "span_id", "uuid", "project"})
PROPAGATORS = ("gcp_trace", "tracecontext", "baggage", "none")  # the installed ones
METRICS_EXPORTERS = ("prometheus", "otlp", "none")


class SettingsError(ValueError):
    """A setting has a value echoscope cannot use; the message names both."""


class Reader:
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


def int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.lstrip("-").isdigit():
            raise ValueError(f"must be an integer from {low} to {high}")
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return parse


def float_in(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number from {low} to {high}") from None
        if not low <= value <= high:  # also rejects nan
            raise ValueError(f"must be a number from {low} to {high}")
        return value

    return parse


def choice(options: tuple[str, ...], upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def boolean(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def name_set(raw: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


def paths(raw: str) -> tuple[str, ...]:
    paths = tuple(part.strip() for part in raw.split(",") if part.strip())
    if any(not path.startswith("/") for path in paths):
        raise ValueError("every path must start with /")
    return paths


def propagator_list(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [name for name in names if name not in PROPAGATORS]
    if unknown:
        raise ValueError(f"unknown propagator {unknown[0]!r}")
    return tuple(name for name in names if name != "none")


def url_prefixes(raw: str) -> tuple[str, ...]:
    prefixes = tuple(part.strip() for part in raw.split(",") if part.strip())
    for prefix in prefixes:
        scheme, sep, rest = prefix.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest or "@" in rest:
            raise ValueError(f"every target must be an http:// or https:// URL, got {prefix!r}")
    return prefixes


def redis_url_or_empty(raw: str) -> str:
    if raw and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return raw


def url_template(raw: str) -> str:
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


def header_value(raw: str) -> str:
    if any(ch in raw for ch in "\r\n\0"):
        raise ValueError("must not contain control characters")
    return raw


def non_empty(raw: str) -> str:
    if not raw:
        raise ValueError("must not be empty")
    return raw


def metrics_exporters(raw: str) -> tuple[str, ...]:
    """OTEL_METRICS_EXPORTER: a list of prometheus and otlp, or none alone."""
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [name for name in names if name not in METRICS_EXPORTERS]
    if unknown or not names:
        raise ValueError(f"must be a list of {', '.join(METRICS_EXPORTERS)}")
    if "none" in names and len(names) > 1:
        raise ValueError("none cannot be listed with another exporter")
    return tuple(name for name in names if name != "none")
