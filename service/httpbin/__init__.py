"""httpbin's endpoints (psf/httpbin, with go-httpbin's bounds), each an ordinary echoscope route.

One module per concern, each with `init_app(app, settings)`; every view captures
the echo record first, so each exchange is logged, counted and traced like any
other. The README's "httpbin endpoints" section lists them and the differences.

May import: service.exchange, service.telemetry, service.server, service.cloud, service.echo.
"""
