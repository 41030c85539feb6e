"""The inspector at /_echoscope/: routes, history API, live feed, stores, recorder, page (ui/).

May import: service.exchange, service.telemetry, service.cloud and service.echo.
"""
