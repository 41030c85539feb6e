"""A fake GCE/Cloud Run metadata server on 127.0.0.1: instance facts and ID tokens."""

from __future__ import annotations

import base64
import json
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.support.listener import Listener, Received, send

INSTANCE_ID = "0069c7a9f2b3e8d1aa00cafe0123456789abcdef0069c7a9f2b3e8d1aa00cafe"
REGION = "europe-west1"
PROJECT = "demo-project"
SERVICE_ACCOUNT = "caller@demo-project.iam.gserviceaccount.com"
_FACTS = {
    "/computeMetadata/v1/instance/id": INSTANCE_ID,
    "/computeMetadata/v1/instance/region": f"projects/123456789/regions/{REGION}",
    "/computeMetadata/v1/project/project-id": PROJECT,
}
_IDENTITY = "/computeMetadata/v1/instance/service-accounts/default/identity"
_ROOT = "/computeMetadata/v1/"
# What `?recursive=true` answers on Cloud Run (the parts Google's resource detector reads).
_RECURSIVE = {
    "instance": {
        "id": INSTANCE_ID,
        "region": f"projects/123456789/regions/{REGION}",
        "zone": f"projects/123456789/zones/{REGION}-1",
        "attributes": {},
    },
    "project": {"projectId": PROJECT, "numericProjectId": 123456789},
}


def _segment(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def id_token(audience: str, lifetime: int = 3600) -> str:
    """A JWT shaped like Google's (the signature is not a real one)."""
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": audience,
        "sub": "112233445566778899000",
        "email": SERVICE_ACCOUNT,
        "iat": now,
        "exp": now + lifetime,
    }
    header = {"alg": "RS256", "kid": "test-key", "typ": "JWT"}
    return f"{_segment(header)}.{_segment(claims)}.c2lnbmF0dXJl"


class MetadataServer(Listener):
    """Answers the instance facts and identity tokens; 403 without Metadata-Flavor: Google."""

    def __init__(
        self, token_lifetime: int = 3600, address: tuple[str, int] = ("127.0.0.1", 0)
    ) -> None:
        self.token_lifetime = token_lifetime
        self.tokens: list[str] = []
        super().__init__(self._answer, address)
        self._address = address[0]

    @property
    def host(self) -> str:
        """The value for GCE_METADATA_HOST."""
        return f"{self._address}:{self.port}"

    def identity_requests(self) -> list[Received]:
        """The ID token requests received so far."""
        return [r for r in self.received if urlsplit(r.path).path == _IDENTITY]

    def _answer(self, _: Listener, received: Received, handler: BaseHTTPRequestHandler) -> None:
        if received.headers.get("metadata-flavor") != "Google":
            send(handler, 403, b"Missing Metadata-Flavor:Google header.", "text/html")
            return
        url = urlsplit(received.path)
        if url.path == _IDENTITY:
            audience = parse_qs(url.query).get("audience", [""])[0]
            token = id_token(audience, self.token_lifetime)
            self.tokens.append(token)
            send(handler, 200, token.encode(), "text/html")
        elif url.path in _FACTS:
            send(handler, 200, _FACTS[url.path].encode(), "application/text")
        elif url.path == _ROOT and parse_qs(url.query).get("recursive") == ["true"]:
            send(handler, 200, json.dumps(_RECURSIVE).encode(), "application/json")
        elif url.path == f"{_ROOT}instance/":
            send(handler, 200, b"attributes/\nid\nregion\nzone\n", "application/text")
        else:
            send(handler, 404, b"Not Found", "text/html")
