"""Interleaved rounds: every target started in turn, warmed up, then hit by wrk once per kind."""

from __future__ import annotations

import dataclasses
import http.client
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import servers, wrk
from bench.targets import PEERS_PYTHON, ROOT, Launch, Slot, Target, base_env

Sample = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one series of rounds does to each target."""

    rounds: int
    duration: int
    warmup: int
    workers: int
    threads: int
    connections: int = 16
    wrk_threads: int = 1
    kinds: tuple[str, ...] = wrk.KINDS


@dataclasses.dataclass(frozen=True)
class Site:
    """What the servers share: the OTLP sink, the log folder and a scratch folder."""

    sink_port: int
    log_dir: Path
    scratch: Path


@contextmanager
def sink(log_dir: Path) -> Iterator[int]:
    """Run bench/sink.py for the duration of the block; yield its port."""
    port = servers.free_port()
    argv = [str(PEERS_PYTHON), "-m", "bench.sink", str(port)]
    launch = Launch(argv=argv, env=base_env(), cwd=ROOT, ready_path="/stats")
    with servers.running(launch, port, log_dir / "sink.log"):
        yield port


def sink_stats(port: int) -> dict[str, int]:
    """Exports and bytes the sink has received so far."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/stats")
        return dict(json.loads(connection.getresponse().read()))
    finally:
        connection.close()


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _one_kind(port: int, kind: str, plan: Plan, site: Site, traffic: wrk.Traffic) -> Sample:
    before = sink_stats(site.sink_port)
    result, _ = wrk.run(port, kind, plan.duration, plan.connections, plan.wrk_threads, traffic)
    after = sink_stats(site.sink_port)
    sample: Sample = {"kind": kind, **dataclasses.asdict(result), "errors": result.errors}
    sample["sink_exports"] = after["exports"] - before["exports"]
    sample["sink_bytes"] = after["bytes"] - before["bytes"]
    return sample


def _start_and_measure(target: Target, plan: Plan, site: Site) -> list[Sample]:
    port = servers.free_port()
    slot = Slot(port, plan.workers, plan.threads, site.sink_port, site.scratch)
    log_path = site.log_dir / f"{target.name}-w{plan.workers}.log"
    with servers.running(target.launch(slot), port, log_path):
        if plan.warmup:
            wrk.run(port, plan.kinds[0], plan.warmup, plan.connections, plan.wrk_threads)
        return [_one_kind(port, kind, plan, site, target.traffic) for kind in plan.kinds]


def _describe(sample: Sample) -> str:
    if "failure" in sample:
        return f"FAILED: {sample['failure']}"
    return (
        f"{sample['kind']:4} {sample['rps']:8.0f} req/s  p50 {sample['p50_ms']:6.2f} ms"
        f"  p99 {sample['p99_ms']:7.2f} ms  errors {sample['errors']}"
    )


def measure(targets: Sequence[Target], plan: Plan, site: Site) -> list[Sample]:
    """Round after round, each target in turn (one server at a time); a failed start is recorded."""
    samples: list[Sample] = []
    for round_no in range(1, plan.rounds + 1):
        for target in targets:
            head = {"target": target.name, "workers": plan.workers, "round": round_no}
            try:
                rows = [head | row for row in _start_and_measure(target, plan, site)]
            except (servers.ServerError, wrk.WrkError) as error:
                rows = [head | {"failure": str(error)}]
            for row in rows:
                _note(
                    f"[w{plan.workers} round {round_no}/{plan.rounds}] {target.name:20} {_describe(row)}"
                )
            samples += rows
    return samples
