"""Metrics (SPEC §5): names, labels, buckets, bounded series, exemplars, build info."""

from __future__ import annotations

import platform
import random
import string
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import service
from service.exchange import routing
from tests.support.constants import TRACE_ID, TRACEPARENT, UNSAMPLED_TRACEPARENT
from tests.unit.conftest import Echo, MakeEcho

DURATION = "http_server_request_duration_seconds"
REQUEST_SIZE = "http_server_request_body_size_bytes"
RESPONSE_SIZE = "http_server_response_body_size_bytes"
ACTIVE = "http_server_active_requests"
HTTP_LABELS = {
    "http_request_method",
    "http_route",
    "http_response_status_code",
    "url_scheme",
    "error_type",
    "network_protocol_version",
}
SPEC_DURATION_BUCKETS = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
]  # fmt: skip
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _labels(method: str, route: str, status: int, error_type: str | None = None) -> dict[str, str]:
    return {
        "http_request_method": method,
        "http_route": route,
        "http_response_status_code": str(status),
        "url_scheme": "http",
        "error_type": (str(status) if status >= 500 else "") if error_type is None else error_type,
        "network_protocol_version": "1.1",  # the test client's HTTP/1.1
    }


def _count(echo: Echo, method: str, route: str, status: int, name: str = DURATION) -> float:
    value = echo.registry.get_sample_value(f"{name}_count", _labels(method, route, status))
    return value or 0.0


def _samples(echo: Echo, metric: str, suffix: str = "") -> list[Sample]:
    return [
        sample
        for family in echo.registry.collect()
        if family.name == metric
        for sample in family.samples
        if sample.name == metric + suffix
    ]


def _openmetrics_buckets(echo: Echo, route: str, status: int) -> list[Sample]:
    text = echo.client.get("/metrics", headers={"Accept": OPENMETRICS}).get_data(as_text=True)
    return [
        sample
        for family in text_string_to_metric_families(text)
        if family.name == DURATION
        for sample in family.samples
        if sample.name == f"{DURATION}_bucket"
        and sample.labels["http_route"] == route
        and sample.labels["http_response_status_code"] == str(status)
    ]


# --- names, labels, buckets ----------------------------------------------------------


@pytest.mark.parametrize("name", [DURATION, REQUEST_SIZE, RESPONSE_SIZE])
def test_histograms_have_the_http_labels(echo: Echo, name: str) -> None:
    echo.client.get("/status/201")
    (family,) = [family for family in echo.registry.collect() if family.name == name]
    assert family.type == "histogram"
    (count,) = [sample for sample in family.samples if sample.name == f"{name}_count"]
    assert set(count.labels) == HTTP_LABELS


def test_duration_buckets_are_those_of_the_spec(echo: Echo) -> None:
    echo.client.get("/status/201")
    buckets = [
        sample.labels["le"]
        for sample in _samples(echo, DURATION, "_bucket")
        if sample.labels["http_response_status_code"] == "201"
    ]
    assert buckets == [str(bound) for bound in SPEC_DURATION_BUCKETS] + ["+Inf"]


def test_active_requests_is_a_gauge_by_method_and_scheme(echo: Echo) -> None:
    echo.client.get("/anything")
    (family,) = [family for family in echo.registry.collect() if family.name == ACTIVE]
    assert family.type == "gauge"
    assert {frozenset(sample.labels) for sample in family.samples} == {
        frozenset({"http_request_method", "url_scheme"})
    }


def test_build_info_is_one_with_version_python_and_revision(echo: Echo) -> None:
    labels = {
        "version": service.__version__,
        "python_version": platform.python_version(),
        "revision": "",
    }
    assert echo.registry.get_sample_value("echoscope_build_info", labels) == 1.0


def test_build_info_names_the_cloud_run_revision(make_echo: MakeEcho) -> None:
    echo = make_echo({"K_SERVICE": "svc", "K_REVISION": "svc-00007"})
    labels = {
        "version": service.__version__,
        "python_version": platform.python_version(),
        "revision": "svc-00007",
    }
    assert echo.registry.get_sample_value("echoscope_build_info", labels) == 1.0


def test_process_metrics_with_one_worker(echo: Echo) -> None:
    assert echo.registry.get_sample_value("process_cpu_seconds_total") is not None


# --- counting ----------------------------------------------------------------------------


def test_count_grows_by_exactly_n(echo: Echo) -> None:
    for _ in range(7):
        echo.client.get("/status/201")
    assert _count(echo, "GET", "/status/<code>", 201) == 7
    assert _count(echo, "GET", "/status/<code>", 201, REQUEST_SIZE) == 7
    assert _count(echo, "GET", "/status/<code>", 201, RESPONSE_SIZE) == 7


def test_each_status_is_its_own_series(echo: Echo) -> None:
    echo.client.get("/status/404")
    echo.client.get("/status/503")
    echo.client.get("/status/503")
    assert _count(echo, "GET", "/status/<code>", 404) == 1
    assert _count(echo, "GET", "/status/<code>", 503) == 2


def test_body_sizes_are_observed(echo: Echo) -> None:
    response = echo.client.post("/anything", data="x" * 300)
    labels = _labels("POST", "/anything", 200)
    assert echo.registry.get_sample_value(f"{REQUEST_SIZE}_sum", labels) == 300
    assert echo.registry.get_sample_value(f"{RESPONSE_SIZE}_sum", labels) == len(response.data)


@pytest.mark.parametrize(
    ("path", "route", "status"),
    [
        ("/anything?x-set-response-status-code=abc", "/anything", 400),
        ("/status/abc", "/status/<code>", 400),
        ("/health", "/health", 405),
    ],
)
def test_request_body_size_of_a_rejected_request(
    echo: Echo, path: str, route: str, status: int
) -> None:
    assert echo.client.post(path, data="x" * 50).status_code == status
    labels = _labels("POST", route, status)
    assert echo.registry.get_sample_value(f"{REQUEST_SIZE}_sum", labels) == 50


def test_errors_are_counted(echo: Echo) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    echo.app.add_url_rule("/boom", "boom", boom)
    echo.client.get("/boom")
    echo.client.get("/status/abc")
    assert _count(echo, "GET", "/boom", 500) == 0  # not labelled as a plain 500 ...
    labels = _labels("GET", "/boom", 500, error_type="RuntimeError")  # ... but by its type
    assert echo.registry.get_sample_value(f"{DURATION}_count", labels) == 1
    assert _count(echo, "GET", "/status/<code>", 400) == 1


def test_error_type_is_the_status_of_a_5xx_and_empty_otherwise(echo: Echo) -> None:
    echo.client.get("/status/503")
    echo.client.get("/status/404")
    assert _count(echo, "GET", "/status/<code>", 503, DURATION) == 1  # error_type="503"
    assert _count(echo, "GET", "/status/<code>", 404, DURATION) == 1  # error_type=""
    wrong = _labels("GET", "/status/<code>", 503, error_type="")
    assert echo.registry.get_sample_value(f"{DURATION}_count", wrong) is None


def test_url_scheme_label_follows_the_trusted_proxy(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_TRUSTED_PROXY_HOPS": "1"})
    echo.client.get("/anything", headers={"X-Forwarded-Proto": "https"})
    labels = {**_labels("GET", "/anything", 200), "url_scheme": "https"}
    assert echo.registry.get_sample_value(f"{DURATION}_count", labels) == 1


def test_413_is_counted(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_MAX_BODY_BYTES": "4"})
    echo.client.post("/anything/x", data="too long")
    assert _count(echo, "POST", "/anything/<path:path>", 413) == 1


# --- bounded labels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/status/418", "/status/<code>"),
        ("/delay/0", "/delay/<seconds>"),
        ("/anything", "/anything"),
        ("/anything/a/b", "/anything/<path:path>"),
        ("/some/raw/path-123", "/<path:path>"),
        ("/", "/"),
    ],
)
def test_route_label_is_the_rule_template(echo: Echo, path: str, route: str) -> None:
    echo.client.get(path)
    routes = {sample.labels["http_route"] for sample in _samples(echo, DURATION, "_count")}
    assert routes == {route}


def test_route_label_never_holds_the_raw_path(echo: Echo) -> None:
    # A token no metric value can contain (a number like 12345 can, in process_* values).
    echo.client.get("/users/raw-path-token/orders")
    text = echo.client.get("/metrics").get_data(as_text=True)
    assert "raw-path-token" not in text


@pytest.mark.parametrize("method", ["FOO", "PROPFIND", "BREW"])
def test_unknown_method_is_other(echo: Echo, method: str) -> None:
    echo.client.open("/x", method=method)
    assert _count(echo, "_OTHER", "/<path:path>", 200) == 1


@pytest.mark.parametrize("method", sorted(routing.KNOWN_METHODS - {"CONNECT"}))
def test_known_method_is_its_own_label(echo: Echo, method: str) -> None:
    echo.client.open("/x", method=method)
    assert _count(echo, method, "/<path:path>", 200) == 1


def test_random_paths_and_methods_add_a_bounded_number_of_series(echo: Echo) -> None:
    rng = random.Random(7)
    letters = string.ascii_letters + string.digits
    for _ in range(300):
        method = rng.choice(["GET", "POST", "".join(rng.choices(string.ascii_uppercase, k=6))])
        path = "/" + "/".join("".join(rng.choices(letters, k=8)) for _ in range(rng.randint(1, 4)))
        assert echo.client.open(path, method=method).status_code == 200
    series = {tuple(sorted(s.labels.items())) for s in _samples(echo, DURATION, "_count")}
    assert len(series) <= 3
    total = sum(s.value for s in _samples(echo, DURATION, "_count"))
    assert total == 300


def test_active_requests_back_to_zero_after_requests(echo: Echo) -> None:
    echo.client.get("/anything")
    echo.client.post("/status/500")
    echo.client.open("/x", method="FOO")
    echo.client.get("/status/abc")
    values = {s.labels["http_request_method"]: s.value for s in _samples(echo, ACTIVE)}
    assert values and set(values.values()) == {0.0}


def test_active_requests_counts_the_request_in_flight(echo: Echo) -> None:
    seen: list[float | None] = []

    def inside() -> str:
        seen.append(
            echo.registry.get_sample_value(
                ACTIVE, {"http_request_method": "PUT", "url_scheme": "http"}
            )
        )
        return "ok"

    echo.app.add_url_rule("/inside", "inside", inside, methods=["PUT"])
    echo.client.put("/inside")
    assert seen == [1.0]
    assert (
        echo.registry.get_sample_value(ACTIVE, {"http_request_method": "PUT", "url_scheme": "http"})
        == 0.0
    )


def test_active_requests_back_to_zero_after_an_exception(echo: Echo) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    echo.app.add_url_rule("/boom", "boom", boom)
    echo.client.get("/boom")
    assert (
        echo.registry.get_sample_value(ACTIVE, {"http_request_method": "GET", "url_scheme": "http"})
        == 0.0
    )


# --- exposition ----------------------------------------------------------------------------


def test_metrics_is_prometheus_text_by_default(echo: Echo) -> None:
    echo.client.get("/status/201")
    response = echo.client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    assert f"# TYPE {DURATION} histogram" in text
    assert " # {" not in text


def test_metrics_negotiates_openmetrics(echo: Echo) -> None:
    echo.client.get("/status/201")
    response = echo.client.get("/metrics", headers={"Accept": OPENMETRICS})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_sampled_request_leaves_an_exemplar(echo: Echo) -> None:
    record = echo.client.get("/status/201", headers={"traceparent": TRACEPARENT}).json
    exemplars = [
        s.exemplar for s in _openmetrics_buckets(echo, "/status/<code>", 201) if s.exemplar
    ]
    assert len(exemplars) == 1
    assert exemplars[0].labels == {"trace_id": TRACE_ID, "span_id": record["trace"]["span_id"]}


def test_unsampled_request_leaves_no_exemplar(echo: Echo) -> None:
    echo.client.get("/status/202", headers={"traceparent": UNSAMPLED_TRACEPARENT})
    buckets = _openmetrics_buckets(echo, "/status/<code>", 202)
    assert buckets
    assert [s for s in buckets if s.exemplar] == []


def test_no_exemplar_without_tracing(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_SDK_DISABLED": "true"})
    echo.client.get("/status/201")
    buckets = _openmetrics_buckets(echo, "/status/<code>", 201)
    assert buckets
    assert [s for s in buckets if s.exemplar] == []


def test_metrics_disabled_records_nothing(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_METRICS": "false"})
    echo.client.get("/status/201")
    echo.client.get("/anything")
    assert _samples(echo, DURATION, "_count") == []
    assert _samples(echo, ACTIVE) == []
    assert echo.client.get("/metrics").status_code == 200


def test_each_app_has_its_own_registry(make_echo: MakeEcho) -> None:
    first = make_echo()
    first.client.get("/status/201")
    second = make_echo()
    assert second.registry is not first.registry
    assert _count(second, "GET", "/status/<code>", 201) == 0


def test_a_metrics_file_still_empty_does_not_fail_the_scrape(tmp_path: Path) -> None:
    # A worker creates its file before sizing it (prometheus/client_python#1199).
    from prometheus_client import CollectorRegistry, values
    from prometheus_client.mmap_dict import MmapedDict

    from service.telemetry.promfiles import SettledFilesCollector

    written = MmapedDict(str(tmp_path / "counter_1.db"))
    written.write_value(
        values.mmap_key("c_total", "c_total", (), (), "c"), 3.0, 0.0
    )  # a real worker's value
    written.close()
    (tmp_path / "histogram_2.db").write_bytes(b"")  # a worker in the instant after open()
    registry = CollectorRegistry()
    SettledFilesCollector(registry, path=str(tmp_path))
    samples = [s for family in registry.collect() for s in family.samples]
    assert [(s.name, s.value) for s in samples] == [("c_total", 3.0)]


# --- target_info ---------------------------------------------------------------------------


def test_target_info_is_the_resource_without_the_worker(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_SERVICE_NAME": "echo-ti"})
    (sample,) = _samples(echo, "target_info")
    assert sample.value == 1.0
    assert sample.labels["service_name"] == "echo-ti"
    assert sample.labels["telemetry_sdk_language"] == "python"
    assert "service_instance_id" not in sample.labels
