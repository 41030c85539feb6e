"""The echo: the record of a request (bodies, controls, media types, CORS) and the echo routes.

May import: service.exchange, service.telemetry, service.server (its connection contract)
and service.cloud.
"""
