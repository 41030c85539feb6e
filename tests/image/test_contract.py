"""The container contract, on the image `make image` built from the Dockerfile, run by podman."""

from __future__ import annotations

import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import requests
import websocket

from tests.image.podman import Container, base_image, children, podman, status_uids
from tests.support.prom import DURATION, scrape, total

UID = 10001
GRACE_SECONDS = 10  # Cloud Run's SIGKILL comes 10 s after SIGTERM
IN_FLIGHT = 3
COMPILERS = re.compile(r"^(cc|c\+\+|gcc|g\+\+|cc1|cc1plus|clang|tcc|(\S+-)?gcc(-\d+)?)$")
_ACTIVE = re.compile(r"^http_server_active_requests\{[^}]*\} (\S+)$", re.M)


def test_gunicorn_is_the_first_process_and_no_process_is_root(container: Container) -> None:
    master = container.pid()
    argv = Path(f"/proc/{master}/cmdline").read_bytes().split(b"\0")[:-1]
    # Exec form: gunicorn itself gets Cloud Run's SIGTERM, no shell in between.
    assert argv[-3:] == [b"-c", b"config/gunicorn.conf.py", b"service.wsgi:app"], argv
    assert argv[-4].endswith(b"/gunicorn"), argv
    workers = children(master)
    assert len(workers) == 1
    for pid in (master, *workers):
        assert status_uids(pid) == [UID] * 4


def test_answers_health_and_echo_on_the_port_it_is_given(container: Container) -> None:
    assert container.port != 8080
    assert requests.get(f"{container.url}/health", timeout=5).json() == {"status": "ok"}
    echo = requests.post(f"{container.url}/anything/orders?id=7", json={"n": 1}, timeout=5)
    assert echo.status_code == 200
    body = echo.json()
    assert body["host"] == f"127.0.0.1:{container.port}"
    assert body["json"] == {"n": 1}
    assert body["args"] == {"id": "7"}
    assert body["uuid"] == echo.headers["X-Request-Id"]


def test_h2c_answers_as_cloud_run_checks_it(container: Container) -> None:
    # Cloud Run's documented check: curl -i --http2-prior-knowledge http://localhost:PORT
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        response = client.get(f"{container.url}/anything/h2c")
    assert response.http_version == "HTTP/2"
    assert response.json()["protocol"] == "HTTP/2"
    line = container.line_for(response.headers["x-request-id"])
    assert line["httpRequest"]["protocol"] == "HTTP/2"


def test_websocket_echo(container: Container) -> None:
    url = container.url.replace("http://", "ws://") + "/websocket/echo"
    session = websocket.create_connection(url, timeout=10)
    session.send("through the image")
    assert session.recv() == "through the image"
    request_id = session.getheaders()["x-request-id"]
    session.close()
    line = container.line_for(request_id)
    assert line["httpRequest"]["status"] == 101
    assert line["websocket"]["messages_received"] == 1


def test_every_line_is_json_from_the_first(container: Container) -> None:
    lines = container.json_lines()
    assert lines, container.output()
    first = lines[0]
    assert {"severity", "message", "time"} <= first.keys()
    assert first["severity"] == "INFO"
    assert "gunicorn" in first["message"]


def test_an_exchange_line_has_the_readme_shape(container: Container) -> None:
    response = requests.get(f"{container.url}/anything/shape?token=secret", timeout=5)
    line = container.line_for(response.headers["X-Request-Id"])
    assert {"severity", "message", "time", "httpRequest", "request", "response"} <= line.keys()
    assert line["severity"] == "INFO"
    assert line["message"].startswith("GET /anything/shape 200 ")
    assert line["httpRequest"]["requestMethod"] == "GET"
    assert line["httpRequest"]["requestUrl"].endswith("/anything/shape?token=[REDACTED]")
    assert line["httpRequest"]["status"] == 200
    assert line["request"]["uuid"] == line["uuid"]
    assert line["request"]["args"] == {"token": "[REDACTED]"}
    assert line["response"]["status"] == 200


def test_two_workers_sum_their_metrics(two_workers: Container) -> None:
    route = "/anything/<path:path>"
    before = total(scrape(two_workers.url), f"{DURATION}_count", http_route=route)
    instances: set[str] = set()
    sent = 0
    # A new connection per request, until both workers have answered (and at least 20).
    while sent < 200 and (sent < 20 or len(instances) < 2):
        response = requests.get(f"{two_workers.url}/anything/sum-{sent}", timeout=5)
        assert response.status_code == 200
        instances.add(response.json()["server"]["instance"])
        sent += 1
    assert len(instances) == 2, f"one worker answered all {sent} requests"
    # Whichever worker answers the scrape reports every worker's requests.
    for _ in range(6):
        counted = total(scrape(two_workers.url), f"{DURATION}_count", http_route=route)
        assert counted - before == sent


def _active_requests(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=5).text
    return sum(float(value) for value in _ACTIVE.findall(text))


def test_sigterm_finishes_requests_in_flight_and_exits_in_time(image: str) -> None:
    container = Container({"WEB_CONCURRENCY": "2"})
    pool = ThreadPoolExecutor(IN_FLIGHT)
    try:
        container.wait_ready()
        futures = [
            pool.submit(requests.get, f"{container.url}/delay/2", timeout=15)
            for _ in range(IN_FLIGHT)
        ]
        deadline = time.monotonic() + 5
        while _active_requests(container.url) < IN_FLIGHT + 1:  # + the scrape itself
            assert time.monotonic() < deadline, "the delayed requests never were in flight"
            time.sleep(0.05)

        assert not any(future.done() for future in futures)
        container.signal("TERM")
        signalled = time.monotonic()
        statuses = [future.result(timeout=15).status_code for future in futures]
        code = container.wait(timeout=GRACE_SECONDS + 10)
        exited_after = time.monotonic() - signalled

        assert statuses == [200] * IN_FLIGHT
        assert code == 0, container.output()[-4000:]
        assert exited_after < GRACE_SECONDS
    finally:
        pool.shutdown(cancel_futures=True)
        container.remove()


def test_no_compiler_in_the_image(image_root: Path) -> None:
    found = [
        str(path.relative_to(image_root))
        for directory in ("usr", "bin", "sbin", "opt")
        if (image_root / directory).is_dir()
        for path in (image_root / directory).rglob("*")
        if COMPILERS.match(path.name) and not path.is_dir()
    ]
    assert found == []


def test_the_app_directory_holds_the_service_and_its_config_only(image_root: Path) -> None:
    app = image_root / "app"
    assert sorted(p.name for p in app.iterdir()) == ["config", "requirements.txt", "service"]
    assert sorted(p.name for p in (app / "config").iterdir()) == ["gunicorn.conf.py"]
    # .dockerignore kept the build machine's caches out (make test leaves them in service/);
    # the image compiled each module itself, once, for its own Python (no cold start does).
    sources = {p.relative_to(app).with_suffix("") for p in (app / "service").rglob("*.py")}
    compiled = {
        (p.parent.parent / p.name.split(".")[0]).relative_to(app)
        for p in (app / "service").rglob("*.pyc")
    }
    assert compiled == sources
    assert {p.name.split(".")[1] for p in app.rglob("*.pyc")} == {"cpython-311"}
    assert not list((app / "config").rglob("*.pyc"))
    assert (app / "service/wsgi.py").is_file()


def test_no_tests_vcs_or_virtual_environment_anywhere(image_root: Path) -> None:
    found = [
        str(path.relative_to(image_root))
        for path in image_root.rglob("*")
        if path.name in {".git", ".venv", "pyvenv.cfg", "conftest.py"}
    ]
    assert found == []
    assert not list((image_root / "app").rglob("test*"))
    assert not (image_root / "wheels").exists()


def test_the_compiled_parser_is_installed_and_loads(image: str) -> None:
    out = podman(
        "run", "--rm", "--network=none", image, "python", "-c",
        "import gunicorn_h1c, sys; print(gunicorn_h1c.__file__)",
    )  # fmt: skip
    assert "-packages/gunicorn_h1c" in out


def test_the_build_left_the_base_certificates_alone(image: str, image_root: Path) -> None:
    """The build reaches the index through the machine's CA bundle, mounted for the build only."""
    base = Path(podman("image", "mount", base_image()).strip())
    try:
        bundle = "etc/ssl/certs/ca-certificates.crt"
        assert _digest(image_root / bundle) == _digest(base / bundle)
    finally:
        podman("image", "unmount", base_image())
    env = podman("image", "inspect", "--format", "{{json .Config.Env}}", image)
    assert "PIP_CERT" not in env and "PIP_INDEX_URL" not in env


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
