"""The shipped config/ and dashboards/ hang together: every file parses, every reference resolves.

promtool checks the Prometheus config; compose.yaml's mounts, build, ports and
service names are resolved against the tree; Grafana's provisioning is followed
to the dashboards it loads; the Cloud Run manifests keep Cloud Run's rules; and
the dashboards keep Grafana's current schema and echoscope's query rules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.integration.telemetry.test_dashboards import (
    DASHBOARDS,
    load_dashboards,
    panel_targets,
    variable_queries,
    walk_panels,
)
from tests.support.server import ROOT

CONFIG = ROOT / "config"
PROMETHEUS_CONFIG = CONFIG / "prometheus" / "prometheus.yml"
PROVISIONING = CONFIG / "grafana" / "provisioning"
CLOUD_RUN = CONFIG / "cloudrun"
YAML_FILES = sorted(p for p in CONFIG.rglob("*") if p.suffix in (".yml", ".yaml"))
# Ports the images listen on by default; echoscope's comes from its PORT.
IMAGE_PORTS = {  # first match wins: grafana/loki before grafana/grafana
    "loki": {3100},
    "opentelemetry-collector": {4317, 4318, 13133},
    "prometheus": {9090},
    "grafana": {3000},
    "jaeger": {16686, 4317, 4318},
}
PANEL_TYPES = {"row", "timeseries", "stat", "table", "gauge", "bargauge", "text"}
DEPRECATED_PANEL_TYPES = {"graph", "singlestat", "table-old", "grafana-piechart-panel"}
TRACE_DATASOURCES = {"jaeger", "tempo"}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml(CONFIG / "compose.yaml")  # type: ignore[no-any-return]


def _service(compose: dict[str, Any], image_part: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        s for s in compose["services"].values() if image_part in s.get("image", "")
    ]
    assert len(found) == 1, f"one service with an image like {image_part!r}: {found}"
    return found[0]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _listens_on(name: str, service: dict[str, Any]) -> set[int]:
    """The container ports a compose service listens on."""
    if "build" in service:
        return {int(_environment(service).get("PORT", "8080"))}
    for image, ports in IMAGE_PORTS.items():
        if image in service["image"]:
            flags = " ".join(service.get("command", []))
            listen = re.search(r"--web\.listen-address=\S*:(\d+)", flags)
            http_port = _environment(service).get("GF_SERVER_HTTP_PORT")
            return {int(listen[1])} if listen else {int(http_port)} if http_port else ports
    raise AssertionError(f"no known listening ports for service {name}")


def _bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of the service's bind mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/", "~")):
            mounts.append((source, target))
    return mounts


def _expand_grafana_env(text: str, env: dict[str, str]) -> str:
    """Grafana's provisioning expansion: split on `$$` (a literal `$`), then Go's os.ExpandEnv.

    os.ExpandEnv takes everything inside ${...} as the name, so an unescaped
    ${__value.raw} would become "" (no such environment variable).
    """
    expand = re.compile(r"\$\{([^}]*)\}|\$(\w+)")
    return "$".join(
        expand.sub(lambda m: env.get(m[1] if m[1] is not None else m[2], ""), part)
        for part in text.split("$$")
    )


# -- every file parses ---------------------------------------------------------------------


def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "`promtool` is not on PATH: install Debian's prometheus package (`make tools`)."
        )
    checked = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS_CONFIG)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(CONFIG)))
def test_every_yaml_file_parses(path: Path) -> None:
    assert isinstance(_yaml(path), dict), f"{path} is not a YAML mapping"


def test_there_is_yaml_to_check() -> None:
    names = {str(p.relative_to(CONFIG)) for p in YAML_FILES}
    assert {"compose.yaml", "prometheus/prometheus.yml", "cloudrun/service.yaml"} <= names


# -- compose.yaml ----------------------------------------------------------------------------


def test_compose_bind_mounts_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for source, _ in _bind_mounts(service):
            assert (CONFIG / source).exists(), f"{name} mounts {source}, missing from config/"
        for volume in service.get("volumes", []):
            if isinstance(volume, str) and not volume.startswith((".", "/", "~")):
                assert volume.split(":")[0] in compose.get("volumes", {}), volume


def test_compose_builds_echoscope_from_the_repository(compose: dict[str, Any]) -> None:
    build = compose["services"]["echoscope"]["build"]
    context = (CONFIG / build["context"]).resolve()
    assert context == ROOT
    assert (context / build.get("dockerfile", "Dockerfile")).is_file()


def test_compose_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        tag = service["image"].rpartition("/")[2].partition(":")[2]
        assert tag and tag != "latest", f"{name}: pin the image tag ({service['image']})"


def test_compose_publishes_the_ports_services_listen_on(compose: dict[str, Any]) -> None:
    expected = {"echoscope": 8080, "prometheus": 9090, "grafana": 3000}
    published: dict[str, set[int]] = {}
    for name, service in compose["services"].items():
        listening = _listens_on(name, service)
        for port in service.get("ports", []):
            container = int(str(port).split(":")[-1].split("/")[0])
            assert container in listening, f"{name} publishes {port} but listens on {listening}"
            published.setdefault(name, set()).add(container)
    for name, port in expected.items():
        assert port in published.get(name, set()), f"{name} should publish {port}"


def _collector_config(compose: dict[str, Any]) -> dict[str, Any]:
    collector = _service(compose, "opentelemetry-collector")
    flag = next(arg for arg in collector["command"] if arg.startswith("--config="))
    mounted = dict((t, s) for s, t in _bind_mounts(collector))
    return _yaml(CONFIG / mounted[flag.partition("=")[2]])  # type: ignore[no-any-return]


def test_echoscope_sends_every_signal_to_the_collector(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["echoscope"])
    assert env["OTEL_TRACES_EXPORTER"] == env["OTEL_LOGS_EXPORTER"] == "otlp"
    assert "otlp" in env["OTEL_METRICS_EXPORTER"].split(",")
    endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert endpoint.port == 4318  # OTLP/HTTP, the SDK's default protocol here
    collector = compose["services"][endpoint.hostname]
    assert "opentelemetry-collector" in collector["image"]
    receivers = _collector_config(compose)["receivers"]["otlp"]["protocols"]
    assert receivers["http"]["endpoint"].endswith(":4318")


def test_the_collector_passes_each_signal_to_a_compose_backend(compose: dict[str, Any]) -> None:
    config = _collector_config(compose)
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    backends = {"traces": "jaeger", "metrics": "prometheus", "logs": "loki"}
    for signal, pipeline in pipelines.items():
        assert pipeline["receivers"] == ["otlp"]
        for name in pipeline["processors"]:
            assert name in config["processors"], name
        (exporter,) = pipeline["exporters"]
        endpoint = config["exporters"][exporter]["endpoint"]
        url = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
        assert url.hostname == backends[signal]
        assert url.port in _listens_on(backends[signal], compose["services"][backends[signal]])
    flags = _service(compose, "prometheus")["command"]
    assert "--web.enable-otlp-receiver" in flags  # where the metrics pipeline writes


def test_prometheus_scrapes_echoscope_where_it_listens(compose: dict[str, Any]) -> None:
    jobs = {job["job_name"]: job for job in _yaml(PROMETHEUS_CONFIG)["scrape_configs"]}
    targets = [t for group in jobs["echoscope"]["static_configs"] for t in group["targets"]]
    assert targets
    for target in targets:
        host, _, port = target.partition(":")
        assert int(port) in _listens_on(host, compose["services"][host])
    assert jobs["echoscope"].get("metrics_path", "/metrics") == "/metrics"


def test_prometheus_keeps_exemplars(compose: dict[str, Any]) -> None:
    flags = _service(compose, "prometheus").get("command", [])
    assert "--enable-feature=exemplar-storage" in flags
    config_flag = next(f for f in flags if f.startswith("--config.file="))
    mounted = dict((t, s) for s, t in _bind_mounts(_service(compose, "prometheus")))
    assert (CONFIG / mounted[config_flag.partition("=")[2]]).resolve() == PROMETHEUS_CONFIG


# -- Grafana provisioning --------------------------------------------------------------------


def _grafana_host_path(compose: dict[str, Any], container_path: str) -> Path:
    """Where a path inside the Grafana container comes from on the host."""
    for source, target in _bind_mounts(_service(compose, "grafana/grafana")):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return (CONFIG / source / os.path.relpath(container_path, target)).resolve()
    raise AssertionError(f"{container_path} is not mounted into grafana")


def test_grafana_provisioning_is_mounted(compose: dict[str, Any]) -> None:
    provisioning = _grafana_host_path(compose, "/etc/grafana/provisioning")
    assert provisioning == PROVISIONING.resolve()
    assert list((provisioning / "datasources").glob("*.yml"))
    assert list((provisioning / "dashboards").glob("*.yml"))


def test_grafana_loads_the_dashboards_folder(compose: dict[str, Any]) -> None:
    providers = [
        provider
        for path in (PROVISIONING / "dashboards").glob("*.yml")
        for provider in _yaml(path)["providers"]
    ]
    assert providers
    for provider in providers:
        assert provider["type"] == "file"
        host = _grafana_host_path(compose, provider["options"]["path"])
        assert host == DASHBOARDS.resolve(), f"{provider['name']} loads {host}"
        assert list(host.glob("*.json"))


def _datasources() -> list[dict[str, Any]]:
    return [
        source
        for path in (PROVISIONING / "datasources").glob("*.yml")
        for source in _yaml(path)["datasources"]
    ]


def test_datasources_point_at_compose_services(compose: dict[str, Any]) -> None:
    for source in _datasources():
        url = urlsplit(source["url"])
        service = compose["services"][url.hostname]
        assert url.port in _listens_on(str(url.hostname), service), source["url"]


def test_exemplars_link_to_the_trace_datasource_and_to_google_cloud() -> None:
    sources = _datasources()
    traces = {s["uid"] for s in sources if s["type"] in TRACE_DATASOURCES}
    prometheus = [s for s in sources if s["type"] == "prometheus"]
    assert traces and len(prometheus) == 1
    destinations = prometheus[0]["jsonData"]["exemplarTraceIdDestinations"]
    assert all(d["name"] == "trace_id" for d in destinations)  # the exemplar label echoscope sets
    assert any(d.get("datasourceUid") in traces for d in destinations)
    urls = [_expand_grafana_env(d["url"], {"GCP_PROJECT": "p"}) for d in destinations if "url" in d]
    assert any(u.startswith("https://console.cloud.google.com/traces/") for u in urls)
    assert any(u.startswith("https://console.cloud.google.com/logs/") for u in urls)
    assert all("${__value.raw}" in u and "project=p" in u for u in urls), urls


# -- Cloud Run -------------------------------------------------------------------------------


def _env_list(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value") for item in container.get("env", [])}


@pytest.mark.parametrize("path", sorted(CLOUD_RUN.glob("service*.yaml")), ids=lambda p: p.name)
def test_cloud_run_service_manifest(path: Path) -> None:
    manifest = _yaml(path)
    assert manifest["apiVersion"] == "serving.knative.dev/v1" and manifest["kind"] == "Service"
    template = manifest["spec"]["template"]
    spec = template["spec"]
    assert isinstance(spec["containerConcurrency"], int) and spec["containerConcurrency"] > 0
    assert isinstance(spec["timeoutSeconds"], int) and 0 < spec["timeoutSeconds"] <= 3600
    containers = spec["containers"]
    ingress = [c for c in containers if c.get("ports")]
    assert len(ingress) == 1, "Cloud Run serves exactly one container with ports"
    app = ingress[0]
    assert [p["containerPort"] for p in app["ports"]] == [8080]
    assert [p["name"] for p in app["ports"]] == ["h2c"]  # end-to-end HTTP/2 (--use-http2)
    websocket_seconds = float(_env_list(app).get("ECHO_WEBSOCKET_MAX_SECONDS") or 55)
    assert spec["timeoutSeconds"] > websocket_seconds, "a session must end before Cloud Run cuts it"
    for probe in ("startupProbe", "livenessProbe"):
        assert app[probe]["httpGet"] == {"path": "/health", "port": 8080}, probe
    env = _env_list(app)
    assert "PORT" not in env, "Cloud Run sets PORT itself"
    assert env["ECHO_TRUSTED_PROXY_HOPS"] == "1"
    assert {"OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER"} <= set(env)
    for container in containers:
        for name, value in _env_list(container).items():
            assert isinstance(value, str), f"{name}: env values must be strings, not {value!r}"
    names = {c["name"] for c in containers}
    annotations = template["metadata"].get("annotations", {})
    dependencies = annotations.get("run.googleapis.com/container-dependencies")
    if dependencies:
        for sidecar, needs in json.loads(dependencies).items():
            assert {sidecar, *needs} <= names


def test_managed_prometheus_sidecar_is_an_option() -> None:
    manifest = _yaml(CLOUD_RUN / "service-with-gmp.yaml")
    containers = manifest["spec"]["template"]["spec"]["containers"]
    assert any("cloud-run-gmp-sidecar" in c["image"] for c in containers)
    monitoring = _yaml(CLOUD_RUN / "rungmp-config.yaml")
    assert monitoring["kind"] == "RunMonitoring"
    endpoints = monitoring["spec"]["endpoints"]
    app_port = next(c for c in containers if c.get("ports"))["ports"][0]["containerPort"]
    assert [(e["port"], e.get("path", "/metrics")) for e in endpoints] == [(app_port, "/metrics")]


def test_the_collector_sidecar_receives_all_three_signals_and_exports_to_google_cloud() -> None:
    manifest = _yaml(CLOUD_RUN / "service-with-collector.yaml")
    spec = manifest["spec"]["template"]["spec"]
    app = next(c for c in spec["containers"] if c.get("ports"))
    sidecar = next(c for c in spec["containers"] if "otelcol-google" in c["image"])
    env = _env_list(app)
    assert env["OTEL_TRACES_EXPORTER"] == env["OTEL_LOGS_EXPORTER"] == "otlp"
    assert "otlp" in env["OTEL_METRICS_EXPORTER"].split(",")
    assert urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).hostname == "localhost"
    mount = sidecar["volumeMounts"][0]["mountPath"]
    assert f"--config={mount}config.yaml" in sidecar["args"]
    assert sidecar["image"].rpartition(":")[2][0].isdigit()  # a pinned release
    config = _yaml(CLOUD_RUN / "collector.yaml")
    port = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).port
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(f":{port}")
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["googlecloud"]
    assert pipelines["logs"]["exporters"] == ["googlecloud"]
    assert pipelines["metrics"]["exporters"] == ["googlemanagedprometheus"]
    dependencies = json.loads(
        manifest["spec"]["template"]["metadata"]["annotations"][
            "run.googleapis.com/container-dependencies"
        ]
    )
    assert dependencies == {app["name"]: [sidecar["name"]]}  # the Collector first


# -- dashboards ------------------------------------------------------------------------------

DASHBOARD_FILES = sorted(DASHBOARDS.glob("*.json"))
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for _, target in panel_targets(dashboard)]


def _calls(expr: str, function: str) -> list[str]:
    """The argument text of every call of `function` in expr (string literals removed)."""
    code = _STRING.sub('""', expr)
    found = []
    for match in re.finditer(rf"\b{function}\s*\(", code):
        depth, start = 1, match.end()
        for index in range(start, len(code)):
            depth += {"(": 1, ")": -1}.get(code[index], 0)
            if depth == 0:
                found.append(code[start:index])
                break
    return found


@pytest.fixture(scope="module", params=DASHBOARD_FILES, ids=lambda p: p.name)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return json.loads(request.param.read_text())  # type: ignore[no-any-return]


def test_there_are_two_dashboards_with_distinct_fixed_uids() -> None:
    uids = [d.get("uid") for d in load_dashboards().values()]
    assert len(uids) >= 2 and len(set(uids)) == len(uids), uids


def test_dashboard_is_current_schema_with_a_fixed_uid(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 39
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard.get("uid") or ""), dashboard.get("uid")
    assert dashboard.get("id") is None, "no instance-specific id in a provisioned dashboard"
    assert "echoscope" in dashboard["tags"]


def test_dashboard_has_the_datasource_job_instance_and_route_variables(
    dashboard: dict[str, Any],
) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    queries = dict(variable_queries(dashboard))
    for name, label in (("job", "job"), ("instance", "instance"), ("route", "http_route")):
        assert variables[name]["datasource"]["uid"] == "${datasource}"
        assert re.fullmatch(rf"label_values\(.*, {label}\)", queries[name]), queries[name]
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"


def test_every_panel_and_target_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    variable = {"type": "prometheus", "uid": "${datasource}"}
    for panel in walk_panels(dashboard["panels"]):
        if panel["type"] != "row":
            assert panel["datasource"] == variable, panel["title"]
    for panel, target in panel_targets(dashboard):
        assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_no_deprecated_panel_types(dashboard: dict[str, Any]) -> None:
    types = {panel["type"] for panel in walk_panels(dashboard["panels"])}
    assert not types & DEPRECATED_PANEL_TYPES
    assert types <= PANEL_TYPES, types - PANEL_TYPES


def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in walk_panels(dashboard["panels"]):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_range_is_a_grafana_interval(dashboard: dict[str, Any]) -> None:
    """rate() and irate() over $__rate_interval; increase() may also span $__range."""
    for expr in _exprs(dashboard):
        ranges = re.findall(r"\[([^\]]*)\]", _STRING.sub('""', expr))
        assert set(ranges) <= {"$__rate_interval", "$__range"}, expr
        for function, allowed in (("rate", {"$__rate_interval"}), ("irate", {"$__rate_interval"})):
            for args in _calls(expr, function):
                assert set(re.findall(r"\[([^\]]*)\]", args)) == allowed, expr
        for args in _calls(expr, "increase"):
            assert re.findall(r"\[([^\]]*)\]", args) in (["$__rate_interval"], ["$__range"]), expr


def test_every_histogram_quantile_aggregates_by_le(dashboard: dict[str, Any]) -> None:
    for expr in _exprs(dashboard):
        for args in _calls(expr, "histogram_quantile"):
            assert re.match(r"\s*[\d.]+\s*,\s*sum by \(le[,)]", args), expr


def test_latency_panels_show_exemplars_and_link_to_traces(dashboard: dict[str, Any]) -> None:
    latency = [
        (panel, target)
        for panel, target in panel_targets(dashboard)
        if panel["type"] == "timeseries"
        and "histogram_quantile" in target["expr"]
        and "http_server_request_duration_seconds_bucket" in target["expr"]
    ]
    assert latency
    for panel, target in latency:
        assert target.get("exemplar") is True, f"{panel['title']} {target['refId']}"
        assert panel.get("links"), f"{panel['title']} has no link to traces"


def test_dashboards_link_to_each_other_and_to_google_cloud(dashboard: dict[str, Any]) -> None:
    links = dashboard["links"]
    assert any(link["type"] == "dashboards" and "echoscope" in link["tags"] for link in links)
    urls = [link.get("url", "") for link in links]
    assert any("console.cloud.google.com/traces" in url for url in urls)
    assert any("console.cloud.google.com/logs" in url for url in urls)


def test_tables_link_rows_somewhere(dashboard: dict[str, Any]) -> None:
    for panel in walk_panels(dashboard["panels"]):
        if panel["type"] == "table":
            links = [
                prop
                for override in panel["fieldConfig"]["overrides"]
                for prop in override["properties"]
                if prop["id"] == "links" and prop["value"]
            ]
            assert links, f"table {panel['title']} has no row links"
