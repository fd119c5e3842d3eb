"""Scan speed and memory against GoAccess and ``wc -l`` on the same combined log, in one run.

Run: ``python -m benchmarks.monitor.scan_speed [--hours 24] [--peak-rpm 1100]``. It generates a log
(seed 9001, attacks included), then times ``wc -l``, ``goaccess LOG --log-format=COMBINED -o
report.json`` and ``detente monitor scan`` as child processes, each with its peak resident memory, and
prints lines per second and the ratios. A second, longer log checks that memory stays flat.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# the console script a user runs, start-up included
SCAN = [str(Path(sys.executable).with_name("detente")), "monitor", "scan"]
PACKAGE = Path(__file__).resolve().parents[2] / "src" / "detente"


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one child process, from its own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd[0]} failed with status {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024


def measure(log: Path, work: Path) -> dict[str, tuple[float, float]]:
    """Time the three readers of ``log``; each in a fresh child process."""
    out: dict[str, tuple[float, float]] = {"wc -l": timed(["wc", "-l", str(log)])}
    if shutil.which("goaccess"):
        out["goaccess"] = timed(
            ["goaccess", str(log), "--log-format=COMBINED", "-o", str(work / "report.json")]
        )
    out["detente scan"] = timed([*SCAN, str(log), "--out", str(work / "out"), "--quiet"])
    return out


def main(argv: list[str] | None = None) -> int:
    """Generate, measure, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--peak-rpm", type=float, default=1100.0)
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
        subprocess.run([sys.executable, "-c", code, str(log), str(work / "t.json")], check=True)
        lines = int(json.loads((work / "t.json").read_text())["lines"])
        size = log.stat().st_size / 1e6
        print(f"log: {lines:,} lines, {size:.0f} MB")
        results = measure(log, work)
        base = results.get("goaccess")
        for name, (secs, rss) in results.items():
            ratio = f"{base[0] / secs:5.2f}x goaccess" if base else ""
            print(f"{name:14s} {secs:7.2f} s {lines / secs:12,.0f} lines/s {rss:7.0f} MB {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
