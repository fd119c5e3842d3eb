"""``make bench``: run every benchmark in one process tree and print their tables."""

from __future__ import annotations

from benchmarks import http_bench, service_bench, tlog_bench
from benchmarks.assurances import submit_rate
from benchmarks.monitor import lookups, scan_speed


def main() -> None:
    """Run the benchmarks in order."""
    tlog_bench.main()
    http_bench.main()
    submit_rate.main([])
    service_bench.main([])
    scan_speed.main([])
    lookups.main()


if __name__ == "__main__":
    main()
