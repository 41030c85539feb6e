"""EchoscopeFlask.ensure_sync answers as Flask's, asking inspect once per code object."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from flask import Flask

from service.exchange.application import EchoscopeFlask


def plain() -> str:
    return "plain"


async def coroutine() -> str:
    return "coroutine"


class Hooks:
    def method(self) -> str:
        return "method"


def _flask_answer(app: Flask, func: Any) -> Any:
    try:
        return Flask.ensure_sync(app, func)
    except RuntimeError as error:  # async views need Flask's async extra (asgiref)
        return type(error)


def _ours(app: EchoscopeFlask, func: Any) -> Any:
    try:
        return app.ensure_sync(func)
    except RuntimeError as error:
        return type(error)


@pytest.mark.parametrize(
    "func",
    [plain, Hooks().method, functools.partial(plain), lambda: "lambda", print],
)
def test_sync_callables_come_back_as_they_are(func: Any) -> None:
    app = EchoscopeFlask("t")
    assert app.ensure_sync(func) is func
    assert app.ensure_sync(func) is func  # the kept answer


def test_a_coroutine_function_is_handled_as_flask_handles_it() -> None:
    app = EchoscopeFlask("t")
    ours, theirs = _ours(app, coroutine), _flask_answer(app, coroutine)
    if isinstance(theirs, type):
        assert ours is theirs
    else:
        assert ours() == theirs() == "coroutine"


def test_closures_made_per_request_share_one_answer() -> None:
    app = EchoscopeFlask("t")

    def make() -> Any:
        return lambda: "closure"

    for _ in range(100):
        closure = make()
        assert app.ensure_sync(closure) is closure
    assert len(app._is_async) == 1
