"""Every query of every dashboard, answered by a real Prometheus that scraped echoscope.

Two echoscope servers run under mixed load: one worker (exemplars, process
metrics) and two workers (multiprocess mode), as two revisions. Debian's
`prometheus` scrapes both every second with exemplar storage on, from the
shipped config/prometheus/prometheus.yml with the targets replaced. Each panel
target and each variable query is then sent to the HTTP API with the template
variables set as Grafana's "All" sets them, and must parse and return data.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.integration.conftest import MakeServer
from tests.support.listener import Listener, Received, send
from tests.support.server import ROOT, Server, free_port

DASHBOARDS = ROOT / "dashboards"
PROMETHEUS_CONFIG = ROOT / "config" / "prometheus" / "prometheus.yml"
ALL = ".*"  # the allValue of the job, instance and route variables
BUILTINS = {  # Grafana's built-in variables, for a 1 s scrape interval
    "__rate_interval": "15s",
    "__interval": "5s",
    "__interval_ms": "5000",
    "__range": "1m",
    "__range_s": "60",
    "__range_ms": "60000",
}
# Only one worker has them: prometheus-client's multiprocess mode keeps no process metrics.
ONE_WORKER_ONLY = re.compile(r"\b(?:process|python)_\w+\{")
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$"
)


# -- the dashboards, walked as Grafana walks them ---------------------------------------------


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboards/*.json by file stem."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def panel_targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query target of the dashboard."""
    for panel in walk_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            yield panel, target


def variable_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, query) of every query-type template variable."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            yield variable["name"], query["query"] if isinstance(query, dict) else query


def substitute(text: str, values: dict[str, str]) -> str:
    """Interpolate $var and ${var[:format]}; unknown names (label_replace's ${1}) stay."""

    def value(match: re.Match[str]) -> str:
        return values.get(match.group(1) or match.group(2), match.group(0))

    return _VARIABLE.sub(value, text)


def promql_regex(value: str) -> str:
    """A literal value as Grafana puts it in a PromQL regex matcher."""
    return re.escape(value).replace("\\", "\\\\")


def _cases() -> list[Any]:
    return [
        pytest.param(name, panel["title"], target, id=f"{name}/{panel['title']}/{target['refId']}")
        for name, dashboard in load_dashboards().items()
        for panel, target in panel_targets(dashboard)
    ]


def _variable_cases() -> list[Any]:
    return [
        pytest.param(query, id=f"{name}/{variable}")
        for name, dashboard in load_dashboards().items()
        for variable, query in variable_queries(dashboard)
    ]


# -- the stack: two echoscope servers, load, Prometheus ---------------------------------------


@dataclasses.dataclass
class Stack:
    prometheus: str
    one_worker: Server
    two_workers: Server

    def instance(self, server: Server) -> str:
        return f"127.0.0.1:{server.port}"

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1/<path>; the `data` of a successful answer, else fail with the error."""
        answer = requests.get(f"{self.prometheus}/api/v1/{path}", params=params, timeout=10)
        body = answer.json()
        assert body.get("status") == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr} gave {data['resultType']}"
        return data["result"]  # type: ignore[no-any-return]


def _start_prometheus(
    targets: list[str], workdir: Path
) -> tuple[subprocess.Popen[bytes], str, Path]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(
            "Debian's `prometheus` is not on PATH: the dashboard proof needs a real Prometheus. "
            "Install it with `apt-get install prometheus` (`make tools` does it)."
        )
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s")
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "echoscope"]
    assert jobs, "config/prometheus/prometheus.yml has no echoscope job"
    jobs[0]["static_configs"] = [{"targets": targets}]
    config["scrape_configs"] = jobs
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--enable-feature=exemplar-storage",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"prometheus exited {proc.returncode}:\n{log.read_text()}"
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return proc, url, log
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"prometheus not ready in 20 s:\n{log.read_text()}")


_MIX: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/", {}),
    ("GET", "/anything/a/b?x=1&x=2", {}),
    ("POST", "/anything", {"data": b"x" * 3000}),
    ("PUT", "/anything/put", {"json": {"hello": "world", "n": list(range(50))}}),
    ("GET", "/status/404", {}),
    ("GET", "/status/503", {}),
    ("GET", "/status/201", {}),
    ("DELETE", "/some/other/path", {}),
    ("BREW", "/coffee", {}),  # an unknown method: http_request_method="_OTHER"
    ("GET", "/get?x=1", {}),  # httpbin's endpoints: each under its own route template
    ("GET", "/bytes/512", {}),
    ("GET", "/stream/3", {}),
    (
        "GET",
        "/redirect/2",
        {"allow_redirects": False},
    ),  # an unknown method: http_request_method="_OTHER"
    ("GET", "/health", {}),
]
_DELAYS: list[tuple[str, str, dict[str, Any]]] = [("GET", "/delay/0.2", {})]  # a thread of its own


def _drive(url: str, stop: threading.Event, mix: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Send the mix round and round until told to stop; a refused request is just retried."""
    with requests.Session() as session:
        while not stop.is_set():
            for method, path, kwargs in mix:
                try:
                    session.request(method, url + path, timeout=5, **kwargs)
                except requests.RequestException:
                    time.sleep(0.05)
            stop.wait(0.02)


def _wait_for_data(stack: Stack, timeout: float = 45) -> None:
    """Poll until every instance has enough scrapes and traffic for rate() over the window."""
    window = BUILTINS["__rate_interval"]
    ready = {
        "scrapes": f'min by (instance) (count_over_time(up{{job="echoscope"}}[{window}])) >= 4',
        "5xx": f'sum by (instance) (rate(http_server_request_duration_seconds_count{{http_response_status_code="503"}}[{window}])) > 0',
        "delays": f'sum by (instance) (rate(http_server_request_duration_seconds_count{{http_route="/delay/<seconds>"}}[{window}])) > 0',
        "traffic": f"sum by (instance) (rate(http_server_request_duration_seconds_count[{window}])) > 0",
        "calls": f"sum by (instance) (rate(http_client_request_duration_seconds_count[{window}])) > 0",
    }
    deadline = time.monotonic() + timeout
    missing: dict[str, int] = {}
    while time.monotonic() < deadline:
        missing = {name: len(stack.query(expr)) for name, expr in ready.items()}
        missing = {name: found for name, found in missing.items() if found < 2}
        if not missing:
            return
        time.sleep(0.5)
    raise AssertionError(f"no data for both instances after {timeout} s: {missing}")


def _calls_mix(downstream: str) -> list[tuple[str, str, dict[str, Any]]]:
    """/call traffic (a thread of its own): http_client_request_duration_seconds by target."""
    return [("GET", f"/call?url={downstream}/ok", {}), ("GET", f"/call?url={downstream}/fail", {})]


def _downstream_answer(_: Listener, received: Received, handler: BaseHTTPRequestHandler) -> None:
    status = 503 if received.path.startswith("/fail") else 200
    send(handler, status, b'{"ok": true}', "application/json")


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, make_module_server: MakeServer
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("prometheus")
    downstream = Listener(_downstream_answer)  # what /call calls: 200 on /ok, 503 on /fail
    servers: list[Server] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []
    proc = None
    try:
        calls = {"ECHO_CALL_TARGETS": downstream.url}
        servers.append(
            make_module_server({"K_REVISION": "echoscope-00001-one", **calls}, workers=1)
        )
        servers.append(
            make_module_server({"K_REVISION": "echoscope-00002-two", **calls}, workers=2)
        )
        for server in servers:
            for mix in (_MIX, _DELAYS, _calls_mix(downstream.url)):
                threads.append(
                    threading.Thread(target=_drive, args=(server.url, stop, mix), daemon=True)
                )
        for thread in threads:
            thread.start()
        proc, url, log = _start_prometheus([f"127.0.0.1:{s.port}" for s in servers], workdir)
        running = Stack(url, *servers)
        try:
            _wait_for_data(running)
        except AssertionError as error:
            raise AssertionError(f"{error}\nprometheus log:\n{log.read_text()[-3000:]}") from None
        yield running
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        downstream.close()


def _values(instance: str = ALL) -> dict[str, str]:
    return {"job": ALL, "instance": instance, "route": ALL, **BUILTINS}


def _has_data(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(sample["value"][1])) for sample in result)


# -- the proof ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("dashboard", "panel", "target"), _cases())
def test_every_panel_query_returns_data(
    stack: Stack, dashboard: str, panel: str, target: dict[str, Any]
) -> None:
    expr = substitute(target["expr"], _values())
    result = stack.query(expr)
    assert _has_data(result), f"{dashboard} / {panel}: no data for\n{expr}\n-> {result}"


@pytest.mark.parametrize(("dashboard", "panel", "target"), _cases())
def test_every_panel_query_returns_data_for_a_multiprocess_instance(
    stack: Stack, dashboard: str, panel: str, target: dict[str, Any]
) -> None:
    """The same query with $instance set to the two-worker server only."""
    instance = promql_regex(stack.instance(stack.two_workers))
    expr = substitute(target["expr"], _values(instance))
    result = stack.query(expr)
    if ONE_WORKER_ONLY.search(target["expr"]):
        assert result == [], f"{panel}: process metrics from a multiprocess instance?\n{result}"
    else:
        assert _has_data(result), f"{dashboard} / {panel}: no data for\n{expr}\n-> {result}"


@pytest.mark.parametrize("query", _variable_cases())
def test_every_variable_query_returns_values(stack: Stack, query: str) -> None:
    parsed = _LABEL_VALUES.match(query)
    assert parsed, f"not a label_values() query: {query}"
    params = {"match[]": substitute(parsed["match"], _values())} if parsed["match"] else {}
    values = stack.api(f"label/{parsed['label']}/values", **params)
    assert values, f"{query} found no values"


def test_the_variables_offer_the_jobs_instances_and_route_templates(stack: Stack) -> None:
    queries = dict(variable_queries(load_dashboards()["echoscope-overview"]))
    found = {}
    for name in ("job", "instance", "route"):
        parsed = _LABEL_VALUES.match(queries[name])
        assert parsed
        found[name] = set(
            stack.api(
                f"label/{parsed['label']}/values",
                **{"match[]": substitute(parsed["match"], _values())},
            )
        )
    assert found["job"] == {"echoscope"}
    assert found["instance"] == {
        stack.instance(stack.one_worker),
        stack.instance(stack.two_workers),
    }
    assert {"/", "/anything", "/anything/<path:path>", "/status/<code>", "/delay/<seconds>",
            "/<path:path>", "/health", "/metrics", "/get", "/bytes/<n>", "/stream/<n>",
            "/redirect/<n>"} <= found["route"]  # fmt: skip
    assert not {route for route in found["route"] if re.search(r"/\d|coffee|other", route)}, found


def test_revisions_are_joined_to_their_instances(stack: Stack) -> None:
    """The instances-and-revisions dashboard sees both revisions, each with its traffic."""
    targets = [
        target
        for panel, target in panel_targets(load_dashboards()["echoscope-instances"])
        if panel["title"] == "Request rate per revision"
    ]
    assert targets
    result = stack.query(substitute(targets[0]["expr"], _values()))
    rates = {sample["metric"].get("revision"): float(sample["value"][1]) for sample in result}
    assert set(rates) == {"echoscope-00001-one", "echoscope-00002-two"}, rates
    assert all(rate > 0 for rate in rates.values()), rates


def test_latency_exemplars_carry_the_trace_ids_of_logged_requests(stack: Stack) -> None:
    """Exemplar targets find exemplars, and their trace_id finds the request's log lines."""
    exemplar_targets = [
        target
        for dashboard in load_dashboards().values()
        for _, target in panel_targets(dashboard)
        if target.get("exemplar")
    ]
    assert exemplar_targets, "no target has exemplars turned on"
    now = time.time()
    trace_ids: set[str] = set()
    for target in exemplar_targets:
        expr = substitute(target["expr"], _values())
        series = stack.api("query_exemplars", query=expr, start=now - 120, end=now)
        exemplars = [exemplar for one in series for exemplar in one["exemplars"]]
        assert exemplars, f"no exemplars for\n{expr}"
        for exemplar in exemplars:
            assert re.fullmatch(r"[0-9a-f]{32}", exemplar["labels"].get("trace_id", "")), exemplar
            assert re.fullmatch(r"[0-9a-f]{16}", exemplar["labels"].get("span_id", "")), exemplar
            trace_ids.add(exemplar["labels"]["trace_id"])
    logged = {
        line["request"]["trace"]["trace_id"]
        for line in stack.one_worker.exchange_lines()
        if line["request"]["trace"]
    }
    assert trace_ids & logged, "no exemplar trace_id appears in the exchange log lines"
