"""The peer apps echoscope is compared with; each module exposes a WSGI `app`."""
