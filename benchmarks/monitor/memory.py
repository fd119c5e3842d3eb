"""Peak memory of ``detente monitor scan`` as the log grows: it must stay flat (a 10 GB log in < 1 GB).

Run: ``python -m benchmarks.monitor.memory --work /tmp/mon/big --sizes 1,3,10``. The log is written by
the project's generator as consecutive 48-hour segments (seeds 9100, 9101, ...; each about 0.6 GB at
a peak of 1,100 requests per minute, every attack kind in each), kept in ``--work`` and reused. For each
size the scan reads the first segments that add up to it, as one rotated log (oldest first), in a
fresh child process whose peak resident memory is read from its own rusage. Delete ``--work`` after.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from .interleaved import run
from .scan_speed import SCAN

HOURS = 48
GENERATE = (
    "import sys; from datetime import UTC, datetime, timedelta; from pathlib import Path;"
    "from detente.monitor.generate import Mix, generate; i = int(sys.argv[1]);"
    "start = datetime(2026, 6, 14, tzinfo=UTC) + timedelta(hours={hours} * i);"
    "generate(9100 + i, Mix(hours={hours}, peak_rpm=1100, start=start), Path(sys.argv[2]), Path(sys.argv[3]))"
)


def segment(work: Path, i: int) -> tuple[Path, int]:
    """Segment ``i`` (generated in a child process unless already there) and its number of lines."""
    log, truth = work / f"seg{i:02d}.log", work / f"seg{i:02d}.json"
    if not truth.exists():
        code = GENERATE.format(hours=HOURS)
        subprocess.run([sys.executable, "-c", code, str(i), str(log), str(truth)], check=True)
    return log, int(json.loads(truth.read_text())["lines"])


def main(argv: list[str] | None = None) -> int:
    """Generate what is missing, scan each size, print one row per size."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--sizes", default="1,3,10", help="comma-separated sizes in GB")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"{'size':>8} {'files':>5} {'lines':>12} {'seconds':>8} {'lines/s':>10} {'peak MB':>8}")
    for size in (float(x) for x in args.sizes.split(",")):
        files: list[Path] = []
        lines = 0
        while sum(f.stat().st_size for f in files) < size * 1e9:
            log, n = segment(args.work, len(files))
            files.append(log)
            lines += n
        gb = sum(f.stat().st_size for f in files) / 1e9
        secs, _, peak = run([*SCAN, *map(str, files), "--out", str(args.work / "out"), "--quiet"])
        print(f"{gb:6.2f}GB {len(files):5d} {lines:12,d} {secs:8.1f} {lines / secs:10,.0f} {peak:8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
