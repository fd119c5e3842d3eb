"""Commands timed in turn, round after round: medians of wall time and CPU time, and peak memory.

Run: ``python -m benchmarks.monitor.interleaved --rounds 4 'goaccess LOG --log-format=COMBINED -o
r.json' 'detente monitor scan LOG --quiet' 'env PYTHONPATH=/tmp/old/src detente monitor scan LOG
--quiet'``. The machine's speed moves by a fifth within minutes here, so two versions of the code (or
the scan and GoAccess) are only compared when their runs alternate. Each command is a child process
whose wall time is taken around it and whose CPU time and peak resident memory come from its own
rusage (``os.wait4``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import time
from collections.abc import Mapping


def run(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user and system) and peak resident MB of one run of ``command``."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{shlex.join(command)!r} failed with status {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def in_turn(commands: Mapping[str, list[str]], rounds: int) -> dict[str, list[tuple[float, float, float]]]:
    """Each command once a round, in turn, round after round: each name's runs (:func:`run`)."""
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            runs[name].append(run(command))
    return runs


def main(argv: list[str] | None = None) -> int:
    """Run every command once per round, in turn; print one line per command."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("commands", nargs="+")
    args = parser.parse_args(argv)
    runs = in_turn({c: shlex.split(c) for c in args.commands}, args.rounds)
    for command, got in runs.items():
        walls = [r[0] for r in got]
        cpu = statistics.median(r[1] for r in got)
        peak = max(r[2] for r in got)
        print(
            f"{statistics.median(walls):7.2f} s wall (best {min(walls):.2f})"
            f" {cpu:7.2f} CPU-s {peak:6.0f} MB  {command}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
