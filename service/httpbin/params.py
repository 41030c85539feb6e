"""Parameters of the httpbin endpoints: parsed strictly, bounded, a JSON 400 otherwise."""

from __future__ import annotations

import math
import random

from flask import Request
from werkzeug.exceptions import BadRequest

from service.echo import durations

# Sizes (/bytes, /stream-bytes, /range, /drip): psf/httpbin's 100 KiB, refused past it.
MAX_BYTES = 102_400
MAX_STREAM_LINES = 100  # /stream
MAX_LINKS = 256  # /links
MAX_REDIRECTS = 100  # /redirect, /relative-redirect, /absolute-redirect
MAX_EVENTS = 10_000  # /sse
MAX_CHUNKS = 10_000  # /stream-bytes: chunk_size may not split the body finer than this
MAX_AGE = 2_147_483_648  # /cache/<n>: RFC 9111's largest delta-seconds


def integer(raw: str, name: str, low: int, high: int) -> int:
    """A decimal integer from `low` to `high`, or a 400 naming the parameter."""
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 19):
        raise BadRequest(f"{name} must be an integer from {low} to {high}, got {raw[:64]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}, got {value}")
    return value


def fraction(raw: str, name: str) -> float:
    """A number from 0 to 1, or a 400."""
    try:
        value = float(raw) if raw.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise BadRequest(f"{name} must be a number from 0 to 1, got {raw[:64]!r}")
    return value


def query_int(req: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter, `default` when absent."""
    raw = req.args.get(name)
    return default if raw is None else integer(raw, name, low, high)


def query_duration(req: Request, name: str, default: float, cap: float) -> float:
    """A duration query parameter (Go style or seconds); absent: `default`, capped silently."""
    raw = req.args.get(name)
    return min(default, cap) if raw is None else durations.bounded(raw, name, cap)


def rng(req: Request) -> random.Random:
    """A generator seeded by `?seed=` (reproducible, as psf/httpbin's), else unpredictable."""
    raw = req.args.get("seed")
    if raw is None:
        return random.Random()
    return random.Random(integer(raw, "seed", -(2**63), 2**63 - 1))


def chunk_size(req: Request, size: int, default: int = 10_240) -> int:
    """`?chunk_size=` (1 to MAX_BYTES), refused when it splits `size` bytes into too many chunks."""
    chunk = query_int(req, "chunk_size", default, 1, MAX_BYTES)
    if size > chunk * MAX_CHUNKS:
        raise BadRequest(
            f"chunk_size {chunk} splits {size} bytes into more than {MAX_CHUNKS} chunks"
        )
    return chunk


def flag(req: Request, name: str) -> bool:
    """True when the query parameter is `true` or `1` (any case)."""
    return req.args.get(name, "").lower() in ("1", "true")


def within_size(size: int, name: str, cap: int) -> None:
    """Refuse (400) a response of `size` bytes past `cap` (ECHO_MAX_BODY_BYTES)."""
    if size > cap:
        raise BadRequest(f"{name} would be {size} bytes, more than the maximum of {cap}")


def within(total: float, name: str, cap: float) -> None:
    """Refuse (400) a delay and duration that together exceed `cap` seconds."""
    if total > cap:
        raise BadRequest(f"{name} add up to {total:g}s, more than the maximum of {cap:g}s")
