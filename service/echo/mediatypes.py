"""Media types a caller may choose for a response, and the check that refuses the others.

A response whose type the caller chooses (the content-type control, /base64,
/response-headers) must not become a document a browser renders actively on
echoscope's origin (HTML, XHTML, SVG, XML, JavaScript, a multipart/x-mixed-replace
stream …): that would be a reflected cross-site scripting hole. Any other
well-formed type is served: with `X-Content-Type-Options: nosniff` a browser
downloads a type it does not know (`aaaa/bbbb`) and never renders it.
"""

from __future__ import annotations

import re

from werkzeug.exceptions import BadRequest

_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"  # RFC 6838 §4.2 restricted-name
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 9110 §5.6.2
_QUOTED = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'  # RFC 9110 §5.6.4, without obs-text
# RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS parameter ), names as RFC 6838 has
# them; spaces and tabs only, so a value never carries a line break into the header.
_MEDIA_TYPE = re.compile(
    rf"{_NAME}/{_NAME}(?:[ \t]*;[ \t]*{_NAME}=(?:{_TOKEN}|{_QUOTED}))*", re.ASCII
)
# What a browser renders as a document that can run script, besides every XML type.
_ACTIVE = frozenset(
    {
        "text/html",
        "text/javascript",
        "text/ecmascript",
        "text/jscript",
        "text/livescript",
        "text/x-javascript",
        "text/x-ecmascript",
        "application/javascript",
        "application/ecmascript",
        "application/x-javascript",
        "application/x-ecmascript",
        "text/xsl",
        "text/x-component",
        "multipart/x-mixed-replace",
        "application/x-shockwave-flash",
    }
)
_LEGACY_JAVASCRIPT = re.compile(r"text/javascript1\.[0-5]")


def essence(content_type: str) -> str:
    """The `type/subtype` of a Content-Type value, lowercased, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def is_well_formed(content_type: str) -> bool:
    """True for `type/subtype` with optional `; name=value` parameters (RFC 9110, RFC 6838)."""
    return _MEDIA_TYPE.fullmatch(content_type) is not None


def is_active(content_type: str) -> bool:
    """True for the types a browser renders as active content: HTML, XML, SVG, scripts …"""
    kind = essence(content_type)
    subtype = kind.partition("/")[2]
    xml = subtype == "xml" or subtype.startswith("xml-") or subtype.endswith("+xml")
    return xml or kind in _ACTIVE or _LEGACY_JAVASCRIPT.fullmatch(kind) is not None


def is_safe(content_type: str) -> bool:
    """True for the types served whatever ECHO_UNSAFE_CONTENT_TYPES says."""
    return is_well_formed(content_type) and not is_active(content_type)


def check(content_type: str, name: str, unsafe_allowed: bool) -> str:
    """Return `content_type`, or raise a 400 naming `name`: malformed, or active content."""
    if not is_well_formed(content_type):
        raise BadRequest(f"{name} must be a media type like text/plain, got {content_type[:64]!r}")
    if unsafe_allowed or not is_active(content_type):
        return content_type
    raise BadRequest(
        f"{name} {essence(content_type)[:64]!r} is refused: a browser would render it as "
        "active content (set ECHO_UNSAFE_CONTENT_TYPES=true to allow it)"
    )
