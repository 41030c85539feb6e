"""A request's URL without werkzeug's quote/unquote round trip when no part needs it.

werkzeug's `Request.url` quotes each part, joins them, then splits, unquotes and
IDNA-decodes the result again (`uri_to_iri`): ~15 µs for every request, asked for
by the tracing instrumentation's excluded-URL check and by the echo record. When
the host is a plain lowercase name or IPv4 address and the root path, path and
query hold only characters both steps leave as they are, the URL is the parts
joined; anything else (percent signs, non-ASCII, IPv6, `xn--` labels) goes to
werkzeug. tests/unit/echo/test_requesturl.py compares the two on generated URLs.
"""

from __future__ import annotations

import re

from werkzeug.sansio.request import Request

# Unreserved characters and the sub-delimiters werkzeug's quote() keeps; no "%" (which
# uri_to_iri would decode), no "?" or "#" (which would split the URL differently).
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,/:;=@]*")
_QUERY = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,/:;=@?]*")
# Lowercase labels (urlsplit lowercases, IDNA decodes "xn--"), and a port urlsplit
# would write back the same (no leading zero, at most 65535).
_HOST = re.compile(r"(?!xn--)[a-z0-9-]{1,63}(?:\.(?!xn--)[a-z0-9-]{1,63})*(?::([1-9][0-9]{0,4}))?")


# host -> whether it is plain, for the hosts seen (bounded: a client varying Host gets
# its hosts checked on every request instead).
_PLAIN_HOSTS: dict[str, bool] = {}
_MAX_HOSTS = 256


def plain(req: Request) -> str | None:
    """`req.url` joined from its parts, or None when werkzeug's own steps could change one."""
    scheme, host, root, path = req.scheme, req.host, req.root_path, req.path
    if scheme not in ("http", "https"):
        return None
    plain_host = _PLAIN_HOSTS.get(host)
    if plain_host is None:
        plain_host = _plain_host(host)
        if len(_PLAIN_HOSTS) < _MAX_HOSTS:
            _PLAIN_HOSTS[host] = plain_host
    if not plain_host:
        return None
    query = req.query_string.decode("latin-1")
    if not (_PATH.fullmatch(root) and _PATH.fullmatch(path) and _QUERY.fullmatch(query)):
        return None
    url = f"{scheme}://{host}{root.rstrip('/')}/{path.lstrip('/')}"
    return f"{url}?{query}" if query else url


def _plain_host(host: str) -> bool:
    host_match = _HOST.fullmatch(host)
    return host_match is not None and int(host_match.group(1) or 0) <= 65535
