"""Which instance answered (service/cloud/instance.py): metadata facts, cold start, age."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.cloud.instance import Facts
from service.echo import record
from service.exchange import pipeline
from tests.support.metadata import INSTANCE_ID, PROJECT, REGION, MetadataServer
from tests.unit.conftest import Echo, MakeEcho


@pytest.fixture
def metadata() -> Iterator[MetadataServer]:
    server = MetadataServer()
    yield server
    server.close()


def _server_after_learning(echo: Echo, timeout: float = 5) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server: dict[str, Any] = echo.client.get("/anything").json["server"]
        if server["instance_id"]:
            return server
        time.sleep(0.02)
    raise AssertionError("the metadata facts never arrived")


def test_on_cloud_run_the_facts_come_from_the_metadata_server(
    make_echo: MakeEcho, metadata: MetadataServer
) -> None:
    echo = make_echo(
        {"K_SERVICE": "svc", "K_REVISION": "svc-00001", "GCE_METADATA_HOST": metadata.host}
    )
    server = _server_after_learning(echo)
    assert (server["instance_id"], server["region"], server["project"]) == (
        INSTANCE_ID,
        REGION,
        PROJECT,
    )
    echo.client.get("/anything")  # the labels join on the exchange after the facts came
    labels = echo.exchange_lines()[-1]["logging.googleapis.com/labels"]
    assert labels["instanceId"] == INSTANCE_ID and labels["region"] == REGION
    resource = echo.spans()[-1].resource.attributes  # made at start, never changed later
    assert resource["faas.instance"] == server["instance"]


def test_the_project_setting_is_not_asked_for(
    make_echo: MakeEcho, metadata: MetadataServer
) -> None:
    env = {"K_SERVICE": "svc", "GOOGLE_CLOUD_PROJECT": "mine", "GCE_METADATA_HOST": metadata.host}
    server = _server_after_learning(make_echo(env))
    assert server["project"] == "mine"
    assert not [r for r in metadata.received if r.path.endswith("project-id")]


def test_off_cloud_run_nobody_is_asked(make_echo: MakeEcho, metadata: MetadataServer) -> None:
    server = make_echo({"GCE_METADATA_HOST": metadata.host}).client.get("/").json["server"]
    assert (server["instance_id"], server["region"], server["project"]) == (None, None, None)
    assert server["instance_age_seconds"] >= 0
    time.sleep(0.1)
    assert metadata.received == []


def _stamped(facts: Facts, path: str) -> dict[str, Any]:
    with Flask("t").test_request_context(path) as context:
        excluded = path == "/health"
        pipeline.begin(
            pipeline.Exchange(context.request, "id", 0.0, None, {}, "GET", path, record, excluded)
        )
        facts.stamp()
        return dict(pipeline.current().server)


def test_one_worker_of_an_instance_claims_the_cold_start(tmp_path: Path) -> None:
    claim = tmp_path / "served"
    first, second = (Facts(time.time() - 2, claim) for _ in range(2))
    assert _stamped(first, "/health")["cold_start"] is False  # a probe is not an exchange
    assert _stamped(second, "/anything")["cold_start"] is True
    assert _stamped(first, "/anything")["cold_start"] is False  # the other worker came first
    assert _stamped(second, "/anything")["cold_start"] is False
    assert 2 <= _stamped(first, "/x")["instance_age_seconds"] < 10
