"""Bounds on what a log line holds, whatever the client sends.

Cloud Logging refuses entries over 256 KiB, and a refused line hides the
request with it. Header values and cookie lists are cut first (they are what a
client can make large); if the logged record is still over its budget, whole
fields give way in a fixed order. Every cut is named in the line's `cut`.
The echo response to the caller is never cut: only the logged copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

LINE_BUDGET = 250_000  # bytes for a whole line: under Cloud Logging's 256 KiB
REQUEST_BUDGET = 180_000  # the logged record
RESPONSE_BODY_BUDGET = 32_768  # the logged response body, whatever ECHO_LOG_BODY_BYTES says
HEADER_VALUE_BYTES = 2048  # encoded (escaped) bytes of one logged header value
HEADERS_BUDGET = 96_000  # encoded bytes of all logged header values together
MAX_COOKIES = 64
_GIVE_WAY = ("files", "form", "json", "data", "args", "cookies", "headers", "query_string")
_EMPTY: dict[type, Any] = {dict: {}, list: [], str: ""}


def headers(values: Mapping[str, str], cut: dict[str, Any]) -> dict[str, str]:
    """Header values cut to their share of the budget; the names of cut ones go in `cut`."""
    cap = header_cap(len(values))
    return {name: header_value(name, value, cap, cut) for name, value in values.items()}


def header_cap(count: int) -> int:
    """The encoded bytes each of `count` logged header values may take."""
    share = HEADERS_BUDGET // count if count > 1 else HEADERS_BUDGET
    return share if share < HEADER_VALUE_BYTES else HEADER_VALUE_BYTES


def header_value(name: str, value: str, cap: int, cut: dict[str, Any]) -> str:
    """`value` cut to `cap` encoded bytes; when it is cut, `name` goes in `cut`.

    JSON escaping grows a character to 6 bytes at most: values of up to cap // 6
    characters are always within `cap` and returned as they are, without encoding them.
    """
    if len(value) * 6 > cap and len(encoded := orjson.dumps(value)) > cap:
        raw = value.encode()
        keep = len(raw) * cap // len(encoded)
        value = raw[:keep].decode("utf-8", "ignore")
        cut.setdefault("header_values", []).append(name)
    return value


def cookies(values: Mapping[str, str], cut: dict[str, Any]) -> dict[str, str]:
    """At most MAX_COOKIES cookies; how many were dropped goes in `cut`."""
    if len(values) <= MAX_COOKIES:
        return dict(values)
    cut["cookies_dropped"] = len(values) - MAX_COOKIES
    return dict(list(values.items())[:MAX_COOKIES])


def fit(loggable: dict[str, Any], encoded: bytes, cut: dict[str, Any]) -> bytes:
    """`loggable` encoded within REQUEST_BUDGET, emptying fields in a fixed order if need be."""
    for field in _GIVE_WAY:
        if len(encoded) <= REQUEST_BUDGET:
            break
        value = loggable.get(field)
        if value:
            loggable[field] = _EMPTY.get(type(value))
            cut.setdefault("fields", []).append(field)
            loggable["cut"] = cut
            encoded = orjson.dumps(loggable)
    return encoded
