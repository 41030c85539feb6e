"""Process-wide set-up every test shares, as config/gunicorn.conf.py and the image do it."""

import os

# OpenTelemetry's HTTP instrumentation reads this itself, once per process: the stable names.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
