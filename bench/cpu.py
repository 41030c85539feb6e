"""CPU per request in-process, one signal at a time: where echoscope's time goes.

`python -m bench.cpu [--post] [N [ROUNDS [NAME …]]]` builds the app once per configuration
(the NAMEs only, and "telemetry off", when given; ROUNDS interleaved rounds,
the median kept), drives N GET
requests (the benchmark's browser-like GET with a traceparent; with --post its 1 KiB
JSON POST, `post_configurations`) through its WSGI
callable on one thread, and reports process CPU µs per request (best of 3), the
exporter thread and log writes included. Not a test, not wall time under load:
the figure to compare changes by, since it barely moves with machine noise.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.test import EnvironBuilder

from bench.servers import free_port

HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9,fr;q=0.8",
    "Accept-Encoding": "gzip, deflate, br",
    "Cookie": "session=6f1c2a9e0d7b4c3a; theme=dark; consent=yes",
}
# The providers whose exports count in the measure (spans, metrics, log records).
_PROVIDERS = ("echoscope.tracer_provider", "echoscope.meter_provider", "echoscope.logger_provider")
# bench/request.lua's POST: its headers and its 1 KiB JSON body (wrk adds Host, Content-Length).
POST_HEADERS = {
    "User-Agent": "bench-client/1.0",
    "Accept": "application/json",
    "Content-Type": "application/json",
}
_POST_HEAD, _POST_TAIL = b'{"user":"bench","items":[1,2,3,4,5],"note":"', b'"}'
POST_BODY = _POST_HEAD + b"x" * (1024 - len(_POST_HEAD) - len(_POST_TAIL)) + _POST_TAIL
SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
UNSAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


def configurations() -> dict[str, tuple[dict[str, str], Callable[[int], str]]]:
    """Name -> (settings, traceparent for request i)."""
    # Spans over the default protocol (OTLP/HTTP protobuf), as `make bench` sends them.
    export = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_always_on"}
    json_export = {**export, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}
    sampled: Callable[[int], str] = lambda i: SAMPLED  # noqa: E731
    cloud_run: Callable[[int], str] = lambda i: SAMPLED if i % 100 == 0 else UNSAMPLED  # noqa: E731
    off = {"ECHO_LOG_LEVEL": "ERROR", "ECHO_METRICS": "false", "OTEL_SDK_DISABLED": "true"}
    return {
        "full (sampled, exported)": (export, sampled),
        "full, OTLP/HTTP JSON": (json_export, sampled),
        "cloud run (1% sampled)": (export, cloud_run),
        "unsampled": (export, lambda i: UNSAMPLED),
        "no tracing": ({"OTEL_SDK_DISABLED": "true"}, sampled),
        "no logs": ({**export, "ECHO_LOG_LEVEL": "ERROR"}, sampled),
        "no metrics": ({**export, "ECHO_METRICS": "false"}, sampled),
        "+ OTLP metrics": ({**export, "OTEL_METRICS_EXPORTER": "prometheus,otlp"}, sampled),
        "+ OTLP logs (JSON)": (
            {
                **export,
                "OTEL_LOGS_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json",
            },
            sampled,
        ),
        "+ OTLP logs (protobuf)": ({**export, "OTEL_LOGS_EXPORTER": "otlp"}, sampled),
        "+ OTLP metrics and logs": (
            {
                **export,
                "OTEL_METRICS_EXPORTER": "prometheus,otlp",
                "OTEL_LOGS_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json",
            },
            sampled,
        ),
        "telemetry off": (off, sampled),
    }


def post_configurations() -> dict[str, tuple[dict[str, str], Callable[[int], str | None]]]:
    """The POST's configurations: name -> (settings, traceparent for request i, or None).

    As `make bench` sends it: no traceparent (a root span, sampled by the parent-based
    sampler) but on the Cloud Run profile (bench/cloudrun.lua), which adds one to each.
    """
    get = configurations()
    none: Callable[[int], str | None] = lambda i: None  # noqa: E731
    return {
        "full (sampled, exported)": (get["full (sampled, exported)"][0], none),
        "cloud run (1% sampled)": get["cloud run (1% sampled)"],
        "telemetry off": (get["telemetry off"][0], none),
    }


def measure(env: Mapping[str, str], environs: list[dict[str, Any]]) -> float:
    """Best-of-3 CPU µs per request of `environs`."""
    from service.app import create_app  # here: bench.instructions reads HEADERS from peers' venv
    from service.settings import Settings
    from service.telemetry import otlplogs
    from service.telemetry.logwriter import LineWriter

    with tempfile.TemporaryFile() as log:
        writer = LineWriter(log)  # as stdout is written in production: by the writer thread
        app = create_app(Settings.from_env({"GCE_METADATA_HOST": "127.0.0.1:9", **env}), writer)
        best = min(_run(app, environs) for _ in range(3))
        for key in _PROVIDERS:
            provider = app.extensions.get(key)
            if provider is not None:
                provider.shutdown()
        otlplogs.emitter.use(None)
        writer.close()
    return best * 1e6 / len(environs)


def _environ(traceparent: str | None) -> dict[str, Any]:
    """bench/request.lua's GET (with a traceparent when one is given)."""
    return EnvironBuilder(path="/anything", headers=_with(HEADERS, traceparent)).get_environ()


def _post_environ(traceparent: str | None) -> dict[str, Any]:
    """bench/request.lua's POST (with a traceparent when one is given)."""
    headers = _with(POST_HEADERS, traceparent)
    return EnvironBuilder(
        path="/anything", method="POST", headers=headers, data=POST_BODY
    ).get_environ()


def _with(headers: dict[str, str], traceparent: str | None) -> dict[str, str]:
    return {**headers, "traceparent": traceparent} if traceparent else headers


def _run(app: Any, environs: list[dict[str, Any]]) -> float:
    def start_response(*_: Any) -> None:
        return None

    for environ in environs:  # each round reads the bodies afresh
        environ["wsgi.input"].seek(0)
    gc.collect()
    providers = [app.extensions[key] for key in _PROVIDERS if key in app.extensions]
    started = time.process_time()
    for environ in environs:
        body = app(dict(environ), start_response)
        b"".join(body)
        getattr(body, "close", lambda: None)()
    for provider in providers:  # what was queued is encoded and sent within the measure
        provider.force_flush()
    return time.process_time() - started


def main() -> None:
    post = sys.argv[1:2] == ["--post"]
    args = sys.argv[2:] if post else sys.argv[1:]
    count = int(args[0]) if args else 3000
    rounds = int(args[1]) if len(args) > 1 else 1
    wanted = args[2:]  # configuration names (all when none): e.g. the OTLP rows and "full …"
    every = post_configurations() if post else configurations()
    chosen: dict[str, tuple[dict[str, str], Callable[[int], str | None]]] = {
        name: config
        for name, config in every.items()
        if not wanted or name in wanted or name == "telemetry off"
    }
    port = free_port()
    # The OpenTelemetry exporter reads its endpoint from the environment itself.
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
    sink = subprocess.Popen([sys.executable, "-m", "bench.sink", str(port)])
    time.sleep(0.5)
    build = _post_environ if post else _environ
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    try:
        for _ in range(rounds):  # interleaved: drift on a shared machine hits every row alike
            for name, (env, traceparent) in chosen.items():
                environs = [build(traceparent(i)) for i in range(count)]
                samples[name].append(measure(env, environs))
    finally:
        sink.terminate()
    results = {name: statistics.median(values) for name, values in samples.items()}
    off = results["telemetry off"]
    print(f"median of {rounds} interleaved rounds, {count} {'POST' if post else 'GET'} each")
    print("| configuration | CPU µs/request | telemetry µs |\n|---|---|---|")
    for name, value in results.items():
        print(f"| {name} | {value:.0f} | {value - off:+.0f} |")


if __name__ == "__main__":
    main()
