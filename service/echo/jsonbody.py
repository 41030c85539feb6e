"""A JSON request body: parsed once with orjson, refused where orjson could not echo it."""

from __future__ import annotations

import json as stdlib_json
from typing import Any

import orjson
from flask import Request

_JSON_ERROR_CHARS = 200
_MAX_ECHO_DEPTH = 254
# Every ASCII digit -> "0", every other byte -> ".": a run of 19 digits becomes 19 zeros,
# found by one translate and one substring search (a regex tries each of the body's bytes).
_DIGIT_RUNS = bytes(48 if 48 <= byte <= 57 else 46 for byte in range(256))
_LONG_RUN = b"0" * 19


def parse_json(req: Request, raw: bytes) -> tuple[Any, str | None]:
    """The record's `json` and `json_error` of a body `raw` sent with `req`'s Content-Type."""
    if not raw or not req.is_json:
        return None, None
    try:
        value = orjson.loads(raw)
        _check_echoable(raw, value)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, ValueError) as error:
        return None, str(error)[:_JSON_ERROR_CHARS]
    return value, None


def _check_echoable(raw: bytes, value: Any) -> None:
    """Raise when the parsed body cannot be echoed faithfully.

    orjson reads integers past 64 bits as floats (losing digits) and nests up to
    1024 levels when reading but only 254 when writing.
    """
    if has_long_digits(raw):
        stdlib_json.loads(raw, parse_int=_int64)
    if raw.count(b"[") + raw.count(b"{") > _MAX_ECHO_DEPTH:
        orjson.dumps(value)


def has_long_digits(raw: bytes) -> bool:
    """Whether `raw` has a run of 19 or more ASCII digits (`re.search(rb"\\d{19,}", raw)`)."""
    return _LONG_RUN in raw.translate(_DIGIT_RUNS)


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"integer {text[:32]}... does not fit in 64 bits")
    return value
