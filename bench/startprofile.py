"""Where a cold start's time goes, line by line: echoscope beside its libraries' floor and httpbin.

`python -m bench.startprofile [--starts N] [--out DIR]` (bench/.venv-peers' python, from the
project root, after bench/run.sh has made the two environments; `make bench` runs it last)
writes DIR/start.md (bench/results by default) and prints it. Two measures, N interleaved samples per target,
medians kept:

- the real start, as bench.coldstart launches it: exec → the master's fork of its worker
  (read from /proc/PID/task/PID/children every 2 ms) and exec → the first 200 on the
  ready path (polled every 2 ms), so the master's share and the worker's are apart;
- the same start line by line (bench/startlines.py) in a fresh interpreter of the target's
  own environment: each import, config, app and first answer, what it adds on top of the
  lines before it, and the interpreter's own start (exec to exit, less the lines).

`floor-start` is echoscope's libraries alone, set up as documented (bench/peers/floorstart.py):
what its own lines are measured against, and what the goal leaves them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import machine, markdown, measure, options, servers, startlines, targets

DEFAULT_OUT = str(options.ROOT / "bench" / "results")
STARTS = 9
POLL = 0.002  # seconds between looks at a starting server (bench.coldstart's: 0.02)
START_TIMEOUT = 60.0
MARKS = ("fork", "ready")  # a real start's two times, beside the lines in each sample
GOAL_RATIO = 1.3  # issue 24: exec to first 200 at most 1.3x httpbin's
TARGETS = (targets.ECHOSCOPE_FULL, targets.FLOOR_START, targets.HTTPBIN)
NAMES = tuple(target.name for target in TARGETS)
INTERPRETER = "the interpreter: exec to its first line, and exit"
# The lines that are echoscope's own code: the floor has none of them.
OWN = (startlines.CONFIG, startlines.APP_MODULES, startlines.RULES, startlines.CREATE_REST)
Samples = dict[str, list[float]]


def _children(pid: int) -> str:
    # This one file, not psutil's children(): that reads every process's stat at each poll,
    # CPU the start being measured would share two cores with.
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().strip()
    except OSError:
        return ""


def real_start(target: targets.Target, slot: targets.Slot, log: Path) -> tuple[float, float]:
    """(seconds from exec to the worker's fork, seconds from exec to the first 200)."""
    launch = target.launch(slot)
    began = time.perf_counter()
    process = servers.start(launch, log)
    try:
        while not _children(process.pid):
            if process.poll() is not None or time.perf_counter() - began > START_TIMEOUT:
                raise servers.ServerError(f"{target.name} never forked a worker")
            time.sleep(POLL)
        forked = time.perf_counter() - began
        servers.wait_ready(process, slot.port, launch.ready_path, START_TIMEOUT, POLL)
        return forked, time.perf_counter() - began
    finally:
        servers.stop(process)


def lines(target: targets.Target, slot: targets.Slot) -> dict[str, float]:
    """bench.startlines for the target in a fresh interpreter; its lines plus the interpreter's."""
    launch = target.launch(slot)
    argv = [str(target.python), "-m", "bench.startlines", target.name]
    began = time.perf_counter()
    done = subprocess.run(
        argv, cwd=launch.cwd, env=launch.env, capture_output=True, text=True, timeout=60
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise servers.ServerError(f"startlines {target.name}: {done.stderr.strip()[-500:]}")
    seconds: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return {INTERPRETER: wall - sum(seconds.values()), **seconds}


def sample_all(starts: int, sink_port: int, scratch: Path, log_dir: Path) -> dict[str, Samples]:
    """`starts` interleaved rounds: per target, its real start's two marks and its lines."""
    samples: dict[str, Samples] = {target.name: {} for target in TARGETS}
    for _ in range(starts):
        for target in TARGETS:
            slot = targets.Slot(servers.free_port(), 1, 8, sink_port, scratch)
            forked, ready = real_start(target, slot, log_dir / f"start-{target.name}.log")
            measured = {"fork": forked, "ready": ready, **lines(target, slot)}
            for name, seconds in measured.items():
                samples[target.name].setdefault(name, []).append(seconds)
    return samples


def _ms(values: list[float] | None) -> str:
    return markdown.num(None if values is None else 1000 * statistics.median(values), "{:.1f}")


def _line_names(samples: dict[str, Samples]) -> list[str]:
    names: list[str] = []
    for by_line in samples.values():
        names += [name for name in by_line if name not in MARKS and name not in names]
    return names


def render(samples: dict[str, Samples], starts: int) -> str:
    """start.md: the machine, the real start's split, the lines, and what the goal leaves."""
    median = {
        target: {name: statistics.median(values) for name, values in by_line.items()}
        for target, by_line in samples.items()
    }
    parts = (_header(starts), _real(samples, median), _lines(samples, median), _verdict(median))
    return "\n".join(line for part in parts for line in part)


def _header(starts: int) -> list[str]:
    found = {
        "machine": machine.describe(),
        "echoscope": machine.versions(targets.PROJECT_PYTHON, machine.ECHOSCOPE_PACKAGES),
        "peers": machine.versions(targets.PEERS_PYTHON, ("httpbin", "flask", "gunicorn")),
    }
    return [
        "# Cold start, line by line",
        "",
        f"`python -m bench.startprofile --starts {starts}`: {starts} interleaved starts per target,"
        " medians in ms, 1 worker x 8 threads.",
        "",
        "```json",
        json.dumps(found, indent=1),
        "```",
        "",
    ]


def _real(samples: dict[str, Samples], median: dict[str, dict[str, float]]) -> list[str]:
    names, httpbin = NAMES, median[targets.HTTPBIN.name]["ready"]
    rows = [
        ["exec → the master forks its worker", *(_ms(samples[n]["fork"]) for n in names)],
        ["fork → the worker's first 200", *(_ms(_worker(samples[n])) for n in names)],
        ["exec → first 200", *(_ms(samples[n]["ready"]) for n in names)],
        ["x httpbin's", *(f"{median[n]['ready'] / httpbin:.2f}" for n in names)],
    ]
    return [
        "## The real start (exec of gunicorn → first 200)",
        "",
        *markdown.table(["", *names], rows),
        "",
        "echoscope's master imports the libraries before it forks (its workers share their"
        " pages); the floor's and httpbin's workers import them after the fork.",
        "",
    ]


def _lines(samples: dict[str, Samples], median: dict[str, dict[str, float]]) -> list[str]:
    rows = [[name, *(_ms(samples[n].get(name)) for n in NAMES)] for name in _line_names(samples)]
    rows.append(["sum", *(f"{1000 * _sum(median[n]):.1f}" for n in NAMES)])
    return [
        "## The same start in process, line by line",
        "",
        "Each line is what it adds to the lines above it, in the order the start runs them"
        " (`bench/startlines.py`); — where the target has no such line.",
        "",
        *markdown.table(["line", *NAMES], rows),
        "",
    ]


def _verdict(median: dict[str, dict[str, float]]) -> list[str]:
    echo, floor, httpbin = (median[name] for name in NAMES)
    goal = GOAL_RATIO * httpbin["ready"]
    own = sum(echo[name] for name in OWN)
    return [
        "## What the goal leaves echoscope's own lines",
        "",
        f"- The goal, {GOAL_RATIO}x httpbin's {1000 * httpbin['ready']:.0f} ms:"
        f" **{1000 * goal:.0f} ms**.",
        f"- echoscope's libraries alone, set up as documented (`floor-start`):"
        f" {1000 * floor['ready']:.0f} ms ({floor['ready'] / httpbin['ready']:.2f}x).",
        f"- So the goal leaves echoscope's own lines {1000 * max(goal - floor['ready'], 0.0):.0f}"
        f" ms; in process they take {1000 * own:.0f} ms, the URL rules"
        f" {1000 * echo[startlines.RULES]:.0f} ms of it.",
        f"- echoscope starts in {1000 * echo['ready']:.0f} ms,"
        f" {echo['ready'] / httpbin['ready']:.2f}x httpbin's.",
        "",
    ]


def _worker(by_line: Samples) -> list[float]:
    return [ready - fork for fork, ready in zip(by_line["fork"], by_line["ready"], strict=True)]


def _sum(by_line: dict[str, float]) -> float:
    return sum(seconds for name, seconds in by_line.items() if name not in MARKS)


def main(argv: Sequence[str]) -> int:
    """Measure, write DIR/start.md, print it."""
    parser = argparse.ArgumentParser(description="echoscope's cold start, line by line")
    parser.add_argument("--starts", type=int, default=STARTS, help="interleaved starts per target")
    parser.add_argument("--out", type=Path, default=os.environ.get("BENCH_OUT", DEFAULT_OUT))
    args, _ = parser.parse_known_args(list(argv))  # run.sh hands over the load run's flags too
    starts, out_dir = max(args.starts, 1), args.out.resolve()
    servers.install_cleanup()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="echoscope-start-") as scratch,
            measure.sink(out_dir) as sink_port,
        ):
            samples = sample_all(starts, sink_port, Path(scratch), out_dir)
    finally:
        servers.stop_all()
    text = render(samples, starts)
    (out_dir / "start.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
