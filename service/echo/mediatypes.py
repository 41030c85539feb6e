"""Media types a browser renders as passive content, and the check that refuses the others.

A response whose type the caller chooses (the content-type control, /base64,
/response-headers) must not become HTML, SVG or XML on echoscope's origin:
that would be a reflected cross-site scripting hole (go-httpbin closed the same
one with an allow-list).
"""

from __future__ import annotations

from werkzeug.exceptions import BadRequest

# Types no browser executes or renders as a document that can run script.
_SAFE_TYPES = frozenset(
    {
        "application/json",
        "application/problem+json",
        "application/x-ndjson",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "application/grpc",
        "application/protobuf",
        "application/x-protobuf",
        "application/cbor",
        "application/msgpack",
        "application/zip",
        "application/gzip",
        "application/pdf",
        "text/plain",
        "text/csv",
        "text/event-stream",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "audio/mpeg",
        "audio/ogg",
        "video/mp4",
        "video/webm",
        "multipart/form-data",
    }
)


def essence(content_type: str) -> str:
    """The `type/subtype` of a Content-Type value, lowercased, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def is_safe(content_type: str) -> bool:
    """True for types known to be passive; JSON-suffixed types (`+json`) count as safe."""
    kind = essence(content_type)
    return kind in _SAFE_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


def check(content_type: str, name: str, unsafe_allowed: bool) -> str:
    """Return `content_type`, or raise a 400 naming `name` when a browser would run it."""
    if unsafe_allowed or is_safe(content_type):
        return content_type
    raise BadRequest(
        f"{name} {essence(content_type)[:64]!r} is refused: a browser would render it as "
        "active content (set ECHO_UNSAFE_CONTENT_TYPES=true to allow it)"
    )
