"""HTTP Digest authentication (RFC 7616), as psf/httpbin's /digest-auth/<qop>/<user>/<passwd>/….

psf/httpbin's rules: qop `auth` or `auth-int` (anything else offers both and
accepts RFC 2069 answers without qop), algorithm MD5, SHA-256 or SHA-512 (else
MD5), `stale_after` answers before the nonce is declared stale, and
`?require-cookie=true` for clients that must send back the challenge's cookie.
Stateless: what a client has been told lives in its cookies, as in httpbin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping

from flask import Flask, Response, request
from werkzeug.exceptions import Forbidden, Unauthorized

from service.exchange.errors import http_error
from service.exchange.routing import READ, add_strict_rule
from service.httpbin import params, shape
from service.httpbin.auth import authenticated
from service.settings import Settings

REALM = "echoscope"
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
    "SHA-512": lambda data: hashlib.sha512(data).hexdigest(),
}
_QOPS = ("auth", "auth-int")
_FAKE = ("fake", "fake_value")  # psf/httpbin's cookie for ?require-cookie


def init_app(app: Flask, settings: Settings) -> None:
    """Register /digest-auth with and without an algorithm and a stale_after count."""
    view = _Digest(settings.max_body_bytes).view
    for tail in ("", "/<algorithm>", "/<algorithm>/<stale_after>"):
        rule = f"/digest-auth/<qop>/<user>/<passwd>{tail}"
        add_strict_rule(app, rule, "httpbin_digest_auth", view, READ)


class _Digest:
    """The view, holding the body limit (auth-int hashes the body)."""

    def __init__(self, max_body_bytes: int) -> None:
        self._limit = max_body_bytes

    def view(
        self, qop: str, user: str, passwd: str, algorithm: str = "MD5", stale_after: str = "never"
    ) -> Response:
        shape.record(self._limit)
        offer = _Offer(qop if qop in _QOPS else None, _algorithm(algorithm), stale_after)
        given = request.authorization
        require_cookie = params.flag(request, "require-cookie")
        if given is None or given.type != "digest" or (require_cookie and not request.cookies):
            return offer.challenge()
        if require_cookie and request.cookies.get(_FAKE[0]) != _FAKE[1]:
            return _with_fake(http_error(Forbidden("The cookie set on the challenge is missing.")))
        nonce = given.parameters.get("nonce", "")
        if request.cookies.get("last_nonce") == nonce or request.cookies.get("stale_after") == "0":
            return offer.challenge(stale=True, last_nonce=nonce)
        if not _matches(given.parameters, user, passwd):
            return offer.challenge(last_nonce=nonce)
        return _authenticated(user)


class _Offer:
    """The challenge this URL makes: qop offered, algorithm, stale_after count."""

    def __init__(self, qop: str | None, algorithm: str, stale_after: str) -> None:
        self.qop, self.algorithm, self.stale_after = qop, algorithm, stale_after

    def challenge(self, stale: bool = False, last_nonce: str | None = None) -> Response:
        """A JSON 401 with the WWW-Authenticate challenge and httpbin's cookies."""
        digest = _HASHES[self.algorithm]
        nonce = digest(f"{request.remote_addr}:{time.time()}:{secrets.token_hex(10)}".encode())
        qop = self.qop or ", ".join(_QOPS)
        header = (
            f'Digest realm="{REALM}", nonce="{nonce}", opaque="{digest(secrets.token_bytes(10))}", '
            f'qop="{qop}", algorithm={self.algorithm}, stale={"TRUE" if stale else "FALSE"}'
        )
        response = http_error(Unauthorized("Digest credentials are missing or wrong."))
        response.headers["WWW-Authenticate"] = header
        response.set_cookie("stale_after", self.stale_after)
        if last_nonce is not None:
            response.set_cookie("last_nonce", last_nonce)
        return _with_fake(response)


def _authenticated(user: str) -> Response:
    response = _with_fake(authenticated(user))
    count = request.cookies.get("stale_after")
    if count:
        response.set_cookie("stale_after", str(int(count) - 1) if count.isdigit() else "never")
    return response


def _with_fake(response: Response) -> Response:
    response.set_cookie(*_FAKE)
    return response


def _algorithm(name: str) -> str:
    return name.upper() if name.upper() in _HASHES else "MD5"


def _matches(given: Mapping[str, str | None], user: str, passwd: str) -> bool:
    expected = expected_response(given, passwd, request.method, _request_uri(), request.get_data())
    answer = given.get("response") or ""
    same = expected is not None and hmac.compare_digest(answer.encode(), expected.encode())
    return same and given.get("username") == user


def expected_response(
    given: Mapping[str, str | None], passwd: str, method: str, uri: str, body: bytes
) -> str | None:
    """The `response` a client knowing `passwd` computes (RFC 7616 §3.4.1), None if malformed."""
    digest = _HASHES[_algorithm(given.get("algorithm") or "MD5")]
    ha1 = digest(f"{given.get('username', '')}:{given.get('realm', '')}:{passwd}".encode())
    qop = given.get("qop")
    if qop not in (None, *_QOPS):
        return None
    ha2_input = f"{method}:{uri}" + (f":{digest(body)}" if qop == "auth-int" else "")
    ha2 = digest(ha2_input.encode())
    nonce = given.get("nonce", "")
    if qop is None:
        return digest(f"{ha1}:{nonce}:{ha2}".encode())
    if "nc" not in given or "cnonce" not in given:
        return None
    return digest(f"{ha1}:{nonce}:{given['nc']}:{given['cnonce']}:{qop}:{ha2}".encode())


def _request_uri() -> str:
    raw: str | None = request.environ.get("RAW_URI")
    return raw or request.full_path.rstrip("?")
