"""``make bench``: run every benchmark in one process tree and print their tables."""

from __future__ import annotations

from benchmarks import http_bench, tlog_bench


def main() -> None:
    """Run the benchmarks in order."""
    tlog_bench.main()
    http_bench.main()


if __name__ == "__main__":
    main()
