"""The HAR 1.2 shape (Jan Odvarko's HTTP Archive 1.2 specification) as a JSON Schema.

Written from the specification's object list: every field it marks required is
required here, with its type; optional fields are typed when present. Custom
fields start with an underscore, as the specification allows.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs

_STRING = {"type": "string"}
_INT = {"type": "integer"}
_NUMBER = {"type": "number"}
_DATE = {
    "type": "string",
    "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$",
}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {**required, **(optional or {}), "comment": _STRING}
    return {
        "type": "object",
        "required": sorted(required),
        "properties": properties,
        "patternProperties": {"^_": {}},
        "additionalProperties": False,
    }


_PAIR = _object({"name": _STRING, "value": _STRING})
_COOKIE = _object(
    {"name": _STRING, "value": _STRING},
    {"path": _STRING, "domain": _STRING, "expires": _DATE, "httpOnly": {"type": "boolean"},
     "secure": {"type": "boolean"}},
)  # fmt: skip
_POST_DATA = _object(
    {"mimeType": _STRING},
    {"text": _STRING, "params": {"type": "array", "items": _object(
        {"name": _STRING},
        {"value": _STRING, "fileName": _STRING, "contentType": _STRING})}},
)  # fmt: skip
_REQUEST = _object(
    {"method": _STRING, "url": _STRING, "httpVersion": _STRING,
     "cookies": {"type": "array", "items": _COOKIE}, "headers": {"type": "array", "items": _PAIR},
     "queryString": {"type": "array", "items": _PAIR}, "headersSize": _INT, "bodySize": _INT},
    {"postData": _POST_DATA},
)  # fmt: skip
_CONTENT = _object(
    {"size": _INT, "mimeType": _STRING},
    {"compression": _INT, "text": _STRING, "encoding": _STRING},
)
_RESPONSE = _object(
    {"status": _INT, "statusText": _STRING, "httpVersion": _STRING,
     "cookies": {"type": "array", "items": _COOKIE}, "headers": {"type": "array", "items": _PAIR},
     "content": _CONTENT, "redirectURL": _STRING, "headersSize": _INT, "bodySize": _INT},
)  # fmt: skip
_TIMING = {"type": "number", "minimum": -1}
_TIMINGS = _object(
    {"send": _TIMING, "wait": _TIMING, "receive": _TIMING},
    {"blocked": _TIMING, "dns": _TIMING, "connect": _TIMING, "ssl": _TIMING},
)
_CACHE_ENTRY = _object(
    {"lastAccess": _STRING, "eTag": _STRING, "hitCount": _INT}, {"expires": _STRING}
)
_ENTRY = _object(
    {"startedDateTime": _DATE, "time": {"type": "number", "minimum": 0}, "request": _REQUEST,
     "response": _RESPONSE, "cache": _object({}, {"beforeRequest": _CACHE_ENTRY,
                                                  "afterRequest": _CACHE_ENTRY}),
     "timings": _TIMINGS},
    {"pageref": _STRING, "serverIPAddress": _STRING, "connection": _STRING},
)  # fmt: skip
_CREATOR = _object({"name": _STRING, "version": _STRING})
HAR_1_2 = {
    "type": "object",
    "required": ["log"],
    "additionalProperties": False,
    "properties": {
        "log": _object(
            {
                "version": {"const": "1.2"},
                "creator": _CREATOR,
                "entries": {"type": "array", "items": _ENTRY},
            },
            {"browser": _CREATOR, "pages": {"type": "array"}},
        )
    },
}
VALIDATOR = jsonschema_rs.validator_for(HAR_1_2)


def validate(har: Any) -> None:
    """Raise jsonschema_rs.ValidationError when `har` is not a HAR 1.2 log."""
    VALIDATOR.validate(har)
