"""A worker imports the optional parts only when their setting turns them on (cold start, RSS)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = (
    "httpx",
    "httpcore",
    "opentelemetry.instrumentation.httpx",
    "brotli",
    "redis",
    "wsproto",
    "cryptography",
)
# The OTLP exporters are made by the batch thread at its first export (telemetry/firstexport.py).
EXPORTERS = ("requests", "google.protobuf", "opentelemetry.exporter.otlp.proto.http")
DETECTOR = "opentelemetry.resourcedetector.gcp_resource_detector"  # on Cloud Run only
# The metrics and logs SDKs load only with OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER on.
SIGNAL_SDKS = ("opentelemetry.sdk.metrics", "opentelemetry.sdk._logs")
# The trace SDK and FlaskInstrumentor (packaging, wrapt, semconv) only with the SDK on.
TRACING = {"opentelemetry.sdk.trace", "opentelemetry.instrumentation.flask", "wrapt", "packaging"}
INSPECTOR = ("service.inspector.api", "service.inspector.store_sqlite", "sqlite3")


def _loaded_by_create_app(env: dict[str, str]) -> set[str]:
    code = (
        "import json, sys\n"
        "from service.app import create_app\n"
        "from service.settings import Settings\n"
        f"create_app(Settings.from_env({env!r}))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout))


def test_nothing_optional_is_imported_when_nothing_asks_for_it() -> None:
    loaded = _loaded_by_create_app({"OTEL_TRACES_EXPORTER": "otlp"})
    assert not loaded & {*OPTIONAL, *INSPECTOR, *EXPORTERS, DETECTOR, *SIGNAL_SDKS}


def test_each_part_is_imported_once_its_setting_turns_it_on(tmp_path: Path) -> None:
    loaded = _loaded_by_create_app(
        {
            "OTEL_TRACES_EXPORTER": "none",
            "ECHO_CALL_TARGETS": "http://127.0.0.1:9/",
            "ECHO_INSPECT_TOKEN": "t",
            "ECHO_HISTORY_PATH": str(tmp_path / "history.sqlite3"),
        }
    )
    assert {"httpx", "opentelemetry.instrumentation.httpx", *INSPECTOR} <= loaded


def test_with_the_sdk_disabled_neither_the_trace_sdk_nor_the_instrumentation_is_imported() -> None:
    loaded = _loaded_by_create_app({"OTEL_SDK_DISABLED": "true"})
    assert not loaded & {*TRACING, "service.telemetry.exclusion", "service.telemetry.spans"}
    assert _loaded_by_create_app({"OTEL_TRACES_EXPORTER": "none"}) >= TRACING


def _master_after_config(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json, runpy, sys, threading\n"
        "runpy.run_path('config/gunicorn.conf.py')\n"
        "print(json.dumps({'threads': threading.active_count(), 'modules': sorted(sys.modules)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_the_master_preloads_the_libraries_its_workers_use_and_nothing_runs_before_fork() -> None:
    master = _master_after_config({"OTEL_TRACES_EXPORTER": "otlp"})
    modules = set(master["modules"])  # type: ignore[call-overload]
    assert {"flask", "opentelemetry.instrumentation.flask", "prometheus_client"} <= modules
    assert master["threads"] == 1  # no exporter, batch or writer thread before fork
    # echoscope's own application code loads in each worker, so that a HUP brings in new code
    assert not modules & {"service.app", "service.wsgi", "service.echo", "service.httpbin"}
    assert not modules & {*OPTIONAL, *EXPORTERS, *SIGNAL_SDKS}


def test_the_master_preloads_no_telemetry_library_that_the_settings_turn_off() -> None:
    master = _master_after_config({"OTEL_SDK_DISABLED": "true", "ECHO_METRICS": "false"})
    modules = set(master["modules"])  # type: ignore[call-overload]
    assert "flask" in modules
    assert not modules & {"opentelemetry.sdk.trace", "opentelemetry.instrumentation.flask"}
    assert "prometheus_client" not in modules


def test_start_up_runs_without_the_cyclic_collector_which_resumes_once_the_worker_is_loaded() -> (
    None
):
    code = (
        "import gc, json, runpy\n"
        "conf = runpy.run_path('config/gunicorn.conf.py')\n"
        "seen = {'after_config': gc.isenabled()}\n"
        "conf['pre_fork'](None, None)\n"
        "seen['master_after_fork'] = gc.isenabled()\n"
        "seen['frozen_by_master'] = gc.get_freeze_count() > 0\n"
        "gc.unfreeze()\n"
        "conf['pre_fork'](None, None)\n"
        "seen['frozen_at_a_later_fork'] = gc.get_freeze_count() > 0\n"
        "conf['post_fork'](None, None)\n"
        "seen['worker_loading'] = gc.isenabled()\n"
        "conf['post_worker_init'](None)\n"
        "seen['worker_loaded'] = gc.isenabled()\n"
        "seen['frozen_by_worker'] = gc.get_freeze_count() > 0\n"
        "print(json.dumps(seen))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout.splitlines()[-1]) == {
        "after_config": False,
        "master_after_fork": True,
        "frozen_by_master": True,
        "frozen_at_a_later_fork": False,
        "worker_loading": False,
        "worker_loaded": True,
        "frozen_by_worker": True,
    }
