"""echoscope with one more view, `/raise`, that raises: gunicorn's `tests.support.raising:app`.

No route of echoscope raises on purpose; this one shows what an unhandled
exception leaves behind (the exception event, `error.type` on span, metric and
log record, the JSON 500) in a real gunicorn process.
"""

import os

from service.app import create_app
from service.settings import Settings

app = create_app(Settings.from_env(os.environ))


def _raise() -> None:
    raise RuntimeError("raised on purpose")


app.add_url_rule("/raise", "raise", _raise, methods=["GET"])
