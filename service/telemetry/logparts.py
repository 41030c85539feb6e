"""The exchange line's `request` and `response`: the record and the answer as logged.

Redacted (headers by name, query secrets, bearer tokens and IAP assertions, every cookie,
and the caller's secrets wherever the response repeats them) and bounded (logbounds),
with each header looked at one by one only where one needs work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from service.exchange.outcome import Outcome, Record
from service.settings import Settings
from service.telemetry import credentials, logbounds, redact

# The record as logged, its JSON, and the caller's secrets it held (candidates, unfiltered).
Describer = Callable[[Record], tuple[dict[str, Any], bytes, list[str]]]
# A header name (lowercase) -> redacted by name, URL-valued, the token header it is.
HeaderKind = tuple[bool, bool, str | None]


def _header_kinds(names: frozenset[str]) -> dict[str, HeaderKind]:
    """What redaction each header name needing any does: looked up once per header."""
    kinds: dict[str, HeaderKind] = {}
    for lower in {*names, *redact.URL_HEADERS, *credentials.TOKEN_HEADERS}:
        token = lower.replace("_", "-")
        named = lower in names
        kinds[lower] = (
            named,
            not named and lower in redact.URL_HEADERS,
            token if token in credentials.TOKEN_HEADERS else None,
        )
    return kinds


class HeaderRules:
    """Per settings: how each header is logged. The names of headers needing nothing (most
    of them, the same on every request) are remembered, up to MAX_PLAIN of them, so that
    a request's or response's headers are looked at one by one only where one needs work."""

    MAX_PLAIN = 1024

    def __init__(self, settings: Settings) -> None:
        self._kinds = _header_kinds(settings.redact_headers)
        self._query = settings.redact_query
        self._plain: frozenset[str] = frozenset()  # replaced whole: threads read it unlocked

    def _kind(self, key: str) -> HeaderKind | None:
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
        names), then bounded. The secrets they held go in `found`: the named headers' values
        and their credentials after the scheme, the tokens and bare tokens (for
        `redact.kept_secrets`)."""
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
        """The response's headers as logged: named ones redacted, the query secrets of
        URL-valued ones (a copy; `values` itself when none needs either)."""
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


def describer(settings: Settings, rules: HeaderRules) -> Describer:
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


def responder(
    settings: Settings, rules: HeaderRules
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


def _add_body(part: dict[str, Any], settings: Settings, body: bytes) -> None:
    limit = min(settings.log_body_bytes, logbounds.RESPONSE_BODY_BUDGET)
    part["body"] = body[:limit].decode("utf-8", "replace")
    if len(body) > limit:
        part["truncated"] = True
