"""The benchmark's knobs: command-line flags whose defaults come from BENCH_* variables."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Options:
    """One benchmark invocation: how long, how many rounds, which server sizes."""

    rounds: int
    duration: int
    warmup: int
    workers: tuple[int, ...]
    threads: int
    connections: int
    wrk_threads: int
    targets: tuple[str, ...]
    out_dir: Path


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a positive integer")
    return value


def _non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a non-negative integer")
    return value


def _int_list(raw: str) -> tuple[int, ...]:
    values = tuple(_positive(part) for part in raw.replace(",", " ").split())
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _names(raw: str) -> tuple[str, ...]:
    return tuple(part for part in raw.replace(",", " ").split() if part)


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="echoscope load benchmark (wrk on 127.0.0.1)")
    add = parser.add_argument
    add(
        "--rounds", type=_positive, default=env.get("BENCH_ROUNDS", "3"), help="rounds, interleaved"
    )
    add(
        "--duration",
        type=_positive,
        default=env.get("BENCH_DURATION", "10"),
        help="seconds per wrk run",
    )
    add(
        "--warmup",
        type=_non_negative,
        default=env.get("BENCH_WARMUP", "2"),
        help="warm-up seconds per start",
    )
    add(
        "--workers",
        type=_int_list,
        default=env.get("BENCH_WORKERS", "1 2"),
        help="gunicorn worker counts, e.g. '1 2'",
    )
    add(
        "--threads",
        type=_positive,
        default=env.get("BENCH_THREADS", "8"),
        help="gunicorn threads per worker",
    )
    add("--connections", type=_positive, default=env.get("BENCH_CONNECTIONS", "16"), help="wrk -c")
    add("--wrk-threads", type=_positive, default=env.get("BENCH_WRK_THREADS", "1"), help="wrk -t")
    add(
        "--targets",
        type=_names,
        default=env.get("BENCH_TARGETS", ""),
        help="subset of targets (default all)",
    )
    add(
        "--out",
        type=Path,
        default=env.get("BENCH_OUT", str(ROOT / "bench" / "results")),
        help="results folder",
    )
    return parser


def parse(argv: Sequence[str], env: Mapping[str, str]) -> Options:
    """Read flags, falling back to BENCH_* variables, then to the documented defaults."""
    args = _parser(env).parse_args(list(argv))
    return Options(
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        workers=args.workers,
        threads=args.threads,
        connections=args.connections,
        wrk_threads=args.wrk_threads,
        targets=args.targets,
        out_dir=args.out.resolve(),
    )
