"""CORS with a list of origins: listed origins get credentials, others get nothing."""

from __future__ import annotations

import pytest

from tests.unit.conftest import Echo, MakeEcho

LISTED = "https://app.example, https://admin.example"


@pytest.fixture
def listed(make_echo: MakeEcho) -> Echo:
    return make_echo({"ECHO_CORS_ORIGIN": LISTED})


@pytest.mark.parametrize("origin", ["https://app.example", "https://admin.example"])
def test_a_listed_origin_is_echoed_with_credentials(listed: Echo, origin: str) -> None:
    response = listed.client.get("/anything", headers={"Origin": origin, "Cookie": "s=1"})
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.vary
    assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://app.example.evil.example", "null", None]
)
def test_an_unlisted_origin_gets_nothing(listed: Echo, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {}
    response = listed.client.get("/anything", headers=headers)
    assert response.status_code == 200
    cors = [
        name for name, _ in response.headers.items() if name.lower().startswith("access-control")
    ]
    assert cors == []
    assert "Origin" in response.vary  # caches must not serve a listed origin's answer to it


def test_preflight_of_a_listed_origin(listed: Echo) -> None:
    response = listed.client.options(
        "/anything",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Methods"] == "PUT"


def test_preflight_of_an_unlisted_origin_is_just_an_echo(listed: Echo) -> None:
    response = listed.client.options(
        "/anything",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Methods" not in response.headers
    assert "Access-Control-Allow-Origin" not in response.headers


def test_wildcard_never_allows_credentials(echo: Echo) -> None:
    response = echo.client.get("/anything", headers={"Origin": "https://a.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
