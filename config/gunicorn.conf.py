"""gunicorn settings for echoscope: every value comes from service.settings.Settings."""

import contextlib
import gc
import importlib
import os
import shutil
import sys
import tempfile

# Start-up allocates hundreds of thousands of objects and frees almost none: the cyclic
# collector would walk them again and again (5 % of the instructions to the first 200).
# It stays off through the imports below and the worker's create_app; the objects made
# until then are frozen (never walked again, and their pages stay shared with the master),
# and collection resumes: in the master at its first fork, in a worker once its app is
# loaded (pre_fork, post_fork and post_worker_init below), as gc.freeze's documentation
# recommends for pre-forking servers.
gc.disable()

from gunicorn.glogging import Logger  # noqa: E402

from service.server import tls, trailers, worker  # noqa: E402
from service.server.logconfig import logconfig_dict as make_logconfig_dict  # noqa: E402
from service.settings import Settings, SettingsError  # noqa: E402

# OpenTelemetry's stable HTTP names unless the caller chose otherwise: the instrumentation
# reads this variable itself (it has no parameter for it) when create_app instruments the app.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
try:
    settings = Settings.from_env(os.environ)
except SettingsError as error:
    sys.stderr.write(f"echoscope: {error}\n")
    sys.exit(2)

# Several workers share metrics through files; prometheus-client reads this
# variable when it is first imported (below, where the master preloads it).
multiproc_dir = settings.multiproc_dir
# Only for /metrics: with OTEL_METRICS_EXPORTER=otlp alone each worker pushes its own series.
_own_multiproc_dir = (
    multiproc_dir is None and settings.web_concurrency > 1 and settings.prometheus_metrics
)
if _own_multiproc_dir:
    multiproc_dir = os.path.join(tempfile.gettempdir(), f"echoscope-metrics-{os.getpid()}")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir

# The inspector's embedded history: one SQLite file that every worker of this master shares.
history_path = settings.history_path
_own_history = bool(settings.inspect_token) and not settings.history_url and history_path is None
if _own_history:
    history_path = os.path.join(tempfile.gettempdir(), f"echoscope-history-{os.getpid()}.sqlite3")
    os.environ["ECHO_HISTORY_PATH"] = history_path

trailers.install()  # /trailers over HTTP/1.1; workers inherit the patch at fork

# Libraries every worker imports anyway, imported once here, before fork: each worker then
# starts with their modules already loaded and shares their pages with the master (copy on
# write) instead of holding its own copy (worker RSS 40.7 -> 38.5 MiB). Modules only: no
# provider, thread, exporter or registry is made before fork (create_app does that in each
# worker), and none of echoscope's own modules, so a HUP still loads new application code.
# After the variables above are set: prometheus-client reads PROMETHEUS_MULTIPROC_DIR,
# the instrumentation OTEL_SEMCONV_STABILITY_OPT_IN.
_preloaded = ["flask"]
if not settings.otel_sdk_disabled:
    _preloaded += ["opentelemetry.sdk.trace", "opentelemetry.instrumentation.flask"]
if settings.prometheus_metrics:
    _preloaded += ["prometheus_client"]
for _module in _preloaded:
    importlib.import_module(_module)

bind = f"0.0.0.0:{settings.port}"
workers = settings.web_concurrency
threads = settings.threads
# gthread reading heads and small bodies in its event loop, with JSON for its own refusals
worker_class = worker.configured(
    worker.Limits(
        settings.header_timeout_seconds, settings.body_timeout_seconds, settings.max_body_bytes
    )
)
timeout = 0  # Cloud Run bounds request time itself; never kill a busy worker
graceful_timeout = 8  # under Cloud Run's 10 s between SIGTERM and SIGKILL
keepalive = 5
preload_app = False  # telemetry is set up per worker, after fork
accesslog = None  # the exchange log line replaces the access log
http_parser = "fast"  # gunicorn's own C parser (gunicorn_h1c, in requirements.txt)
errorlog = "-"
loglevel = settings.log_level.lower()
forwarded_allow_ips = ""  # X-Forwarded-* is trusted only through ECHO_TRUSTED_PROXY_HOPS
if settings.http2:
    # h2c on the same port: prior knowledge (Cloud Run's --use-http2) and Upgrade: h2c.
    # gunicorn offers h2c only to peers in forwarded_allow_ips, and Cloud Run's front end
    # has no fixed address, so every peer may speak it; that list then grants nothing
    # else: no scheme or forwarder headers (the app still trusts X-Forwarded-* only
    # through ECHO_TRUSTED_PROXY_HOPS) and :scheme is shown, not trusted (server/http2).
    http_protocols = "h2,h1"
    http2_cleartext = "both"
    forwarded_allow_ips = "*"
    secure_scheme_headers = {}
    forwarder_headers = ""
    # HTTP/2's own bounds, stated rather than inherited (README, "HTTP/2").
    http2_max_concurrent_streams = 100
    http2_max_header_list_size = 65536
    http2_initial_window_size = 65535
    http2_max_frame_size = 16384
control_socket_disable = True  # no gunicornc socket: one per container, none shared between servers
logconfig_dict = make_logconfig_dict(settings)
# ECHO_TLS_*: HTTPS on the same port (certfile, keyfile, client certificates, ALPN); off by default.
globals().update(tls.options(settings))


class NoAccessLogger(Logger):
    """gunicorn's logger without its access log, which the exchange log line replaces.

    With logconfig_dict set, gunicorn would otherwise build the access-log atoms of
    every request only to drop them (7 % of a worker's time under load).
    """

    access_log_enabled = False

    def access(self, resp, req, environ, request_time):
        """Nothing: see the class docstring."""


logger_class = NoAccessLogger


def on_starting(server):
    """Start with an empty metrics directory: files of a previous run would be summed in."""
    if multiproc_dir:
        shutil.rmtree(multiproc_dir, ignore_errors=True)
        os.makedirs(multiproc_dir, exist_ok=True)


def pre_fork(server, worker):
    """Before the first fork (and the first after a HUP re-read this file): what the master
    holds is frozen, and the master collects again. Later forks freeze nothing: the master's
    garbage by then is collected, not kept."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def post_fork(server, worker):
    """In the new worker: no collection while the app loads (see gc.disable above)."""
    gc.disable()


def post_worker_init(worker):
    """The app is loaded: freeze what start-up made and collect from here on."""
    gc.freeze()
    gc.enable()


def child_exit(server, worker):
    """A dead worker's live gauges must not count any more."""
    if multiproc_dir:
        from service.telemetry import promfiles

        promfiles.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """Flush this worker's history entries, spans, metrics and log lines before it goes.

    Each flush is bounded (1 s for the history, 3 s for the OTLP signals, flushed side
    by side): within graceful_timeout even with a collector that never answers.
    """
    app = getattr(worker, "wsgi", None)
    while app is not None and not hasattr(app, "extensions"):  # inside service.server's wrappers
        app = getattr(app, "app", None)
    if app is not None and hasattr(app, "extensions"):
        from service.inspector import routes as inspector_routes
        from service.telemetry import logs, otlpflush

        inspector_routes.flush(app, timeout=1.0)
        logs.shutdown(app)  # stdout first: it needs no network
        otlpflush.shutdown(app)


def on_exit(server):
    """Remove the metrics directory, the history file and the stdout lock echoscope made."""
    with contextlib.suppress(FileNotFoundError):  # the workers' stdout lock (telemetry.logwriter)
        os.remove(os.path.join(tempfile.gettempdir(), f"echoscope-stdout-{os.getpid()}.lock"))
    if _own_multiproc_dir:
        shutil.rmtree(multiproc_dir, ignore_errors=True)
    if _own_history:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(history_path + suffix)
