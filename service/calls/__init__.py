"""/call: the routes, the fan-out of downstream calls, their client and the allowed targets.

May import: service.exchange, service.telemetry, service.cloud and service.echo.
"""
