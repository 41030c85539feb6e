"""What only gunicorn needs, loaded by its master without Flask: the worker (its event loop,
read-ahead and wire), trailers, log config, and the connection contract the echo reads.

May import: service.settings and the no-Flask modules of service.telemetry.
"""
