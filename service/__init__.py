"""echoscope: an HTTP echo server showing what reaches a service, as production tools see it."""

__version__ = "1.0.0"
