"""One resource per worker: identity, the standard variables, Cloud Run's facts."""

from __future__ import annotations

import pytest

from service.exchange import identity
from service.settings import Settings
from service.telemetry import otelresource

CLOUD_RUN = {"K_SERVICE": "svc", "K_REVISION": "svc-00002", "K_CONFIGURATION": "svc"}


def test_the_service_attributes_come_from_the_identity() -> None:
    me = identity.of_process(Settings.from_env({"OTEL_SERVICE_NAME": "probe"}))
    attributes = otelresource.of_process(me).attributes
    assert attributes["service.name"] == "probe"
    assert attributes["service.instance.id"] == me.instance
    assert "cloud.platform" not in attributes


def test_on_cloud_run_without_an_answer_the_variables_say_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(otelresource, "detect_google_cloud", lambda timeout: {})
    me = identity.of_process(Settings.from_env(CLOUD_RUN))
    attributes = otelresource.of_process(me).attributes
    assert attributes["cloud.platform"] == "gcp_cloud_run"
    assert attributes["faas.name"] == "svc" and attributes["faas.version"] == "svc-00002"
    assert attributes["gcp.cloud_run.configuration"] == "svc"


def test_on_cloud_run_the_detector_s_attributes_win(monkeypatch: pytest.MonkeyPatch) -> None:
    detected = {
        "cloud.provider": "gcp",
        "cloud.platform": "gcp_cloud_run",
        "cloud.region": "europe-west1",
        "cloud.account.id": "demo-project",
        "faas.name": "svc",
        "faas.version": "svc-00002",
        "faas.instance": "0069c7a9f2b3",
    }
    monkeypatch.setattr(otelresource, "detect_google_cloud", lambda timeout: detected)
    me = identity.of_process(Settings.from_env(CLOUD_RUN))
    attributes = dict(otelresource.of_process(me).attributes)
    assert {key: attributes[key] for key in detected} == detected


def test_the_detector_never_holds_start_up_past_its_bound() -> None:
    # No metadata server here: the detector finds nothing, within the bound.
    assert otelresource.detect_google_cloud(0.5) == {}
