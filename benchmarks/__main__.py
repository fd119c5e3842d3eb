"""``make bench``: run every benchmark, each in its own process so that no figure (peak memory above
all, which Linux carries from a parent into its children) depends on what ran before it."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    "benchmarks.tlog_bench",
    "benchmarks.sqlite_rows",
    "benchmarks.http_bench",
    "benchmarks.assurances.submit_rate",
    "benchmarks.assurances.instructions",
    "benchmarks.assurances.in_force",
    "benchmarks.assurances.replay",
    "benchmarks.service_bench",
    "benchmarks.monitor.scan_speed",
    "benchmarks.monitor.parse_cost",
    "benchmarks.monitor.lookups",
]


def main() -> None:
    """Run the benchmarks in order; stop at the first that fails."""
    for module in BENCHMARKS:
        subprocess.run([sys.executable, "-m", module], check=True)


if __name__ == "__main__":
    main()
