"""The seed-style peer: a Flask echo with debug on and print-style text logs.

Serve with `gunicorn bench.peers.seed:app`.
"""

from __future__ import annotations

import uuid

from flask import Flask, Response, jsonify, request

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

app = Flask(__name__)
app.debug = True


@app.before_request
def log_request() -> None:
    print(f"Request: {request.method} {request.path}")


@app.after_request
def log_response(response: Response) -> Response:
    print(f"Response: {request.method} {request.path} {response.status}")
    return response


@app.route("/", defaults={"path": ""}, methods=METHODS)
@app.route("/<path:path>", methods=METHODS)
def echo(path: str) -> Response:
    return jsonify(
        uuid=uuid.uuid4().hex,
        endpoint=request.endpoint,
        method=request.method,
        cookies=request.cookies,
        data=request.get_data(as_text=True),
        headers=dict(request.headers),
        args=request.args,
        form=request.form,
        remote_addr=request.remote_addr,
        files=[f.filename for f in request.files.values()],
        path=request.path,
        url=request.url,
        scheme=request.scheme,
        host=request.host,
        query_string=request.query_string.decode(),
    )
