"""Google Cloud facts: one metadata client, the project and the instance, ID tokens.

May import: service.exchange and service.telemetry.
"""
