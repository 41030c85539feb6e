"""A real redis-server (Debian's) on a free 127.0.0.1 port, with nothing kept on disk."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

import redis

from tests.support.server import free_port


class RedisServer:
    """redis-server started for a test; fails (never skips) when it is not installed."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: `make tools` installs Debian's redis-server"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="echoscope-redis-")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self._dir, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer in 10 s")

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)
