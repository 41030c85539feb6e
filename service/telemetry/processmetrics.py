"""The process metrics /metrics has with one worker, over OTLP for every worker.

OpenTelemetry's process semantic conventions (Development): CPU time by mode,
resident and virtual memory, open file descriptors, threads, uptime. Read
from `os.times` and /proc (Linux, where echoscope runs) when the reader
collects, never on a request.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def observe(meter: Meter) -> None:
    """Register the process instruments on `meter`."""
    started = time.monotonic()
    meter.create_observable_counter(
        "process.cpu.time", [_cpu_time], unit="s", description="Total CPU seconds by mode."
    )
    meter.create_observable_up_down_counter(
        "process.memory.usage", [_memory(1)], unit="By", description="Resident memory."
    )
    meter.create_observable_up_down_counter(
        "process.memory.virtual", [_memory(0)], unit="By", description="Virtual memory."
    )
    meter.create_observable_up_down_counter(
        "process.unix.file_descriptor.count",
        [_open_fds],
        unit="{file_descriptor}",
        description="Open file descriptors.",
    )
    meter.create_observable_up_down_counter(
        "process.thread.count",
        [lambda _: [Observation(threading.active_count())]],
        unit="{thread}",
        description="Python threads of the process.",
    )
    meter.create_observable_gauge(
        "process.uptime",
        [lambda _: [Observation(time.monotonic() - started)]],
        unit="s",
        description="Seconds since the worker started.",
    )


def _cpu_time(_: CallbackOptions) -> Iterable[Observation]:
    times = os.times()
    return [
        Observation(times.user, {"cpu.mode": "user"}),
        Observation(times.system, {"cpu.mode": "system"}),
    ]


def _memory(field: int) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def read(_: CallbackOptions) -> Iterable[Observation]:
        try:
            with open("/proc/self/statm", "rb") as statm:
                pages = int(statm.read().split()[field])
        except (OSError, ValueError, IndexError):  # not Linux: nothing to say
            return []
        return [Observation(pages * _PAGE_BYTES)]

    return read


def _open_fds(_: CallbackOptions) -> Iterable[Observation]:
    try:
        return [Observation(len(os.listdir("/proc/self/fd")))]
    except OSError:
        return []
