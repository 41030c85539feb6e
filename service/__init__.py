"""echoscope: an HTTP echo server that shows what reaches a service, the way production tools see it."""

__version__ = "1.0.0"
