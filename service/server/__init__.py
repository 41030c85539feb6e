"""What only gunicorn needs, loaded by its master without Flask: worker, environ, trailers, logs.

May import: service.settings and the no-Flask modules of service.telemetry.
"""
