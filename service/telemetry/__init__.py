"""Telemetry: the finishers that read an Outcome (log line, metrics, spans) and their exporters.

May import: service.exchange; never a view or a feature.
"""
