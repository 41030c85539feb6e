"""What is served and shown: the ECHO_ENV_* variables and the optional TLS listener."""

from __future__ import annotations

import os.path
from collections.abc import Mapping
from typing import Any

from service.settings.parse import Reader, SettingsError, choice

ENV_PREFIX = "ECHO_ENV_"  # the only variables /env and the record's `server` ever show
CLIENT_CERT_MODES = ("none", "optional", "require")
_MAX_ENV_VARS = 64
_MAX_ENV_VALUE = 1024


def served(reader: Reader, environ: Mapping[str, str]) -> dict[str, Any]:
    """The Settings fields of this part, checked across variables."""
    cert = reader.get("ECHO_TLS_CERT_FILE", "", file_or_empty, True)
    key = reader.get("ECHO_TLS_KEY_FILE", "", file_or_empty, True)
    if bool(cert) != bool(key):
        raise SettingsError(
            f"invalid ECHO_TLS_CERT_FILE={cert!r}, ECHO_TLS_KEY_FILE={key!r}: set both or neither"
        )
    client = reader.get("ECHO_TLS_CLIENT_CERT", "none", choice(CLIENT_CERT_MODES))
    ca = reader.get("ECHO_TLS_CLIENT_CA_FILE", "", file_or_empty, True)
    if client != "none" and not (cert and ca):
        raise SettingsError(
            f"invalid ECHO_TLS_CLIENT_CERT={client!r}: needs ECHO_TLS_CERT_FILE, "
            "ECHO_TLS_KEY_FILE and ECHO_TLS_CLIENT_CA_FILE"
        )
    return {
        "env_vars": env_vars(environ),
        "tls_cert_file": cert or None,
        "tls_key_file": key or None,
        "tls_client_cert": client,
        "tls_client_ca_file": ca or None,
    }


def file_or_empty(raw: str) -> str:
    """A path to an existing file, or nothing."""
    if raw and not os.path.isfile(raw):
        raise ValueError("no such file")
    return raw


def env_vars(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The ECHO_ENV_* variables (go-httpbin's HTTPBIN_ENV_), bounded: they go on every record."""
    found = sorted(
        (k, v) for k, v in environ.items() if k.startswith(ENV_PREFIX) and k != ENV_PREFIX
    )
    if len(found) > _MAX_ENV_VARS:
        raise SettingsError(
            f"too many {ENV_PREFIX}* variables: {len(found)} (at most {_MAX_ENV_VARS})"
        )
    for name, value in found:
        if len(value) > _MAX_ENV_VALUE:
            raise SettingsError(
                f"invalid {name}={value[:32]!r}…: at most {_MAX_ENV_VALUE} characters"
            )
    return tuple(found)
