"""What only gunicorn needs, loaded by its master without Flask: the worker (its event loop,
read-ahead and wire), environ, trailers, logs, and the connection contract the echo reads.

May import: service.settings and the no-Flask modules of service.telemetry.
"""
