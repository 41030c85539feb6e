"""What only gunicorn needs, loaded by its master without Flask: worker, trailers, log config.

May import: service.settings and the no-Flask modules of service.telemetry.
"""
