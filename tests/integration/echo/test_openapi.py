"""service/echo/openapi.json stays true: every route documented, real responses conform, schemathesis agrees.

The document is checked three ways: against the app's own url_map (no route
missing, none invented), against real responses (the record's required fields
are exactly the keys of a real echo, and every response validates), and by
schemathesis generating requests from it against a live gunicorn.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import hypothesis
import jsonschema_rs
import pytest
import requests
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
)

from service.app import create_app
from service.echo import mediatypes
from service.settings import Settings
from tests.integration.conftest import MakeServer
from tests.support.constants import TRACEPARENT
from tests.support.server import ROOT, Server

SPEC_PATH = ROOT / "service" / "echo" / "openapi.json"
DOCUMENT: dict[str, Any] = json.loads(Path(SPEC_PATH).read_text(encoding="utf-8"))
STATUS = "x-set-response-status-code"
DELAY = "x-set-response-delay-ms"
CONTENT_TYPE = "x-set-response-content-type"
CONTROLS = (STATUS, DELAY, CONTENT_TYPE)
BODY = "x-set-response-body"
REPLY_HEADER = "x-set-response-header"
REPLY_CONTROLS = (BODY, REPLY_HEADER)  # a reply the caller writes (service/echo/reply.py)
MAX_EXAMPLES = 8  # per echo operation: 33 operations, about 270 requests
HTTPBIN_EXAMPLES = 3  # per httpbin operation: about 70 operations, about 210 requests
# 500 is what /unstable is for; a duration past ECHO_MAX_DELAY_SECONDS (a setting the
# document cannot know) is a 400.
FAILS_ON_PURPOSE = {"/unstable"}
BOUNDED_BY_A_SETTING = {"/delay/{seconds}"}
JSON_LINES = {"/stream/{n}", "/jsonl"}  # one document per line (psf/httpbin's application/json)
NEEDS_AN_UPGRADE = {"/websocket/echo"}  # without the handshake headers: a documented 400


def validator(component: str) -> jsonschema_rs.Validator:
    """A JSON Schema validator for one of the document's components/schemas."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": DOCUMENT["components"]}
    return jsonschema_rs.validator_for(schema)


def openapi_path(rule: str) -> str:
    """Flask's `/status/<code>` and `/<path:path>` as OpenAPI's `/status/{code}` and `/{path}`."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


@pytest.fixture(scope="module")
def live(make_module_server: MakeServer) -> Server:
    """A server whose delays are short, so schemathesis can ask for any delay it likes."""
    return make_module_server({"ECHO_MAX_DELAY_SECONDS": "0.05"})


# ---------------------------------------------------------------- the document and the routes


def test_document_is_openapi_3_1_and_served_as_shipped(live: Server) -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    response = requests.get(f"{live.url}/openapi.json", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == DOCUMENT


def test_every_flask_rule_has_a_path_in_the_document() -> None:
    app = create_app(Settings())
    rules = {openapi_path(rule.rule) for rule in app.url_map.iter_rules()}
    missing = rules - set(DOCUMENT["paths"])
    assert not missing, f"routes with no path in service/echo/openapi.json: {sorted(missing)}"


def test_every_documented_path_is_a_flask_rule() -> None:
    app = create_app(Settings())
    rules = {openapi_path(rule.rule) for rule in app.url_map.iter_rules()}
    invented = set(DOCUMENT["paths"]) - rules
    assert not invented, f"documented paths the app does not route: {sorted(invented)}"


def test_controls_are_documented_as_header_and_query_on_every_echo_operation() -> None:
    parameters = DOCUMENT["components"]["parameters"]
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method == "description" or "echo" not in operation["tags"]:
                continue
            names = {
                (
                    parameters[ref["$ref"].rpartition("/")[2]]["name"],
                    parameters[ref["$ref"].rpartition("/")[2]]["in"],
                )
                for ref in operation["parameters"]
                if "$ref" in ref
            }
            expected = {
                (name, where) for name in CONTROLS + REPLY_CONTROLS for where in ("header", "query")
            }
            assert expected <= names, f"{method.upper()} {path} lacks {expected - names}"


# ---------------------------------------------------------------- the schemas and real responses


def test_record_required_fields_are_the_keys_of_a_real_echo(live: Server) -> None:
    record_schema = DOCUMENT["components"]["schemas"]["EchoRecord"]
    record = requests.get(f"{live.url}/anything?a=1", timeout=5).json()
    assert list(record) == record_schema["required"]  # same fields, same order
    optional = {"json_error", "content_encoding", "decoded_size", "encoding_error", "form_error"}
    optional.add("calls")  # only in /call's answer
    optional.add("tls")  # only over echoscope's own TLS listener (tests/integration/container)
    assert set(record_schema["properties"]) == {*record_schema["required"], *optional}
    assert "truncated" not in record_schema["properties"]
    assert record_schema["additionalProperties"] is False


def test_json_error_is_an_optional_field(live: Server) -> None:
    record_schema = DOCUMENT["components"]["schemas"]["EchoRecord"]
    record = requests.post(
        f"{live.url}/anything",
        data=b"{broken",
        headers={"Content-Type": "application/json"},
        timeout=5,
    ).json()
    assert set(record) - set(record_schema["required"]) == {"json_error"}
    validator("EchoRecord").validate(record)


def _record_requests(url: str) -> list[requests.Response]:
    big = b"z" * 10_000  # over ECHO_LOG_BODY_BYTES: the log truncates, the response never does
    return [
        requests.get(f"{url}/", timeout=5),
        requests.get(f"{url}/anything/a/b?x=1&x=2&token=t", cookies={"c": "v"}, timeout=5),
        requests.post(f"{url}/anything", json={"deep": [1, {"x": None}]}, timeout=5),
        requests.post(f"{url}/anything", data=b"\xff\xfe binary", timeout=5),
        requests.post(
            f"{url}/anything",
            data=gzip.compress(b'{"a": 1}'),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            timeout=5,
        ),
        requests.post(
            f"{url}/anything",
            data=b"\x1f\x8b broken",
            headers={"Content-Encoding": "gzip"},
            timeout=5,
        ),
        requests.post(
            f"{url}/anything",
            data=b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nno end",
            headers={"Content-Type": "multipart/form-data; boundary=b"},
            timeout=5,
        ),
        requests.post(f"{url}/anything", data=big, timeout=5),
        requests.put(f"{url}/some/where", data={"f": ["1", "2"], "g": "3"}, timeout=5),
        requests.post(
            f"{url}/anything",
            files={"up": ("a.bin", b"\x00\x01", "application/octet-stream")},
            data={"n": "v"},
            timeout=5,
        ),
        requests.post(f"{url}/anything", data=iter([b"chunk", b"ed"]), timeout=5),
        requests.request("PROPFIND", f"{url}/dav", timeout=5),
        requests.get(f"{url}/status/418", timeout=5),
        requests.get(f"{url}/delay/0.05", timeout=5),
        requests.get(f"{url}/anything", params={STATUS: "503"}, timeout=5),
        requests.get(
            f"{url}/anything",
            headers={"traceparent": TRACEPARENT},
            timeout=5,
        ),
    ]


def test_real_echo_responses_validate_against_the_record_schema(live: Server) -> None:
    record = validator("EchoRecord")
    for response in _record_requests(live.url):
        body = response.json()
        errors = [f"{error.instance_path}: {error.message}" for error in record.iter_errors(body)]
        assert not errors, f"{response.request.method} {response.request.url}: {errors}"
        assert response.headers["X-Request-Id"] == body["uuid"]
        assert re.fullmatch(
            r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", response.headers["traceresponse"]
        )


@pytest.mark.parametrize(
    ("method", "path", "params", "headers", "status"),
    [
        ("GET", "/status/abc", {}, {}, 400),
        ("GET", "/status/600", {}, {}, 400),
        ("GET", "/delay/-1", {}, {}, 400),
        ("GET", "/anything", {STATUS: "abc"}, {}, 400),
        ("GET", "/anything", {}, {DELAY: "-1"}, 400),
        ("GET", "/anything", {CONTENT_TYPE: "no type"}, {}, 400),
        ("POST", "/health", {}, {}, 405),
        ("DELETE", "/metrics", {}, {}, 405),
        ("PUT", "/openapi.json", {}, {}, 405),
    ],
)
def test_error_responses_validate_against_the_error_schema(
    live: Server,
    method: str,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    status: int,
) -> None:
    response = requests.request(
        method, f"{live.url}{path}", params=params, headers=headers, timeout=5
    )
    assert response.status_code == status
    validator("Error").validate(response.json())
    assert response.json()["status"] == status


def test_health_validates(live: Server) -> None:
    validator("Health").validate(requests.get(f"{live.url}/health", timeout=5).json())


# ---------------------------------------------------------------- the controls, both ways

_BAD_CONTROL_VALUES = {
    STATUS: ["abc", "99", "199", "600", "1000", "-200", "250.5", "", "\uff12\uff10\uff10"],
    DELAY: ["-1", "-0.5", "abc", "1e400", "inf", "", "\u0661\u0660"],
    CONTENT_TYPE: ["not a type", "text", "text/", "/plain", "text/plain;", "text/plain; charset"],
}
_GOOD_CONTROL_VALUES = {
    STATUS: ["200", "201", "404", "418", "599"],
    DELAY: ["0", "1", "2.5", "100000"],
    CONTENT_TYPE: [
        "text/plain",
        "application/json",
        "text/csv; charset=utf-8",
        "application/a.b-c+json",
    ],
}


def _parameter_schema(name: str) -> jsonschema_rs.Validator:
    parameters = DOCUMENT["components"]["parameters"]
    (schema,) = {json.dumps(p["schema"]) for p in parameters.values() if p["name"] == name}
    return jsonschema_rs.validator_for(json.loads(schema))


def _as_documented(name: str, raw: str) -> Any:
    """The value a client serialising from the document would have started from."""
    if name == CONTENT_TYPE:
        return raw
    try:
        number = json.loads(raw)
    except ValueError:
        return raw
    return number if isinstance(number, int | float) and not isinstance(number, bool) else raw


@pytest.mark.parametrize("where", ["query", "header"])
@pytest.mark.parametrize("name", CONTROLS)
def test_control_values_the_document_rejects_give_400(live: Server, name: str, where: str) -> None:
    schema = _parameter_schema(name)
    for raw in _BAD_CONTROL_VALUES[name]:
        if where == "header" and (not raw or not raw.isascii()):
            continue  # an empty or non-Latin-1 header is not a value a client can send
        assert not schema.is_valid(_as_documented(name, raw)), f"the document accepts {raw!r}"
        kwargs: dict[str, Any] = (
            {"params": {name: raw}} if where == "query" else {"headers": {name: raw}}
        )
        response = requests.get(f"{live.url}/anything", timeout=5, **kwargs)
        assert response.status_code == 400, f"{where} {name}={raw!r}: {response.status_code}"
        assert name in response.json()["detail"]


@pytest.mark.parametrize("where", ["query", "header"])
@pytest.mark.parametrize("name", CONTROLS)
def test_control_values_the_document_accepts_are_obeyed(
    live: Server, name: str, where: str
) -> None:
    schema = _parameter_schema(name)
    for raw in _GOOD_CONTROL_VALUES[name]:
        assert schema.is_valid(_as_documented(name, raw)), f"the document rejects {raw!r}"
        kwargs: dict[str, Any] = (
            {"params": {name: raw}} if where == "query" else {"headers": {name: raw}}
        )
        response = requests.get(f"{live.url}/anything", timeout=5, **kwargs)
        if name == STATUS:
            assert response.status_code == int(raw)
        else:
            assert response.status_code == 200
        if name == CONTENT_TYPE:
            assert response.headers["Content-Type"] == raw


def test_the_query_control_wins_over_the_header(live: Server) -> None:
    response = requests.get(
        f"{live.url}/anything", params={STATUS: "202"}, headers={STATUS: "abc"}, timeout=5
    )
    assert response.status_code == 202  # as the header parameters' description says


def test_delay_past_the_setting_is_a_400(live: Server) -> None:
    response = requests.get(f"{live.url}/delay/3600", timeout=5)  # would time out if slept
    assert response.status_code == 400
    validator("Error").validate(response.json())


# ---------------------------------------------------------------- schemathesis against the live server


@pytest.fixture(scope="module")
def api_schema(live: Server) -> Any:
    """The document as the live server serves it, with a bounded positive run."""
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    schema.config.update(base_url=live.url)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, modes=["positive"])
    return schema


OPERATIONS = [
    (method.upper(), path)
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if method != "description"
]


def _sent_controls(case: Any) -> dict[str, str]:
    """The controls a case sends; the query parameter wins, as in service/echo/control.py."""
    sent: dict[str, str] = {}
    for name in CONTROLS + REPLY_CONTROLS:
        headers = {key.lower(): value for key, value in (case.headers or {}).items()}
        query = case.query or {}
        if name in query:
            sent[name] = str(query[name])
        elif name in headers:
            sent[name] = str(headers[name])
    return sent


def _refused_reply(controls: dict[str, str], response: Any) -> bool:
    """A written header the document's pattern allows may be refused by a rule its words state."""
    if response.status_code != 400 or not any(name in controls for name in REPLY_CONTROLS):
        return False
    error = json.loads(response.content)
    validator("Error").validate(error)
    if any(name in error["detail"] for name in REPLY_CONTROLS):
        return True
    return error["detail"].startswith(CONTENT_TYPE) or STATUS in error["detail"]


def _check_written(case: Any, controls: dict[str, str], response: Any, asked: int | None) -> None:
    if asked in (204, 304) or case.method == "HEAD" or controls[BODY].startswith("base64:"):
        return
    header = {key.lower(): value for key, value in (case.headers or {}).items()}
    from_query = BODY in (case.query or {})
    expected = controls[BODY].encode() if from_query else header[BODY].encode("latin-1")
    assert response.content == expected


def _asked_status(case: Any, controls: dict[str, str]) -> int | None:
    if CONTENT_TYPE in controls and not mediatypes.is_safe(controls[CONTENT_TYPE]):
        return 400  # active content is refused before any other control applies
    if case.operation.path == "/status/{code}":
        return int(case.path_parameters["code"])
    if STATUS in controls:
        return int(float(controls[STATUS]))
    return None


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_schemathesis_live_server_conforms(api_schema: Any, method: str, path: str) -> None:
    """No 5xx unless asked for; the status asked for; every response as documented."""
    operation = api_schema[path][method]
    httpbin = "httpbin" in DOCUMENT["paths"][path][method.lower()]["tags"]

    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=HTTPBIN_EXAMPLES if httpbin else MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        database=None,
        phases=[
            hypothesis.Phase.explicit,
            hypothesis.Phase.generate,
        ],  # no shrinking: report as found
    )
    def conforms(case: Any) -> None:
        _check(case, case.call(timeout=10))

    conforms()


def _check(case: Any, response: Any) -> None:
    controls = _sent_controls(case)
    asked = _asked_status(case, controls)
    # Judged here rather than by schemathesis: a 4xx or 5xx may be what the case asked for.
    excluded = [schemathesis.checks.not_a_server_error]
    if case.operation.path in FAILS_ON_PURPOSE and response.status_code == 500:
        validator("Error").validate(json.loads(response.content))
        return
    if case.operation.path in JSON_LINES and response.status_code == 200:
        (content,) = DOCUMENT["paths"][case.operation.path]["get"]["responses"]["200"][
            "content"
        ].values()
        line = jsonschema_rs.validator_for(content["schema"])
        for text in response.content.splitlines():
            line.validate(json.loads(text))
        return
    if case.operation.path in NEEDS_AN_UPGRADE:
        assert response.status_code == 400, response.text[:500]
        validator("Error").validate(json.loads(response.content))
        return
    refused_type = CONTENT_TYPE in controls and not mediatypes.is_safe(controls[CONTENT_TYPE])
    if case.operation.path in BOUNDED_BY_A_SETTING and response.status_code == 400:
        detail = json.loads(response.content)["detail"]
        assert "maximum" in detail or (refused_type and CONTENT_TYPE in detail), detail
        return
    if asked is not None:
        assert response.status_code == asked, f"asked for {asked}"
        excluded.append(positive_data_acceptance)
    else:
        assert response.status_code < 500, response.text[:500]
    if asked == 400 and refused_type:
        validator("Error").validate(json.loads(response.content))
        return
    if _refused_reply(controls, response):
        return
    if BODY in controls:
        # The caller wrote the body: it is sent as written (its type checked by hand).
        excluded += [content_type_conformance, response_schema_conformance]
        _check_written(case, controls, response, asked)
    elif CONTENT_TYPE in controls:
        # The control changes the Content-Type (not the body): check both by hand.
        assert response.headers["content-type"] == [controls[CONTENT_TYPE]]
        excluded += [content_type_conformance, response_schema_conformance]
        if response.content:
            validator("EchoRecord").validate(json.loads(response.content))
    case.validate_response(response, excluded_checks=excluded)
