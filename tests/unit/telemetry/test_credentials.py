"""Who called (service/telemetry/credentials.py) and ID tokens for calls (service/cloud/idtokens.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from service.cloud.idtokens import IdTokenError, IdTokens
from service.telemetry import credentials
from tests.support.listener import Listener
from tests.support.metadata import MetadataServer, id_token
from tests.unit.conftest import Echo, MakeEcho

AUDIENCE = "https://backend-xyz-ew.a.run.app"
TOKEN = id_token(AUDIENCE)


@pytest.fixture
def metadata() -> Iterator[MetadataServer]:
    server = MetadataServer()
    yield server
    server.close()


# --- decoding --------------------------------------------------------------------------------


def test_a_jwt_is_decoded_without_its_signature() -> None:
    header, claims = credentials.decode(TOKEN)
    assert header == {"alg": "RS256", "kid": "test-key", "typ": "JWT"}
    assert claims["aud"] == AUDIENCE and claims["iss"] == "https://accounts.google.com"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("opaque-access-token", "1 dot-separated parts, a JWT has 3"),
        ("a.b", "2 dot-separated parts"),
        ("!!!.e30.sig", "the header is not base64url JSON"),
        ("WzFd.e30.sig", "the header is not a JSON object"),  # [1]
        ("e30.bm90IGpzb24.sig", "the claims are not base64url JSON"),
        ("e30." + "A" * 20000 + ".sig", "longer than 16384 characters"),
    ],
)
def test_what_is_not_a_jwt_says_why(token: str, why: str) -> None:
    with pytest.raises(credentials.NotAJwt, match=why.replace("[", r"\[")):
        credentials.decode(token)


def test_auth_in_the_record_is_unverified(echo: Echo) -> None:
    record = echo.client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).json
    auth = record["auth"]
    assert auth["source"] == "authorization" and auth["verified"] is False
    assert auth["claims"]["email"].startswith("caller@") and auth["header"]["kid"] == "test-key"


def test_cloud_runs_header_comes_before_authorization(echo: Echo) -> None:
    headers = {"Authorization": "Basic dTpw", "X-Serverless-Authorization": f"Bearer {TOKEN}"}
    assert echo.client.get("/", headers=headers).json["auth"]["source"] == (
        "x-serverless-authorization"
    )


def test_an_iap_assertion_is_read_as_is(echo: Echo) -> None:
    record = echo.client.get("/", headers={"X-Goog-IAP-JWT-Assertion": TOKEN}).json
    assert record["auth"]["source"] == "x-goog-iap-jwt-assertion"


def test_no_token_no_auth_and_basic_is_no_token(echo: Echo) -> None:
    assert echo.client.get("/").json["auth"] is None
    assert echo.client.get("/", headers={"Authorization": "Basic dTpw"}).json["auth"] is None


def test_an_opaque_bearer_token_is_reported_as_not_a_jwt(echo: Echo) -> None:
    auth = echo.client.get("/", headers={"Authorization": "Bearer ya29.opaque"}).json["auth"]
    assert auth["error"].startswith("not a JWT") and auth["claims"] is None


@pytest.mark.parametrize(
    "header", ["Authorization", "X-Serverless-Authorization", "X-Goog-IAP-JWT-Assertion"]
)
def test_the_log_keeps_four_claims_and_never_the_token(make_echo: MakeEcho, header: str) -> None:
    echo = make_echo({"ECHO_REDACT_HEADERS": "x-other"})  # the setting names none of them
    value = TOKEN if header.startswith("X-Goog") else f"Bearer {TOKEN}"
    echo.client.get("/", headers={header: value})
    line = echo.raw_lines()[-1].decode()
    assert TOKEN.split(".")[1] not in line and TOKEN.split(".")[2] not in line
    request = echo.exchange_line()["request"]
    assert request["headers"][header.title()] == "[REDACTED]"
    assert set(request["auth"]["claims"]) == {"iss", "aud", "sub", "exp"}


# --- ID tokens ---------------------------------------------------------------------------------


def test_id_tokens_are_fetched_once_per_audience(metadata: MetadataServer) -> None:
    tokens = IdTokens(metadata.host, 1)
    first = tokens.token_for(AUDIENCE)
    assert tokens.token_for(AUDIENCE) == first
    assert credentials.decode(first)[1]["aud"] == AUDIENCE
    other = tokens.token_for("https://other.example")
    assert credentials.decode(other)[1]["aud"] == "https://other.example"
    assert len(metadata.identity_requests()) == 2
    assert all(r.headers["metadata-flavor"] == "Google" for r in metadata.received)


def test_a_token_near_its_expiry_is_fetched_again() -> None:
    short = MetadataServer(token_lifetime=200)  # inside the 5-minute renewal margin
    try:
        tokens = IdTokens(short.host, 1)
        tokens.token_for(AUDIENCE)
        tokens.token_for(AUDIENCE)
        assert len(short.identity_requests()) == 2
    finally:
        short.close()


def test_no_metadata_server_no_token() -> None:
    with pytest.raises(IdTokenError, match="gave no ID token"):
        IdTokens("127.0.0.1:9", 0.5).token_for(AUDIENCE)


def test_google_auth_sends_cloud_runs_header_and_hides_the_token(
    make_echo: MakeEcho, metadata: MetadataServer
) -> None:
    echoing = Listener()  # answers with the headers it received, as an echo would
    try:
        echo = make_echo(
            {
                "ECHO_CALL_TARGETS": echoing.url,
                "ECHO_CALL_AUTH": "google",
                "GCE_METADATA_HOST": metadata.host,
            }
        )
        started = time.monotonic()
        (call,) = echo.client.get(f"/call?url={echoing.url}/x").json["calls"]
        assert time.monotonic() - started < 5
        (token,) = metadata.tokens
        received = echoing.received[0].headers
        assert received["x-serverless-authorization"] == f"Bearer {token}"
        assert credentials.decode(token)[1]["aud"] == echoing.url  # the target's origin
        assert "x-serverless-authorization" not in call["sent"]
        assert call["response"]["headers"]["x-serverless-authorization"] == "Bearer [REDACTED]"
        assert token not in echo.stream.getvalue().decode()
    finally:
        echoing.close()


def test_without_a_token_the_call_is_not_made(make_echo: MakeEcho) -> None:
    target = Listener()
    try:
        echo = make_echo({"ECHO_CALL_TARGETS": target.url, "ECHO_CALL_AUTH": "google"})
        (call,) = echo.client.get(f"/call?url={target.url}/").json["calls"]
        assert call["error"].startswith("no ID token: the metadata server at 127.0.0.1:9")
        target.assert_untouched()
    finally:
        target.close()
