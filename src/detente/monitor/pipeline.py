"""Scan: inputs -> parse -> aggregate -> engine -> a :class:`ScanResult`.

The scan streams: one chunk of lines is in memory at a time, plus the engine's bounded buffers, so
memory does not grow with the log. Buckets are final once the log has moved :data:`LATENESS` past
them (servers write lines in order of completion, so a slow request can come out a little late).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .aggregate import aggregate
from .assets import Asset
from .attribution import Attribution
from .engine import Engine
from .features import Tuning
from .formats import LogFormat
from .incidents import Evidence, Incident
from .inputs import chunks, open_log
from .parse import Parser, ParseStats

LATENESS = timedelta(seconds=60)
Progress = Callable[[int], None]


@dataclass
class ScanResult:
    """What a scan found, and what it read."""

    assets: Sequence[Asset]
    incidents: list[tuple[Incident, Evidence]]
    stats: ParseStats
    timeline: dict[str, dict[datetime, int]]
    first: datetime | None = None
    last: datetime | None = None
    files: list[str] = field(default_factory=list)


@dataclass
class Scanner:
    """Feeds chunks of lines through parser and engine; usable for files and for followed input."""

    parser: Parser
    engine: Engine
    stats: ParseStats = field(default_factory=ParseStats)
    first: datetime | None = None
    last: datetime | None = None

    def feed(self, chunk: bytes) -> None:
        """Parse and aggregate one chunk of whole lines."""
        frame, stats = self.parser.parse(chunk)
        self.stats.add(stats)
        if not frame.height:
            return
        lo, hi = frame["ts"].min(), frame["ts"].max()
        assert isinstance(lo, datetime)
        assert isinstance(hi, datetime)
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)
        self.engine.feed(aggregate(frame, self.parser.assets))

    def advance(self, watermark: datetime | None = None) -> None:
        """Detect over every bucket before ``watermark`` (default: the log's latest time less lateness)."""
        if watermark is None and self.last is not None:
            watermark = self.last - LATENESS
        if watermark is not None:
            self.engine.advance(watermark)


def scan(
    files: Sequence[Path],
    fmt: LogFormat,
    assets: Sequence[Asset],
    geo: Attribution,
    tuning: Tuning | None = None,
    timezone: str = "UTC",
    progress: Progress | None = None,
) -> ScanResult:
    """Scan log files (oldest first) and return the incidents found."""
    scanner = Scanner(Parser(fmt, assets, timezone), Engine(assets, geo, tuning or Tuning()))
    for path in files:
        with open_log(path) as stream:
            for chunk in chunks(stream):
                scanner.feed(chunk)
                scanner.advance()
                if progress is not None:
                    progress(len(chunk))
    incidents = scanner.engine.finish()
    incidents.sort(key=lambda pair: (pair[0].start, pair[0].asset, pair[0].kind))
    return ScanResult(
        assets=assets,
        incidents=incidents,
        stats=scanner.stats,
        timeline=scanner.engine.timeline,
        first=scanner.first,
        last=scanner.last,
        files=[str(p) for p in files],
    )
