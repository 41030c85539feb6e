"""The worker's configuration: gunicorn's values, each read from gunicorn's Config once."""

from __future__ import annotations

from typing import Any

import pytest
from gunicorn.config import Config

from service.server.settledconfig import SettledConfig


class _Counting:
    """gunicorn's Config behind a counter of the reads that reach it."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.reads: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        self.reads[name] = self.reads.get(name, 0) + 1
        return getattr(self.cfg, name)


def _configured() -> Config:
    cfg = Config()
    cfg.set("threads", 8)
    cfg.set("forwarded_allow_ips", "10.0.0.1")
    cfg.set("certfile", "/etc/tls/cert.pem")
    return cfg


def test_it_answers_what_gunicorns_config_answers() -> None:
    cfg = _configured()
    settled = SettledConfig(cfg)
    for name in ("threads", "keepalive", "forwarded_allow_ips", "is_ssl", "http_protocols"):
        assert getattr(settled, name) == getattr(cfg, name), name
    assert settled.is_ssl  # a property over two settings
    assert settled.threads == 8


def test_each_setting_and_property_reaches_gunicorns_config_once() -> None:
    cfg = _Counting(_configured())
    settled = SettledConfig(cfg)
    for _ in range(50):
        assert settled.threads == 8
        assert settled.is_ssl
    assert cfg.reads["threads"] == 1
    assert cfg.reads["is_ssl"] == 1


def test_an_unknown_setting_raises_attribute_error_as_gunicorns_does() -> None:
    settled = SettledConfig(_configured())
    with pytest.raises(AttributeError, match="No configuration setting for: no_such_setting"):
        _ = settled.no_such_setting
    # gunicorn reads some settings with a default (its h2c check: `protocol`)
    assert getattr(settled, "no_such_setting", "http") == "http"


def test_hooks_are_gunicorns_own() -> None:
    cfg = _configured()
    called: list[str] = []
    cfg.set("pre_request", lambda worker, req: called.append(req))
    SettledConfig(cfg).pre_request(None, "GET /")
    assert called == ["GET /"]
