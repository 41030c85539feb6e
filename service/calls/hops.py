"""`X-Echoscope-Hops`: how many `/call`s a request already came through, and its bound.

No client here: /call's route and the inspector's replay check the count without
loading httpx (service.calls.endpoint), which only ECHO_CALL_TARGETS brings in.
"""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import BadRequest, HTTPException

HOPS_HEADER = "X-Echoscope-Hops"
_MAX_HOPS_HEADER = 1_000_000


class LoopDetected(HTTPException):
    """508: the request came through ECHO_CALL_MAX_HOPS calls already."""

    code = 508


def hop_count(req: Request, max_hops: int) -> int:
    """The X-Echoscope-Hops that arrived (0 without one); 400 if malformed, 508 at the limit."""
    raw = req.headers.get(HOPS_HEADER, "0").strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) > _MAX_HOPS_HEADER:
        raise BadRequest(f"{HOPS_HEADER} must be a whole number, got {raw[:32]!r}.")
    hops = int(raw)
    if hops >= max_hops:
        raise LoopDetected(
            f"{HOPS_HEADER}: {hops}: this request already came through "
            f"{hops} calls; ECHO_CALL_MAX_HOPS is {max_hops}."
        )
    return hops
