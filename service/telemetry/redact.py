"""Redaction of secrets (headers, cookies, query parameters) before anything is logged or traced."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

import orjson

REDACTED = "[REDACTED]"


URL_HEADERS = frozenset({"referer", "location", "content-location"})  # their query is redacted


def in_text(names: frozenset[str]) -> Callable[[str], str]:
    """A function redacting `name=value` query parameters of `names` anywhere in a text
    (gunicorn's own lines quote raw request lines)."""
    if not names:
        return lambda text: text
    pattern = re.compile(
        r"(?i)(?<=[?&;])(" + "|".join(map(re.escape, sorted(names))) + r")=[^&\s\"'#]*"
    )
    return lambda text: pattern.sub(rf"\1={REDACTED}", text)


def mapping(values: Mapping[str, Any], names: frozenset[str] | None = None) -> dict[str, Any]:
    """Copy of a mapping with every value (names=None) or the values of `names` redacted."""
    if names is None:
        return dict.fromkeys(values, REDACTED)
    return {key: REDACTED if key.lower() in names else value for key, value in values.items()}


def cookies(values: Mapping[str, str]) -> dict[str, str]:
    """Every cookie value redacted; a nameless cookie (`Cookie: s3cr3t`) is all value."""
    return {key if value else REDACTED: REDACTED for key, value in values.items()}


def query_string(query: str, names: frozenset[str]) -> str:
    """The query string with the values of `names` replaced, the rest byte for byte."""
    if not query or not names:
        return query
    parts = query.split("&")
    changed = False
    for index, part in enumerate(parts):
        key = part.split("=", 1)[0]
        if unquote_plus(key).lower() in names:
            parts[index] = f"{key}={REDACTED}"
            changed = True
    return "&".join(parts) if changed else query


def url(full_url: str, names: frozenset[str]) -> str:
    """A URL with the values of `names` in its query string replaced."""
    base, sep, query = full_url.partition("?")
    return base + sep + query_string(query, names) if sep else full_url


MIN_SECRET_CHARS = 6  # shorter values (`1`, `true`, `yes`) would match unrelated text


def in_body(body: bytes, secrets: list[str]) -> bytes:
    """`body` with each secret, as text or JSON-escaped, replaced where it stands alone."""
    return body_redactor(secrets)(body) if secrets else body


def body_redactor(secrets: list[str]) -> Callable[[bytes], bytes]:
    """`in_body` for the many values of one exchange (its response headers and body).

    The secrets' forms are built at the first call, and the pattern compiled only when
    one of them occurs at all: most responses repeat none, and a substring test is far
    cheaper.
    """
    forms: list[bytes] = []
    compiled: list[re.Pattern[bytes]] = []

    def redact_body(body: bytes) -> bytes:
        if not forms:
            forms.extend({form for secret in secrets for form in _body_forms(secret)})
            forms.sort(key=len, reverse=True)
        if not any(form in body for form in forms):
            return body
        if not compiled:
            alternatives = b"|".join(re.escape(form) for form in forms)
            compiled.append(
                re.compile(rb"(?<![A-Za-z0-9])(?:" + alternatives + rb")(?![A-Za-z0-9])")
            )
        return compiled[0].sub(REDACTED.encode(), body)

    return redact_body


def kept_secrets(found: Iterable[str]) -> list[str]:
    """The secrets a response may repeat, of the candidates `found` (logparts' `HeaderRules`
    and `describer` collect them): none under MIN_SECRET_CHARS, longest first."""
    kept = {value for value in found if len(value.strip()) >= MIN_SECRET_CHARS}
    return sorted(kept, key=len, reverse=True)


def could_occur(secrets: list[str], text: str) -> bool:
    """False only when no secret can occur in `text` in any form `body_redactor` looks for
    (`kept_secrets(secrets)`): a secret JSON escaping leaves alone (no quote, backslash or
    control character) occurs as it is or not at all; when any is not such a secret, all
    are assumed to occur (`occurs` then decides)."""
    probe = " ".join(secrets)
    if '"' in probe or "\\" in probe or not probe.isprintable():
        return True
    for secret in secrets:  # noqa: SIM110 (a loop: no generator made on every line)
        if len(secret) >= MIN_SECRET_CHARS and secret in text:
            return True
    return False


def occurs(redact_body: Callable[[bytes], bytes], texts: Iterable[str]) -> bool:
    """Whether `redact_body` would change any of `texts`, all looked through at once (one
    by one, only when a secret occurs: rare, and the per-text pass decides exactly)."""
    joined = "\n".join(texts).encode()
    return redact_body(joined) is not joined


def _body_forms(secret: str) -> tuple[bytes, bytes]:
    escaped = orjson.dumps(secret)[1:-1]
    return secret.encode("utf-8", "replace"), escaped
