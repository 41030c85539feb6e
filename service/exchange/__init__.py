"""The exchange: the pipeline every request goes through, its frozen Outcome and typed Record.

May import: nothing of service but service.settings and the version; no feature.
"""
