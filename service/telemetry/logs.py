"""The exchange line: one Cloud-Logging-shaped JSON line per finished exchange.

The fields every line carries (severity, time, trace, stack trace) come from
`service.telemetry.logfields`, shared with gunicorn's and the libraries' lines.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable
from typing import IO, Any

import orjson
import structlog
from flask import Flask

from service.exchange.identity import Identity
from service.exchange.outcome import DownstreamCall, Outcome, Record
from service.exchange.pipeline import on_finish
from service.settings import Settings
from service.telemetry import credentials, logbounds, logfields, logwriter, otlplogs, redact

LOG_STREAM = "ECHOSCOPE_LOG_STREAM"  # app.config key: where lines go (stdout by default)
_WRITER = "echoscope.log_writer"
Sink = IO[bytes] | logwriter.LineWriter


def init_app(app: Flask, settings: Settings, identity: Identity) -> None:
    """Configure structlog for this process and write the exchange line of every exchange."""
    logfields.cloud_trace.configure(_labels(identity))
    logger = _configure(settings, app.config.get(LOG_STREAM) or _stdout_writer(app))
    on_finish(app, _exchange_writer(settings, logger))


def shutdown(app: Flask) -> None:
    """Write every queued line (gunicorn's worker_exit hook calls this)."""
    writer = app.extensions.get(_WRITER)
    if writer is not None:
        writer.close()


def _stdout_writer(app: Flask) -> logwriter.LineWriter:
    writer = app.extensions[_WRITER] = logwriter.LineWriter(sys.stdout.buffer)
    return writer


def _configure(settings: Settings, stream: Sink) -> Any:
    wrapper = structlog.make_filtering_bound_logger(
        logging.getLevelNamesMapping()[settings.log_level]
    )
    chain = [*logfields.pre_chain(), logfields.message_renamer()]
    if settings.otlp_logs:
        chain.append(otlplogs.emitter)
    chain.append(logfields.renderer(settings.log_format))
    if settings.log_format == "json" and isinstance(stream, logwriter.LineWriter):
        factory: Any = lambda *_: logwriter.LineLogger(stream)  # noqa: E731
    elif settings.log_format == "json":
        factory = structlog.BytesLoggerFactory(stream)  # type: ignore[arg-type]
    else:
        factory = structlog.WriteLoggerFactory(logwriter.TextStream(stream))  # type: ignore[arg-type]
    structlog.configure(
        processors=chain,
        wrapper_class=wrapper,
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    return structlog.wrap_logger(factory(), processors=chain, wrapper_class=wrapper).bind()


@dataclasses.dataclass(frozen=True, slots=True)
class ExchangeLine:
    """What an exchange line holds besides the fields every line carries: redacted, bounded."""

    message: str
    http_request: dict[str, Any]
    request: dict[str, Any]  # the redacted record
    encoded_request: bytes  # `request` as JSON
    response: dict[str, Any]
    calls: list[dict[str, Any]] | None  # /call's downstream calls, when there were any
    websocket: dict[str, object] | None = None  # a WebSocket session's counts and close


def line_builder(settings: Settings) -> Callable[[Outcome], ExchangeLine]:
    """Outcome -> the exchange line's own fields (the inspector's history keeps them too)."""
    rules = _HeaderRules(settings)
    describe = _describer(settings, rules)
    respond = _responder(settings, rules)
    query = settings.redact_query
    in_text = redact.in_text(query)

    def build(outcome: Outcome) -> ExchangeLine:
        record = outcome.record
        loggable, encoded, found = describe(record)
        return ExchangeLine(
            # %-formatting: the same text as an f-string's format spec, formatted faster
            "%s %s %d %.1fms"  # noqa: UP031
            % (record["method"], record["path"], outcome.status, outcome.elapsed * 1000),
            _http_request(outcome, loggable),
            loggable,
            encoded,
            respond(outcome, encoded, found),
            _calls(outcome.calls, query, in_text) if outcome.calls else None,
            outcome.websocket.as_dict() if outcome.websocket else None,
        )

    return build


def _exchange_writer(settings: Settings, logger: Any) -> Callable[[Outcome], None]:
    as_fragment = settings.log_format == "json"
    build = line_builder(settings)
    otlp = settings.otlp_logs
    # The logger's method for each level an exchange line may have, when it is enabled.
    methods = {
        logging.INFO: logger.info,
        logging.WARNING: logger.warning,
        logging.ERROR: logger.error,
    }
    log = {level: method for level, method in methods.items() if logger.is_enabled_for(level)}

    def write(outcome: Outcome) -> None:
        if outcome.excluded:
            return
        emit = log.get(_level(outcome.status))
        if emit is None:  # below ECHO_LOG_LEVEL
            return
        line = build(outcome)
        fields: dict[str, Any] = {
            "httpRequest": line.http_request,
            "request": orjson.Fragment(line.encoded_request) if as_fragment else line.request,
            "response": line.response,
        }
        if line.calls:
            fields["calls"] = line.calls
        if line.websocket:
            fields["websocket"] = line.websocket
        if otlp:  # what the LogRecord says besides the line, taken off before rendering
            fields[otlplogs.EXCHANGE] = otlplogs.exchange_fields(outcome, line.encoded_request)
        if outcome.trace is not None:  # read when the exchange began: not looked up again
            fields[logfields.TRACE_IDS] = outcome.trace
        emit(line.message, **fields)

    return write


def _level(status: int) -> int:
    return logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO


# The record as logged, its JSON, and the caller's secrets it held (candidates, unfiltered).
Describer = Callable[[Record], tuple[dict[str, Any], bytes, list[str]]]
# A header name (lowercase) -> redacted by name, URL-valued, the token header it is.
_HeaderKind = tuple[bool, bool, str | None]


def _header_kinds(names: frozenset[str]) -> dict[str, _HeaderKind]:
    """What redaction each header name needing any does: looked up once per header."""
    kinds: dict[str, _HeaderKind] = {}
    for lower in {*names, *redact.URL_HEADERS, *credentials.TOKEN_HEADERS}:
        token = lower.replace("_", "-")
        named = lower in names
        kinds[lower] = (
            named,
            not named and lower in redact.URL_HEADERS,
            token if token in credentials.TOKEN_HEADERS else None,
        )
    return kinds


class _HeaderRules:
    """Per settings: how each header is logged. The names of headers needing nothing (most
    of them, the same on every request) are remembered, up to MAX_PLAIN of them, so that
    a request's or response's headers are looked at one by one only where one needs work."""

    MAX_PLAIN = 1024

    def __init__(self, settings: Settings) -> None:
        self._kinds = _header_kinds(settings.redact_headers)
        self._query = settings.redact_query
        self._plain: frozenset[str] = frozenset()  # replaced whole: threads read it unlocked

    def _kind(self, key: str) -> _HeaderKind | None:
        lower = key.lower()
        kind = self._kinds.get(lower)
        if kind is None and "_" in lower:
            token = lower.replace("_", "-")
            kind = (False, False, token) if token in credentials.TOKEN_HEADERS else None
        if kind is None and len(self._plain) < self.MAX_PLAIN:
            self._plain = self._plain | {key}
        return kind

    def request(
        self, values: dict[str, str], cut: dict[str, Any], found: list[str]
    ) -> dict[str, str]:
        """The request's headers as logged: named ones redacted, the query secrets of
        URL-valued ones, every bearer token or IAP assertion (whatever ECHO_REDACT_HEADERS
        names), then bounded. The secrets they held go in `found` (`redact.secret_values`)."""
        logged = dict(values)
        for key in values.keys() - self._plain:  # most requests have a Cookie or Referer
            kind = self._kind(key)
            if kind is None:
                continue
            value = values[key]
            named, url_valued, token_header = kind
            if named:
                logged[key] = redact.REDACTED
                found.append(value)
                found.extend(value.split(None, 1)[1:])  # the credentials after the scheme
            elif url_valued:
                logged[key] = redact.url(value, self._query)
            if token_header is not None and value != redact.REDACTED:
                bare = credentials.bare_token(token_header, value)
                if bare is not None:
                    logged[key] = redact.REDACTED
                    found.append(value)
                    found.append(bare)
        return _bound(logged, cut)

    def response(self, values: dict[str, str]) -> dict[str, str]:
        """`redact.headers` of the response's headers: named ones redacted, the query
        secrets of URL-valued ones."""
        plain = self._plain
        if plain.issuperset(values):  # mostly: the outcome's own mapping, never changed
            return values
        redacted = dict(values)
        for key in values.keys() - plain:
            kind = self._kind(key)
            if kind is not None:
                if kind[0]:
                    redacted[key] = redact.REDACTED
                elif kind[1]:
                    redacted[key] = redact.url(values[key], self._query)
        return redacted


def _bound(headers: dict[str, str], cut: dict[str, Any]) -> dict[str, str]:
    """`logbounds.headers`, the values looked at one by one only when the longest could
    need it (JSON escaping grows a character to 6 bytes at most): `headers` when none does."""
    cap = logbounds.header_cap(len(headers))
    values = headers.values()
    if sum(map(len, values)) * 6 > cap and max(map(len, values)) * 6 > cap:
        return logbounds.headers(headers, cut)
    return headers


def _describer(settings: Settings, rules: _HeaderRules) -> Describer:
    """The record as logged: redacted, bounded, and encoded once."""
    query, limit = settings.redact_query, settings.log_body_bytes

    def describe(record: Record) -> tuple[dict[str, Any], bytes, list[str]]:
        cut: dict[str, Any] = {}
        found: list[str] = []
        loggable = dict(record)
        if record.get("auth"):
            loggable["auth"] = credentials.loggable(record["auth"])
        loggable["headers"] = rules.request(record["headers"], cut, found)
        cookies = record["cookies"]
        if cookies:
            found.extend(cookies.values())  # empty ones too: kept_secrets leaves them out
            logged = redact.cookies(cookies)
            if len(logged) > logbounds.MAX_COOKIES:
                logged = logbounds.cookies(logged, cut)
            loggable["cookies"] = logged
        else:
            loggable["cookies"] = {}
        if record["query_string"]:
            loggable["args"] = redact.mapping(record["args"], query)
            loggable["query_string"] = redact.query_string(record["query_string"], query)
            loggable["url"] = redact.url(record["url"], query)
        if query and record["args"]:
            for key, value in record["args"].items():
                if key.lower() in query:
                    found.extend(value if isinstance(value, list) else [value])
        if (record.get("decoded_size") or record["body_size"] or 0) > limit:
            data = record["data"].encode()[:limit].decode("utf-8", "ignore")
            loggable.update(data=data, json=None, form={}, truncated=True)
        if cut:
            loggable["cut"] = cut
        return loggable, logbounds.fit(loggable, orjson.dumps(loggable), cut), found

    return describe


def _http_request(outcome: Outcome, loggable: dict[str, Any]) -> dict[str, Any]:
    # `loggable` is already redacted: its Referer had its query secrets replaced.
    headers = loggable["headers"]
    return {
        "requestMethod": loggable["method"],
        "requestUrl": loggable["url"],
        "status": outcome.status,
        "requestSize": str(outcome.request_size),
        "responseSize": str(outcome.response_size),
        "userAgent": headers.get("User-Agent"),
        "remoteIp": loggable["client_ip"],
        "referer": headers.get("Referer"),
        "latency": "%.6fs" % outcome.elapsed,  # noqa: UP031
        "protocol": outcome.protocol,
    }


def _responder(
    settings: Settings, rules: _HeaderRules
) -> Callable[[Outcome, bytes, list[str]], dict[str, Any]]:
    """The line's `response`: its headers and body redacted (by name, and of the caller's
    secrets they repeat: httpbin's /headers, /bearer …) and bounded."""
    reference = settings.log_echo_body == "reference"

    def respond(outcome: Outcome, encoded_record: bytes, found: list[str]) -> dict[str, Any]:
        cut: dict[str, Any] = {}
        headers = rules.response(outcome.response_headers)
        secrets: list[str] | None = None  # the caller's secrets, looked at only if need be
        if found and redact.could_occur(found, "\n".join(headers.values())):
            secrets = redact.kept_secrets(found)
            redact_body = redact.body_redactor(secrets)
            if secrets and redact.occurs(redact_body, headers.values()):
                headers = {k: redact_body(value.encode()).decode() for k, value in headers.items()}
        headers = _bound(headers, cut)
        part: dict[str, Any] = {
            "status": outcome.status,
            "headers": headers,
            "body_size": outcome.response_size,
        }
        if outcome.fault:
            part["fault"] = outcome.fault  # README: Connection level
        if outcome.written_by_caller:
            part["written_by"] = "caller"  # x-set-response-body: the record is `request`, not sent
        if outcome.body_is_record and reference:
            # the body is the record the line logs as `request` (and /call's `calls`, logged too)
            part["body_ref"] = "request, calls" if outcome.calls else "request"
        elif outcome.body_is_record:
            # the redacted record, never the caller's secrets
            _add_body(part, settings, encoded_record)
        else:
            body = outcome.response_body
            if secrets is None:
                secrets = redact.kept_secrets(found) if found else []
            _add_body(part, settings, redact.body_redactor(secrets)(body) if secrets else body)
        if cut:
            part["cut"] = cut
        return part

    return respond


def _calls(
    calls: tuple[DownstreamCall, ...], query: frozenset[str], in_text: Callable[[str], str]
) -> list[dict[str, Any]]:
    # What each downstream call did, without the answers (the record's `calls` has them).
    return [
        {
            "url": redact.url(call.url, query),
            "method": call.method,
            "status": call.status,
            "duration_ms": round(call.duration * 1000, 3),
            "verdict": call.verdict,
            "error": in_text(call.error) if call.error else None,
        }
        for call in calls
    ]


def _add_body(part: dict[str, Any], settings: Settings, body: bytes) -> None:
    limit = min(settings.log_body_bytes, logbounds.RESPONSE_BODY_BUDGET)
    part["body"] = body[:limit].decode("utf-8", "replace")
    if len(body) > limit:
        part["truncated"] = True


def _labels(identity: Identity) -> dict[str, str]:
    labels = {"service": identity.service, "instance": identity.instance}
    if identity.revision:
        labels["revision"] = identity.revision
    return labels
