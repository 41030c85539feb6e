"""Following one request across real echoscope processes (SPEC §9, issue 15).

Three gunicorn servers chained on 127.0.0.1, A -> B -> C, all exporting to one
OTLP receiver and writing Cloud Logging lines for one project. A runs "on Cloud
Run": a fake metadata server gives its instance facts and ID tokens, and a
test-only resolver (tests/support/fakedns) makes metadata.google.internal
resolve to 127.0.0.1 and 169.254.169.254. Listeners count every connection, so
each refusal is shown to have connected nowhere.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import jsonschema_rs
import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.listener import (
    Listener,
    Received,
    endless_answer,
    redirect_answer,
    send,
    slow_answer,
)
from tests.support.metadata import INSTANCE_ID, REGION, MetadataServer
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.server import ROOT, Server

PROJECT = "test-project"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CLIENT_SPAN}-01"
SERVER, CLIENT = 2, 3  # OTLP span kinds
_COMPONENTS = json.loads((ROOT / "service" / "echo" / "openapi.json").read_text())["components"]
RECORD = jsonschema_rs.validator_for(
    {"$ref": "#/components/schemas/EchoRecord", "components": _COMPONENTS}
)


def _rewriting_proxy(upstream: str) -> Any:
    """A hop that starts a span of its own: it forwards with a new traceparent parent id."""

    def answer(_: Listener, received: Received, handler: BaseHTTPRequestHandler) -> None:
        skip = {"host", "content-length", "connection", "accept-encoding"}
        headers = {key: value for key, value in received.headers.items() if key not in skip}
        trace_id = headers["traceparent"].split("-")[1]
        headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        forward = urllib.request.Request(upstream + received.path, headers=headers)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(forward, timeout=5) as response:
            send(handler, response.status, response.read(), "application/json")

    return answer


@dataclasses.dataclass
class Chain:
    a: Server
    b: Server
    c: Server
    receiver: OtlpReceiver
    metadata: MetadataServer
    listeners: dict[str, Listener]
    first_on_a: dict[str, Any]

    def call(self, *urls: str, **kwargs: Any) -> requests.Response:
        return requests.get(f"{self.a.url}/call", params={"url": list(urls)}, timeout=10, **kwargs)


@pytest.fixture(scope="module")
def chain(receiver: OtlpReceiver, make_module_server: MakeServer) -> Iterator[Chain]:
    metadata = MetadataServer()
    listeners = {
        "callback": Listener(),
        "unlisted": Listener(),
        "elsewhere": Listener(),
        "slow": Listener(slow_answer(10)),
        "endless": Listener(endless_answer()),
        "guarded": Listener(),
    }
    listeners["redirecting"] = Listener(redirect_answer(f"{listeners['elsewhere'].url}/"))
    common = {**receiver.env(), "GOOGLE_CLOUD_PROJECT": PROJECT}
    try:
        c = make_module_server({**common, "OTEL_SERVICE_NAME": "c"}, workers=2)
        listeners["proxy"] = Listener(_rewriting_proxy(c.url))
        b = make_module_server({**common, "OTEL_SERVICE_NAME": "b", "ECHO_CALL_TARGETS": c.url})
        a = make_module_server({**common, **_a_settings(b, c, listeners, metadata)})
        first = requests.get(f"{a.url}/anything", timeout=5).json()
        yield Chain(a, b, c, receiver, metadata, listeners, first)
    finally:
        for listener in [*listeners.values(), metadata]:
            listener.close()


def _a_settings(
    b: Server, c: Server, listeners: dict[str, Listener], metadata: MetadataServer
) -> dict[str, str]:
    """A: on "Cloud Run", sending ID tokens, metadata.google.internal resolving to two addresses."""
    targets = [b.url, c.url] + [
        listener.url for name, listener in listeners.items() if name != "unlisted"
    ]
    targets.append(f"http://metadata.google.internal:{listeners['guarded'].port}")
    return {
        "K_SERVICE": "a",
        "GCE_METADATA_HOST": metadata.host,
        "ECHO_CALL_AUTH": "google",
        "ECHO_CALL_TARGETS": ",".join(targets),
        "ECHO_CALL_TIMEOUT_SECONDS": "1.5",
        "PYTHONPATH": str(ROOT / "tests" / "support" / "fakedns"),
        "ECHOSCOPE_TEST_HOSTS": "metadata.google.internal=127.0.0.1,169.254.169.254",
    }


def _span(spans: list[ReceivedSpan], service: str, kind: int) -> ReceivedSpan:
    (found,) = [s for s in spans if s.resource["service.name"] == service and s.kind == kind]
    return found


# --- one trace across three hops ----------------------------------------------------------


def test_three_hops_carry_one_trace_with_the_right_parents(chain: Chain) -> None:
    body = [{"url": f"{chain.b.url}/call", "arguments": [{"url": f"{chain.c.url}/anything"}]}]
    response = requests.post(
        f"{chain.a.url}/call", json=body, headers={"traceparent": TRACEPARENT}, timeout=10
    )
    a = response.json()
    (to_b,) = a["calls"]
    b = to_b["response"]
    (to_c,) = b["calls"]
    c = to_c["response"]
    assert [a["trace"]["trace_id"], b["trace"]["trace_id"], c["trace"]["trace_id"]] == [
        TRACE_ID
    ] * 3
    assert (to_b["verdict"], to_c["verdict"]) == ("propagated", "propagated")
    for record in (a, b, c):
        RECORD.validate(record)  # as service/echo/openapi.json documents, calls included
    assert c["headers"]["X-Echoscope-Hops"] == "2"

    spans = chain.receiver.wait_for(5, trace_id=TRACE_ID)
    a_server, a_client = _span(spans, "a", SERVER), _span(spans, "a", CLIENT)
    b_server, b_client = _span(spans, "b", SERVER), _span(spans, "b", CLIENT)
    c_server = _span(spans, "c", SERVER)
    assert a_server.parent_span_id == CLIENT_SPAN
    assert a_client.parent_span_id == a_server.span_id
    assert b_server.parent_span_id == a_client.span_id
    assert b_client.parent_span_id == b_server.span_id
    assert c_server.parent_span_id == b_client.span_id
    assert to_b["sent"]["traceparent"].split("-")[2] == a_client.span_id
    assert b["trace_context"]["headers"]["traceparent"]["span_id"] == a_client.span_id

    expected = f"projects/{PROJECT}/traces/{TRACE_ID}"
    for server, record in ((chain.a, a), (chain.b, b), (chain.c, c)):
        line = server.line_for(record["uuid"])
        assert line["logging.googleapis.com/trace"] == expected
    a_line = chain.a.line_for(a["uuid"])
    assert a_line["calls"][0]["verdict"] == "propagated"
    assert a_line["calls"][0]["url"] == f"{chain.b.url}/call"


def test_two_hops_agree_on_every_format(chain: Chain) -> None:
    (call,) = chain.call(f"{chain.c.url}/anything").json()["calls"]
    assert call["verdict"] == "propagated"
    context = call["response"]["trace_context"]
    assert set(context["headers"]) == {"traceparent", "x-cloud-trace-context"}
    assert context["continued"] == "traceparent"
    assert context["agree"] == {"trace_id": True, "span_id": True, "sampled": True}


def test_a_hop_that_rewrites_traceparent_is_parent_changed(chain: Chain) -> None:
    (call,) = chain.call(f"{chain.listeners['proxy'].url}/anything").json()["calls"]
    assert call["verdict"] == "parent_changed"
    received = call["response"]["trace_context"]
    assert received["headers"]["traceparent"]["trace_id"] == call["sent"]["traceparent"][3:35]
    assert received["agree"]["span_id"] is False  # X-Cloud-Trace-Context kept the old parent


def test_the_w3c_harness_request_drives_a_callback_server(chain: Chain) -> None:
    callback = chain.listeners["callback"]
    callback.received.clear()
    nested = [{"url": "http://127.0.0.1:1/next", "arguments": []}]
    body = [
        {"url": f"{callback.url}/test", "arguments": nested},
        {"url": f"{callback.url}/again", "arguments": []},
    ]
    headers = {"traceparent": TRACEPARENT, "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}
    response = requests.post(f"{chain.a.url}/call", json=body, headers=headers, timeout=10)
    assert response.status_code == 200
    by_path = {received.path: received for received in callback.wait_for(2)}
    assert set(by_path) == {"/test", "/again"}
    assert by_path["/test"].method == "POST"
    assert requests.compat.json.loads(by_path["/test"].body) == nested
    for received in by_path.values():
        version, trace_id, parent, flags = received.headers["traceparent"].split("-")
        assert (version, trace_id, flags[-1]) == ("00", TRACE_ID, "1")
        assert parent != CLIENT_SPAN  # a new span: echoscope's CLIENT span
        assert received.headers["tracestate"] == headers["tracestate"]


# --- refusals, each proven by a listener that nothing reached ------------------------------


def test_a_url_outside_the_targets_is_403_and_connects_nowhere(chain: Chain) -> None:
    unlisted = chain.listeners["unlisted"]
    response = chain.call(f"{chain.c.url}/anything", f"{unlisted.url}/")
    assert response.status_code == 403
    assert "not under ECHO_CALL_TARGETS" in response.json()["detail"]
    unlisted.assert_untouched()


def test_a_redirect_is_not_followed(chain: Chain) -> None:
    (call,) = chain.call(f"{chain.listeners['redirecting'].url}/").json()["calls"]
    assert call["status"] == 302 and "not followed" in call["error"]
    chain.listeners["elsewhere"].assert_untouched()


def test_past_the_hop_limit_is_508_and_connects_nowhere(chain: Chain) -> None:
    callback = chain.listeners["callback"]
    callback.received.clear()
    connections = callback.connections
    response = chain.call(f"{callback.url}/", headers={"X-Echoscope-Hops": "5"})
    assert response.status_code == 508
    assert response.json()["error"] == "Loop Detected"
    time.sleep(0.15)
    assert callback.connections == connections and not callback.received


def test_a_slow_downstream_times_out_within_the_deadline(chain: Chain) -> None:
    started = time.monotonic()
    (call,) = chain.call(f"{chain.listeners['slow'].url}/").json()["calls"]
    assert call["error"] == "timeout: no answer within 1.5 s"
    assert time.monotonic() - started < 3.5


def test_the_metadata_name_is_refused_through_dns(chain: Chain) -> None:
    guarded = chain.listeners["guarded"]
    (call,) = chain.call(f"http://metadata.google.internal:{guarded.port}/").json()["calls"]
    assert call["error"].startswith("refused: metadata.google.internal resolves to 169.254.169.254")
    assert call["status"] is None
    guarded.assert_untouched()  # not even its 127.0.0.1 address was tried
    metrics = requests.get(f"{chain.a.url}/metrics", timeout=5).text
    assert 'error_type="forbidden_address"' in metrics


def test_an_endless_answer_is_cut_at_the_cap(chain: Chain) -> None:
    endless = chain.listeners["endless"]
    (call,) = chain.call(f"{endless.url}/").json()["calls"]
    assert call["truncated"] is True and len(call["response"]) == 65536
    assert endless.closed_by_peer.wait(5)


# --- ID tokens and the instance --------------------------------------------------------------


def test_calls_carry_an_id_token_for_the_target_that_never_shows(chain: Chain) -> None:
    for _ in range(2):
        (call,) = chain.call(f"{chain.b.url}/anything").json()["calls"]
    auth = call["response"]["auth"]
    assert auth["source"] == "x-serverless-authorization" and auth["verified"] is False
    assert auth["claims"]["aud"] == chain.b.url
    assert call["response"]["headers"]["X-Serverless-Authorization"] == "Bearer [REDACTED]"
    audiences = [r.path for r in chain.metadata.identity_requests() if "127.0.0.1%3A" in r.path]
    assert len([path for path in audiences if str(chain.b.port) in path]) == 1  # cached
    logs = chain.a.output() + chain.b.output()
    for token in chain.metadata.tokens:
        assert token.split(".")[2] not in logs and token.split(".")[1] not in logs
    b_line = chain.b.line_for(call["response"]["uuid"])
    assert set(b_line["request"]["auth"]["claims"]) == {"iss", "aud", "sub", "exp"}


def test_the_instance_facts_come_from_the_metadata_server(chain: Chain) -> None:
    assert chain.first_on_a["server"]["cold_start"] is True
    deadline = time.monotonic() + 5
    while True:
        record = requests.get(f"{chain.a.url}/anything", timeout=5).json()
        if record["server"]["instance_id"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    server = record["server"]
    assert (server["instance_id"], server["region"], server["project"]) == (
        INSTANCE_ID,
        REGION,
        PROJECT,
    )
    assert server["cold_start"] is False and server["instance_age_seconds"] > 0
    requests.get(f"{chain.a.url}/anything/labelled", timeout=5)
    line = chain.a.wait_for_lines(
        lambda line: line.get("request", {}).get("path") == "/anything/labelled"
    )[0]
    assert line["logging.googleapis.com/labels"]["instanceId"] == INSTANCE_ID
    (span,) = chain.receiver.wait_for(1, name="GET /anything/<path:path>")[-1:]
    # The span resource is made at start (with the standard Google Cloud detector on Cloud
    # Run, tests/integration/telemetry/test_otlp.py): the worker's own, never changed later.
    assert span.resource["service.instance.id"] == record["server"]["instance"]


def test_one_worker_of_an_instance_has_the_cold_start(chain: Chain) -> None:
    # Fresh connections until both workers have answered (which worker accepts is up to
    # the kernel: on a loaded machine one may take many in a row); bounded in count.
    lines: list[dict[str, Any]] = []
    workers: set[str] = set()
    for _ in range(200):
        requests.get(f"{chain.c.url}/anything", headers={"Connection": "close"}, timeout=5)
        lines = chain.c.exchange_lines()
        workers = {line["request"]["server"]["instance"] for line in lines}
        if len(workers) == 2:
            break
    time.sleep(0.2)  # the log writer's 50 ms
    lines = chain.c.exchange_lines()
    cold = [line for line in lines if line["request"]["server"]["cold_start"]]
    assert len(workers) == 2, "both workers should have served"
    assert len(cold) == 1
