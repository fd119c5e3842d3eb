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


def cpu_counters() -> list[int]:
    """The machine's CPU time counters, the first line of ``/proc/stat`` (empty where there is none)."""
    try:
        with Path("/proc/stat").open(encoding="ascii") as stat:
            return [int(field) for field in stat.readline().split()[1:]]
    except OSError:
        return []


def stolen_note(before: list[int], after: list[int]) -> str:
    """A line saying what share of the cores the hypervisor took between two :func:`cpu_counters`.

    On the virtual machines here ``steal`` (the eighth counter) reached 13-25% of both cores in some
    hours, and a scan on two threads loses more to it than a one-thread baseline: a ratio measured
    then is that hour's, and the line says so (docs/monitor.md, fourteenth session).
    """
    if len(before) < 8 or len(after) < 8:
        return "stolen CPU: unknown (no /proc/stat)"
    spent = [b - a for a, b in zip(before[:8], after[:8], strict=True)]  # user..steal; guest is in user
    total = sum(spent)
    share = spent[7] / total if total > 0 else 0.0
    verdict = "ratios above are this machine's at a busy hour" if share >= 0.05 else "negligible"
    return f"stolen CPU during the runs (steal in /proc/stat): {share:.1%} of the cores, {verdict}"


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
