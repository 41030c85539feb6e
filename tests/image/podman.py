"""The built image, run with podman on the host's network (`make image-test`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.support.server import ROOT, free_port

IMAGE = os.environ.get("ECHOSCOPE_IMAGE", "localhost/echoscope:dev")
_ENV = {"CONTAINERS_CONF": str(ROOT / "tests/image/containers.conf"), **os.environ}


def podman(*args: str, timeout: float = 60) -> str:
    """Run `podman ARGS` (CONTAINERS_CONF as `make image-test` sets it); its stdout, or fail."""
    if shutil.which("podman") is None:
        raise AssertionError("podman is not installed: run `make image-test`, which installs it")
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, env=_ENV, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def base_image() -> str:
    """The FROM of the Dockerfile's stages: its PYTHON_IMAGE argument."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG PYTHON_IMAGE="):
            return line.partition("=")[2].strip()
    raise AssertionError("no ARG PYTHON_IMAGE=… in the Dockerfile")


class Container:
    """`podman run --network=host IMAGE` with PORT set to a free port; removed by `remove`."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = f"echoscope-image-test-{uuid.uuid4().hex[:12]}"
        options = ["--env", f"PORT={self.port}"]
        for key, value in (env or {}).items():
            options += ["--env", f"{key}={value}"]
        podman("run", "--detach", "--network=host", "--name", self.name, *options, IMAGE)

    def inspect(self, template: str) -> str:
        return podman("inspect", "--format", template, self.name).strip()

    def running(self) -> bool:
        return self.inspect("{{.State.Running}}") == "true"

    def pid(self) -> int:
        """The host pid of the container's first process."""
        return int(self.inspect("{{.State.Pid}}"))

    def wait_ready(self, timeout: float = 30) -> None:
        """Poll /health until it answers 200; fail with the container's output otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"the container exited:\n{self.output()}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)  # not listening yet, or a cold worker on a busy machine
        raise AssertionError(f"no /health in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        """stdout and stderr so far, in order (podman's log of the container)."""
        done = subprocess.run(
            ["podman", "logs", self.name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_ENV,
            check=True,
            timeout=30,
        )
        return done.stdout

    def json_lines(self) -> list[dict[str, Any]]:
        """Every line parsed as JSON (fails loudly on a line that is not)."""
        return [json.loads(line) for line in self.output().splitlines()]

    def line_for(self, request_id: str, timeout: float = 5) -> dict[str, Any]:
        """The exchange line of the request whose X-Request-Id is `request_id`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.json_lines():
                if line.get("uuid") == request_id and "httpRequest" in line:
                    return line
            time.sleep(0.1)
        raise AssertionError(f"no exchange line for {request_id}:\n{self.output()[-4000:]}")

    def signal(self, name: str) -> None:
        podman("kill", "--signal", name, self.name)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the container to exit; its exit code."""
        return int(podman("wait", self.name, timeout=timeout).strip())

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name)


def status_uids(pid: int) -> list[int]:
    """The real, effective, saved and filesystem uids of a host process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(uid) for uid in line.split()[1:]]
    raise AssertionError(f"no Uid line for pid {pid}")


def children(pid: int) -> list[int]:
    """The host pids of a process's children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found
