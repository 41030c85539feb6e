"""The Dockerfile's contract, parsed with BuildKit's parser, and its command run for real.

There is no Docker engine here: the image is proven by parsing the Dockerfile
and by running its CMD from what its COPY lines copy, in a fresh virtual
environment built from requirements.txt alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dockerfile
import pytest
import requests

from tests.support.server import ROOT, free_port


@pytest.fixture(scope="module")
def commands() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(ROOT / "Dockerfile")))


def _index(commands: list[dockerfile.Command], cmd: str, needle: str = "") -> int:
    for index, command in enumerate(commands):
        if command.cmd == cmd and needle in " ".join(command.value):
            return index
    raise AssertionError(f"no {cmd} {needle!r} in the Dockerfile")


def test_slim_python_base(commands: list[dockerfile.Command]) -> None:
    base = commands[_index(commands, "FROM")].value[0]
    assert base.startswith("python:3.11") and "slim" in base


def test_unbuffered_output(commands: list[dockerfile.Command]) -> None:
    env = commands[_index(commands, "ENV", "PYTHONUNBUFFERED")].value
    assert dict(zip(env[::2], env[1::2], strict=True))["PYTHONUNBUFFERED"] == "1"


def test_requirements_installed_before_the_code_is_copied(
    commands: list[dockerfile.Command],
) -> None:
    copy_requirements = _index(commands, "COPY", "requirements.txt")
    install = _index(commands, "RUN", "pip install -r requirements.txt")
    copy_code = _index(commands, "COPY", "service/")
    assert copy_requirements < install < copy_code


def test_runs_as_a_non_root_user(commands: list[dockerfile.Command]) -> None:
    users = [c.value[0] for c in commands if c.cmd == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert _index(commands, "USER") < _index(commands, "CMD")


def test_exec_form_cmd_runs_gunicorn_with_the_shipped_config(
    commands: list[dockerfile.Command],
) -> None:
    cmd = commands[_index(commands, "CMD")]
    assert cmd.json, "CMD must be in exec form so gunicorn gets SIGTERM directly"
    assert cmd.value == ("gunicorn", "-c", "config/gunicorn.conf.py", "service.wsgi:app")


def test_dockerignore_keeps_out_vcs_caches_tests_and_venvs() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "__pycache__", "*.py[cod]", ".pytest_cache"} <= ignored


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, commands: list[dockerfile.Command]) -> Path:
    """What the image holds: the COPY sources in a WORKDIR, and a venv from requirements.txt."""
    workdir = tmp_path_factory.mktemp("app")
    for command in commands:
        if command.cmd == "COPY":
            source, target = command.value
            destination = workdir / target
            if (ROOT / source).is_dir():
                shutil.copytree(
                    ROOT / source, destination, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, destination if target != "." else workdir)
    venv = workdir / ".image-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin/pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            "requirements.txt",
        ],
        cwd=workdir,
        check=True,
    )
    return workdir


@pytest.fixture(scope="module")
def container(image: Path, commands: list[dockerfile.Command]) -> Iterator[str]:
    """The Dockerfile's CMD, run in the image's WORKDIR with only its ENV and PORT."""
    env_values = commands[_index(commands, "ENV", "PYTHONUNBUFFERED")].value
    port = free_port()
    env = {
        **dict(zip(env_values[::2], env_values[1::2], strict=True)),
        "PATH": f"{image / '.image-venv/bin'}:/usr/bin:/bin",
        "HOME": str(image),
        "PORT": str(port),
    }
    cmd = list(commands[_index(commands, "CMD")].value)
    proc = subprocess.Popen(
        cmd, cwd=image, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def _wait_for_health(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("the container command never answered /health")


def test_container_command_serves_health_and_root(container: str) -> None:
    assert requests.get(f"{container}/health", timeout=5).json() == {"status": "ok"}
    root = requests.get(f"{container}/", timeout=5)
    assert root.status_code == 200
    assert root.json()["endpoint"] == "hello_world"
    assert root.json()["uuid"] == root.headers["X-Request-Id"]


def test_container_honours_port(container: str) -> None:
    # The fixture picked a free port other than the image's default 8080 and set only $PORT.
    assert (
        requests.get(f"{container}/anything", timeout=5).json()["host"] == container.split("//")[1]
    )
