"""Small helpers shared by the benchmarks: timing, peak memory in a child process, and a result table."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path("var/bench")
console = Console(width=150)


@dataclass(frozen=True)
class Result:
    """One measured figure, with its baseline measured in the same run."""

    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float = 0.0

    @property
    def ratio(self) -> float:
        """value / baseline (0 when there is no baseline)."""
        return self.value / self.baseline if self.baseline else 0.0


def rate(count: int, run: Callable[[], object]) -> float:
    """Operations per second of ``run``, which performs ``count`` operations."""
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def per_call_us(run: Callable[[int], object], calls: int, repeat: int = 3) -> float:
    """Median over ``repeat`` rounds of the mean microseconds per call of ``run(i)``."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(calls):
            run(i)
        rounds.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(rounds)


def peak_rss_mb(module: str, *args: str) -> float:
    """Run ``python -m module args`` and return its peak resident memory in MB (it prints VmHWM in KB)."""
    out = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1]) / 1024


def report(title: str, results: list[Result]) -> None:
    """Print a table and save the results as JSON under var/bench/."""
    table = Table(title=title)
    for column in ("measure", "value", "baseline", "ratio"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for r in results:
        base = f"{r.baseline:,.1f} ({r.baseline_name})" if r.baseline_name else "-"
        ratio = f"{r.ratio:.2f}x" if r.baseline_name else "-"
        table.add_row(r.name, f"{r.value:,.1f} {r.unit}", base, ratio)
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    slug = title.lower().replace(" ", "-").replace("/", "-")
    (RESULTS / f"{slug}.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
