"""Encodings compared in a process of their own, with a deadline.

An int subclass (an IntEnum close code, an HTTPStatus) once hung the encoder: a
`range` membership test counts through 2**64 members in C holding the GIL, so a
test in-process would never end. Run apart, such a hang fails in 30 seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def assert_same_encodings(module: str, function: str, timeout: float = 30) -> None:
    """`module.function()` returns (echoscope's bytes, the SDK's bytes): they must match."""
    probe = (
        f"from {module} import {function} as run\n"
        "ours, sdks = run()\n"
        "assert ours == sdks, (ours, sdks)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-2000:]
