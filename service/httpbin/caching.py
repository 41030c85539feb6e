"""Caching: /etag/<etag> (If-None-Match, If-Match), /cache (conditional GET), /cache/<n>."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest, PreconditionFailed
from werkzeug.http import http_date

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import params, shape
from service.settings import Settings

_ETAG_CHARS = re.compile(r"[\x21\x23-\x7e]+")  # RFC 9110 etagc, ASCII only
_LISTED = re.compile(r'\s*(?:W/)?"?([^",]*)"?\s*')


def init_app(app: Flask, settings: Settings) -> None:
    """Register /etag/<etag>, /cache and /cache/<n>."""
    views = _Views(settings.max_body_bytes)
    add_strict_rule(app, "/etag/<etag>", "httpbin_etag", views.etag, READ)
    add_strict_rule(app, "/cache", "httpbin_cache", views.cache, READ)
    add_strict_rule(app, "/cache/<n>", "httpbin_cache_control", views.cache_control, READ)


def listed_tags(header: str | None) -> list[str]:
    """The opaque tags of an If-Match / If-None-Match list, without W/ and quotes."""
    if not header:
        return []
    return [match.group(1) for part in header.split(",") if (match := _LISTED.fullmatch(part))]


class _Views:
    """The views, holding the body limit."""

    def __init__(self, max_body_bytes: int) -> None:
        self._limit = max_body_bytes

    def etag(self, etag: str) -> Response:
        rec = shape.record(self._limit)
        if not _ETAG_CHARS.fullmatch(etag):
            raise BadRequest(f"etag {etag[:64]!r} must be printable ASCII without '\"'")
        none_match = listed_tags(request.headers.get("If-None-Match"))
        if none_match:
            if etag in none_match or "*" in none_match:
                return _not_modified(f'"{etag}"')
        else:
            if_match = listed_tags(request.headers.get("If-Match"))
            if if_match and etag not in if_match and "*" not in if_match:
                raise PreconditionFailed(f"If-Match does not list {etag!r}")
        response = shape.json_response(shape.request_part(rec))
        response.headers["ETag"] = f'"{etag}"'
        return response

    def cache(self) -> Response:
        rec = shape.record(self._limit)
        if "If-Modified-Since" in request.headers or "If-None-Match" in request.headers:
            return _not_modified()
        response = shape.json_response(shape.request_part(rec))
        response.headers["Last-Modified"] = http_date()
        response.headers["ETag"] = f'"{uuid.uuid4().hex}"'
        return response

    def cache_control(self, n: str) -> Response:
        rec = shape.record(self._limit)
        seconds = params.integer(n, "n", 0, params.MAX_AGE)
        response = shape.json_response(shape.request_part(rec))
        response.headers["Cache-Control"] = f"public, max-age={seconds}"
        return response


def _not_modified(etag: str | None = None) -> Response:
    response = Response(status=304)
    if etag is not None:
        response.headers["ETag"] = etag
    return response
