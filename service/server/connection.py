"""What the server tells the app about an exchange's connection, and what the app may ask of it.

echoscope's gunicorn worker (service/server/wire.py) puts an object with this shape
in `environ[ENVIRON_KEY]` for every HTTP/1 request: how the request body ended,
and a way to break the connection instead of answering normally. Under another
server (Flask's test client, HTTP/2) the key is absent. No Flask here: both
sides import it.
"""

from __future__ import annotations

from typing import Protocol

ENVIRON_KEY = "echoscope.connection"

# The faults `x-set-response-fault` names. The server carries out all but `slow`,
# which the app does itself (the body dripped over the delay).
FAULTS = ("reset", "close", "truncate", "malformed", "slow")
SERVER_FAULTS = frozenset(FAULTS) - {"slow"}


class Connection(Protocol):
    """The server's side of one exchange, as the app sees it."""

    @property
    def body_complete(self) -> bool | None:
        """True when the body ended where its framing said, False when cut short, None unread."""

    @property
    def body_timed_out(self) -> bool:
        """True when the body stopped arriving for ECHO_BODY_TIMEOUT_SECONDS."""

    def break_with(self, fault: str) -> None:
        """Answer with one of SERVER_FAULTS instead of the response the app returns."""
