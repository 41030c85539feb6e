"""`/call`'s calls: made concurrently within a deadline, each answer read up to a cap.

Each call runs in its own thread with a copy of the request's context, so its
CLIENT span is a child of the server span and the propagators inject it. What
a call did is a frozen `Call`, handed to the record, the log line and metrics.
"""

from __future__ import annotations

import contextvars
import dataclasses
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import httpx
import orjson
from opentelemetry import propagate

from service import __version__
from service.calls import downstream
from service.calls.hops import HOPS_HEADER
from service.calls.targets import Targets, origin_of
from service.cloud.idtokens import IdTokenError, IdTokens
from service.exchange.outcome import DownstreamCall
from service.telemetry import tracecontext

MAX_CALLS = 8
_GRACE_SECONDS = 0.5  # past the per-call timeout, for the answers to be gathered
_REDACTED = b"[REDACTED]"


@dataclasses.dataclass(frozen=True, slots=True)
class Planned:
    """One call to make: POST `arguments` as JSON, or GET when there are none.

    A replay (the inspector's) gives the stored request's method, headers and body
    instead; the hop count and the trace context are still this exchange's.
    """

    url: httpx.URL
    arguments: Any = None
    replayed_method: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None

    @property
    def method(self) -> str:
        """The replayed method, else POST when there are arguments to send, else GET."""
        if self.replayed_method is not None:
            return self.replayed_method
        return "GET" if self.arguments is None else "POST"


@dataclasses.dataclass(frozen=True, slots=True)
class Call(DownstreamCall):
    """What one downstream call did: what telemetry reports, and what the record shows."""

    sent: dict[str, str]  # the trace headers (and hop count) sent, never a token
    response: Any  # the downstream's JSON, or its text; None when nothing came back
    truncated: bool  # the answer was cut: past the cap (64 KiB), or not over by the deadline

    def as_dict(self) -> dict[str, Any]:
        """The call as the record's `calls[]` shows it."""
        return {
            "url": self.url,
            "method": self.method,
            "status": self.status,
            "duration_ms": round(self.duration * 1000, 3),
            "sent": self.sent,
            "response": self.response,
            "truncated": self.truncated,
            "error": self.error,
            "verdict": self.verdict,
        }


class Caller:
    """Makes the planned calls of one `/call` request with a shared, checked client."""

    def __init__(
        self, client: httpx.Client, targets: Targets, timeout: float, tokens: IdTokens | None
    ) -> None:
        self._client, self._targets, self._timeout, self._tokens = client, targets, timeout, tokens

    def run(self, planned: list[Planned], hops: int) -> tuple[Call, ...]:
        """Make every call at once; a call not over by the deadline is reported as timed out."""
        deadline = time.monotonic() + self._timeout
        pool = ThreadPoolExecutor(max_workers=len(planned), thread_name_prefix="echoscope-call")
        futures = [
            pool.submit(contextvars.copy_context().run, self._call, plan, hops, deadline)
            for plan in planned
        ]
        wait(futures, timeout=self._timeout + _GRACE_SECONDS)
        pool.shutdown(wait=False, cancel_futures=True)  # a stuck call ends at its own timeout
        return tuple(
            self._result(future, plan) for future, plan in zip(futures, planned, strict=True)
        )

    def _result(self, future: Future[Call], plan: Planned) -> Call:
        if future.done() and not future.cancelled():
            return future.result()
        error = f"timeout: not over within {self._timeout:g} s"
        return self._failed(plan, {}, 0.0, self._timeout, error, "timeout")

    def _call(self, plan: Planned, hops: int, deadline: float) -> Call:
        headers = {
            "User-Agent": f"echoscope/{__version__}",
            "Accept": "application/json, */*;q=0.5",
            "Accept-Encoding": "identity",
            **dict(plan.headers),
            HOPS_HEADER: str(hops + 1),
        }
        propagate.inject(headers)  # the instrumentation re-injects its CLIENT span's context
        started = time.monotonic()
        try:
            token = self._token(plan.url)
        except IdTokenError as error:
            return self._failed(plan, {}, started, None, f"no ID token: {error}", "id_token")
        if token:
            headers["X-Serverless-Authorization"] = f"Bearer {token}"
        body = plan.content
        if plan.arguments is not None:
            body = orjson.dumps(plan.arguments)
            headers["Content-Type"] = "application/json"
        request = self._client.build_request(plan.method, plan.url, headers=headers, content=body)
        try:
            response = self._client.send(request, stream=True)
            try:
                raw, cut = downstream.read_capped(response, deadline)
            finally:
                response.close()
        except httpx.HTTPError as error:
            message, error_type = downstream.describe_error(error, self._timeout)
            return self._failed(plan, _sent(request), started, None, message, error_type)
        if token:
            raw = raw.replace(token.encode(), _REDACTED)  # a downstream echo shows what it got
        return self._answered(plan, _sent(request), started, response, raw, cut)

    def _token(self, url: httpx.URL) -> str | None:
        return None if self._tokens is None else self._tokens.token_for(origin_of(url).url)

    def _answered(
        self,
        plan: Planned,
        sent: dict[str, str],
        started: float,
        response: httpx.Response,
        raw: bytes,
        cut: str,
    ) -> Call:
        value = downstream.decoded(raw, cut)
        error, error_type = downstream.status_error(response, value)
        if cut == downstream.CUT_AT_DEADLINE:
            error, error_type = (
                f"timeout: answer not complete within {self._timeout:g} s",
                "timeout",
            )
        return Call(
            url=str(plan.url),
            method=plan.method,
            status=response.status_code,
            duration=time.monotonic() - started,
            sent=sent,
            response=value,
            truncated=bool(cut),
            error=error,
            error_type=error_type,
            verdict=tracecontext.verdict(sent, value),
            server_address=self._targets.server_address(plan.url),
            server_port=self._targets.server_port(plan.url),
        )

    def _failed(
        self,
        plan: Planned,
        sent: dict[str, str],
        started: float,
        duration: float | None,
        error: str,
        error_type: str,
    ) -> Call:
        return Call(
            url=str(plan.url),
            method=plan.method,
            status=None,
            duration=duration if duration is not None else time.monotonic() - started,
            sent=sent,
            response=None,
            truncated=False,
            error=error,
            error_type=error_type,
            verdict=tracecontext.UNKNOWN,
            server_address=self._targets.server_address(plan.url),
            server_port=self._targets.server_port(plan.url),
        )


def _sent(request: httpx.Request) -> dict[str, str]:
    names = (*sorted(propagate.get_global_textmap().fields), HOPS_HEADER.lower())
    return {name: request.headers[name] for name in names if name in request.headers}
