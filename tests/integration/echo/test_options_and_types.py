"""OPTIONS on every route (200 with Allow and CORS, never 405) and the media types a caller may choose."""

from __future__ import annotations

import re

import pytest
import requests

from service.app import create_app
from service.settings import Settings
from tests.integration.conftest import MakeServer
from tests.support.server import Server

TOKEN = "options-token"
ENV = {"ECHO_INSPECT_TOKEN": TOKEN, "ECHO_CALL_TARGETS": "http://127.0.0.1:9/"}
SAMPLES = {"code": "200", "seconds": "0", "n": "3", "value": "aGk", "path": "a/b"}


@pytest.fixture(scope="module")
def everything(make_module_server: MakeServer) -> Server:
    """Every optional route on: the inspector and /call."""
    return make_module_server(ENV)


def _registered_paths() -> list[tuple[str, str]]:
    app = create_app(Settings.from_env(ENV))
    paths = []
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLES.get(m[1], "x"), rule.rule)
        paths.append((rule.endpoint, path))
    return sorted(set(paths))


ROUTES = _registered_paths()


@pytest.mark.parametrize(("endpoint", "path"), ROUTES, ids=[endpoint for endpoint, _ in ROUTES])
def test_options_on_every_registered_route_is_200_with_allow_and_cors(
    everything: Server, endpoint: str, path: str
) -> None:
    response = requests.options(
        f"{everything.url}{path}",
        headers={"Origin": "https://app.example", "Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    if endpoint == "inspector_unknown":  # the inspector's own 404 for paths it does not have
        assert response.status_code == 404
        return
    assert response.status_code == 200, (path, response.status_code, response.text[:200])
    assert "OPTIONS" in response.headers["Allow"].split(", ")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_options_on_a_read_only_route_names_its_methods(everything: Server) -> None:
    response = requests.options(f"{everything.url}/get", timeout=5)
    assert response.status_code == 200
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
    assert requests.post(f"{everything.url}/get", timeout=5).status_code == 405  # others: still


def test_options_on_an_echo_route_echoes_and_allows_any_method(everything: Server) -> None:
    response = requests.options(f"{everything.url}/anything/x", timeout=5)
    assert response.status_code == 200 and response.json()["method"] == "OPTIONS"
    assert {"GET", "POST", "DELETE", "OPTIONS"} <= set(response.headers["Allow"].split(", "))


def test_a_preflight_is_still_204(everything: Server) -> None:
    response = requests.options(
        f"{everything.url}/get",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"},
        timeout=5,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Methods"] == "PUT"


@pytest.mark.parametrize(
    "kind", ["aaaa/bbbb", "jellyfish/cabbage", "application/x-thing; v=1", "font/woff2"]
)
def test_any_well_formed_passive_type_is_served(everything: Server, kind: str) -> None:
    response = requests.get(
        f"{everything.url}/anything", params={"x-set-response-content-type": kind}, timeout=5
    )
    assert (response.status_code, response.headers["Content-Type"]) == (200, kind)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for path in (f"/response-headers?Content-Type={kind}", f"/base64/aGk?content-type={kind}"):
        assert requests.get(f"{everything.url}{path}", timeout=5).headers["Content-Type"] == kind


@pytest.mark.parametrize(
    "kind",
    ["text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/atom+xml",
     "text/javascript", "application/javascript", "multipart/x-mixed-replace; boundary=b"],
)  # fmt: skip
def test_actively_rendered_types_are_refused(everything: Server, kind: str) -> None:
    for path, params in (
        ("/anything", {"x-set-response-content-type": kind}),
        ("/response-headers", {"Content-Type": kind}),
        ("/base64/aGk", {"content-type": kind}),
    ):
        response = requests.get(f"{everything.url}{path}", params=params, timeout=5)
        assert response.status_code == 400, (path, kind)
        assert response.headers["Content-Type"] == "application/json"
