"""The Flask class echoscope runs on: Flask, with each hook's sync check made once."""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from types import CodeType
from typing import Any

from flask import Flask


class EchoscopeFlask(Flask):
    """Flask asks `ensure_sync` about every view and hook of every request (~11 per
    exchange, each an `inspect.iscoroutinefunction`). Whether a function is a coroutine
    function is a flag of its code, so the answer is kept per code object (a bounded
    set, unlike the functions: a closure made per request shares its code); callables
    without code are asked every time. Flask documents overriding this method."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._is_async: dict[CodeType, bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func` itself, or run to completion when it is a coroutine function (as Flask's)."""
        code = getattr(func, "__code__", None)
        if not isinstance(code, CodeType):
            return super().ensure_sync(func)
        is_async = self._is_async.get(code)
        if is_async is None:
            is_async = self._is_async[code] = iscoroutinefunction(func)
        return self.async_to_sync(func) if is_async else func
