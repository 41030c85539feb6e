"""Where a response may send a browser: a path on this server, or a host in ECHO_REDIRECT_HOSTS.

Anything else would make echoscope an open redirect (`/redirect-to`, and a
Location the caller writes with x-set-response-header).
"""

from __future__ import annotations

from urllib.parse import urlsplit


def is_allowed(url: str, hosts: frozenset[str]) -> bool:
    """True for a path on this server (`/x`, never `//x`) or an http(s) URL to a listed host."""
    # Browsers drop tabs and line breaks and read `\` as `/`: `/\evil` and `/\t/evil` are `//evil`.
    if not url.isascii() or any(ch <= " " or ch in "\\\x7f" for ch in url):
        return False
    if url.startswith("/"):
        return not url.startswith("//")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
        return False
    return host is not None and host.lower() in hosts
