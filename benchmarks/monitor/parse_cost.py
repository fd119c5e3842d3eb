"""Parse and aggregation cost per line on one core, against the raw cost of reading the lines.

Run: ``python -m benchmarks.monitor.parse_cost [--lines 300000] [--repeat 10] [--format combined]``.
A seeded log is generated (seed 9001, the scan benchmark's mix) and cut into the scan's chunks, and
each stage is timed on them, the best of ``--repeat`` runs of CPU time. The stages are: splitting
the lines (the C splitter, or Polars for JSON), the whole parse (the normalised frame), the parse
with the aggregation the engine takes (the general path), and the same aggregates counted from the
splitter's codes (:mod:`detente.monitor.coded`, the path a scan takes in the common case); then the
two aggregation paths alone, from the same chunks split beforehand. The
baseline is ``bytes.splitlines`` on the same chunks: the cost of only finding the lines, in C.
Polars runs on one thread, so the figures are per core.
Comparing two versions of the code means running this under each, interleaved (docs/performance.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # before Polars is imported: figures per core

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detente.monitor.aggregate import aggregate
from detente.monitor.assets import default_asset
from detente.monitor.coded import aggregate_coded
from detente.monitor.formats import resolve
from detente.monitor.generate import Mix, generate
from detente.monitor.inputs import chunks, open_log
from detente.monitor.parse import Parser, split_fields, split_raw


def best(work: Callable[[Any], object], parts: Sequence[object], repeat: int) -> float:
    """The least CPU time of ``repeat`` passes of ``work`` over every chunk."""
    least = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for part in parts:
            work(part)
        least = min(least, time.process_time() - start)
    return least


def main(argv: list[str] | None = None) -> int:
    """Generate, cut, time and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--format", default="combined", help="combined, common or a format string")
    args = parser.parse_args(argv)
    fmt = resolve(args.format)
    assets = (default_asset(),)
    reader = Parser(fmt, assets)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        hours = args.lines / 1_500_000 * 24  # the scan benchmark's log: 1.5M lines a day
        start = datetime(2026, 6, 14, tzinfo=UTC)
        generate(9001, Mix(hours=hours, peak_rpm=1100, start=start), log, Path(tmp) / "truth.json")
        with open_log(log) as stream:
            parts = list(chunks(stream))
    lines = sum(part.count(b"\n") for part in parts)
    stages: dict[str, Callable[[bytes], object]] = {
        "find the lines (bytes.splitlines)": bytes.splitlines,
        "split the fields": lambda part: split_fields(part, fmt) if fmt.steps else reader.lines(part),
        "parse (normalised frame)": reader.parse,
        "parse and aggregate": lambda part: aggregate(reader.parse(part)[0], assets),
        "split and count by codes": lambda part: aggregate_coded(split_raw(part, fmt), reader),
    }
    # the two aggregation paths alone, from chunks split beforehand (the split is the same for both)
    after_split: dict[str, Callable[[Any], object]] = {
        "  from the split: general path": lambda raw: aggregate(reader.parse_split(raw)[0], assets),
        "  from the split: count by codes": lambda raw: aggregate_coded(raw, reader),
    }
    if not fmt.steps:  # JSON lines have no splitter's codes
        del stages["split and count by codes"]
        after_split = {}
    print(f"{lines:,} lines in {len(parts)} chunks, format {fmt.name}, one core, best of {args.repeat}")
    timed: list[tuple[str, Callable[[Any], object], Sequence[object]]] = [
        (n, w, parts) for n, w in stages.items()
    ]
    raws = [split_raw(part, fmt) for part in parts] if after_split else []
    timed += [(name, work, raws) for name, work in after_split.items()]
    for name, work, inputs in timed:
        seconds = best(work, inputs, args.repeat)
        print(f"{name:36s} {seconds / lines * 1e6:6.3f} us a line ({lines / seconds:12,.0f} lines/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
