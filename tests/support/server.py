"""A real gunicorn process running echoscope with the shipped config (werkzeug's DevServerClient)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """gunicorn -c config/gunicorn.conf.py service.wsgi:app, stdout kept in a file (see make_server)."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int,
        ca: str | None = None,
        client: tuple[str, str] | None = None,
        app: str = "service.wsgi:app",
    ) -> None:
        self.port = free_port()
        self.workers = workers
        self.ca = ca  # with a CA: the server speaks HTTPS with a certificate it issued
        self.client = client  # the certificate and key to poll with, when one is required
        self.url = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkstemp(prefix="echoscope-", suffix=".log")[1])
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ECHO_", "OTEL_"))}
        full_env.update({"PORT": str(self.port), "WEB_CONCURRENCY": str(workers), **env})
        full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(GUNICORN), "-c", "config/gunicorn.conf.py", app],
                cwd=ROOT,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 20) -> None:
        """Poll /health until it answers 200 and every worker is forked (gunicorn spawns them
        a moment apart: the first may answer before the last exists); fail with the
        server's output otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.proc.returncode}:\n{self.output()}")
            try:
                ready = requests.get(
                    f"{self.url}/health", timeout=1, verify=self.ca or True, cert=self.client
                )
                if ready.status_code == 200 and len(self.worker_pids()) >= self.workers:
                    return
                time.sleep(0.02)
            except (requests.ConnectionError, requests.Timeout):  # not listening, or booting
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn not ready in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def lines(self) -> list[str]:
        """Every complete line written so far (stdout and stderr)."""
        text = self.output()
        return text.split("\n")[:-1]

    def json_lines(self) -> list[dict[str, Any]]:
        """Every line parsed as JSON (fails loudly on a line that is not)."""
        return [json.loads(line) for line in self.lines()]

    def exchange_lines(self) -> list[dict[str, Any]]:
        """The exchange log lines (the ones with httpRequest)."""
        return [line for line in self.json_lines() if "httpRequest" in line]

    def wait_for_lines(
        self, predicate: Any, count: int = 1, timeout: float = 10
    ) -> list[dict[str, Any]]:
        """Poll until `count` JSON lines match `predicate`; return them."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = [line for line in self.json_lines() if predicate(line)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"{len(found)} of {count} lines after {timeout}s:\n{self.output()[-4000:]}"
        )

    def line_for(self, request_id: str, timeout: float = 5) -> dict[str, Any]:
        """The exchange line of the request whose X-Request-Id is `request_id`."""
        return self.wait_for_lines(
            lambda line: line.get("uuid") == request_id and "httpRequest" in line, 1, timeout
        )[0]

    def worker_pids(self) -> list[int]:
        """The pids of the current worker processes."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def kill_worker(self, victim: int, timeout: float = 15) -> None:
        """SIGKILL one worker and wait until gunicorn has replaced it."""
        count = len(self.worker_pids())
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == count and victim not in pids:
                return
            time.sleep(0.1)
        raise AssertionError(f"worker {victim} not replaced in {timeout}s: {self.worker_pids()}")

    def stop(self, timeout: float = 10, sig: int = signal.SIGTERM) -> int:
        """Signal the master (SIGTERM: graceful) and wait; kill the group if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode
