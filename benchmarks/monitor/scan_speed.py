"""Scan speed and memory against GoAccess and ``wc -l`` on the same combined log, in one run.

Run: ``python -m benchmarks.monitor.scan_speed [--hours 24] [--peak-rpm 1100] [--rounds 3]``. It
generates a log (seed 9001, attacks included), then times ``wc -l``, ``goaccess LOG --log-format=COMBINED
-o report.json`` and ``detente monitor scan`` as child processes, in turn, round after round (this
machine's speed moves by a fifth within minutes, so the ratio is taken between runs of the same
minutes), each with its peak resident memory, and prints the median time of each with its best, lines
per second and the ratios of the medians. ``benchmarks.monitor.memory`` checks that memory stays flat
on longer logs.
"""

from __future__ import annotations

import argparse
import compileall
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from ..common import cpu_counters, stolen_note
from .interleaved import in_turn

# the console script a user runs, start-up included
SCAN = [str(Path(sys.executable).with_name("detente")), "monitor", "scan"]
PACKAGE = Path(__file__).resolve().parents[2] / "src" / "detente"


def readers(log: Path, work: Path) -> dict[str, list[str]]:
    """The commands that read ``log``: the floor, GoAccess (when installed) and the scan."""
    out = {"wc -l": ["wc", "-l", str(log)]}
    if shutil.which("goaccess"):
        out["goaccess"] = ["goaccess", str(log), "--log-format=COMBINED", "-o", str(work / "report.json")]
    out["detente scan"] = [*SCAN, str(log), "--out", str(work / "out"), "--quiet"]
    return out


def measure(commands: dict[str, list[str]], rounds: int) -> dict[str, tuple[float, float, float]]:
    """Each command once a round, in turn, each in a fresh child process: median and best wall
    seconds, and the largest peak memory (MB)."""
    return {
        name: (statistics.median(r[0] for r in got), min(r[0] for r in got), max(r[2] for r in got))
        for name, got in in_turn(commands, rounds).items()
    }


def main(argv: list[str] | None = None) -> int:
    """Generate, measure, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--peak-rpm", type=float, default=1100.0)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each reader, in turn")
    args = parser.parse_args(argv)
    # An installed package has its bytecode (pip compiles it); a checkout run with
    # PYTHONDONTWRITEBYTECODE set would compile every module of the package on every scan.
    compileall.compile_dir(PACKAGE, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = work / "access.log"
        # generate in a child: a child's peak memory counts its parent's at fork, so the parent
        # must stay small for the memory figures to mean anything
        code = (
            "import sys; from pathlib import Path; from detente.monitor.generate import Mix, generate;"
            f"generate(9001, Mix(hours={args.hours}, peak_rpm={args.peak_rpm}), Path(sys.argv[1]),"
            " Path(sys.argv[2]))"
        )
        if subprocess.run([sys.executable, "-c", code, str(log), str(work / "t.json")]).returncode:
            raise SystemExit("the log could not be generated: see the error above")
        lines = int(json.loads((work / "t.json").read_text())["lines"])
        size = log.stat().st_size / 1e6
        print(f"log: {lines:,} lines, {size:.0f} MB; medians of {args.rounds} rounds, each reader in turn")
        before = cpu_counters()
        results = measure(readers(log, work), args.rounds)
        stolen = stolen_note(before, cpu_counters())
        base = results.get("goaccess")
        for name, (secs, best, rss) in results.items():
            ratio = f"{base[0] / secs:5.2f}x goaccess" if base else ""
            rate = f"{lines / secs:12,.0f} lines/s"
            print(f"{name:14s} {secs:7.2f} s (best {best:.2f}) {rate} {rss:7.0f} MB {ratio}")
        print(stolen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
