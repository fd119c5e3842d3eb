"""Follow mode: read a growing log, detect as it goes, report an attack as soon as it is confirmed.

The log's own time decides what is final: a bucket is analysed once the log has reached
:data:`.pipeline.LATENESS` past its end (:attr:`.pipeline.Scanner.reached`: what five lines in a row
reached), the same allowance as a scan's, so follow and scan count the same lines late. So lines that
reach the file long after their time (a shipper's delay, a server clock behind) are analysed like any
others, and so are lines written out of order by up to that allowance (web-server workers flushing
their buffers in turn); alerts come up to that allowance after the attack is confirmed. Judged by the
wall clock, every line more than a few seconds late was once dropped, and with 5 s of log time a
quarter of two buffered workers' lines were. The wall clock (injected:
``clock() -> datetime``) serves only to analyse what was read once the log has been quiet for
:data:`IDLE`, to stamp alerts and to report the counts every :data:`REPORT_EVERY`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .incidents import iso
from .inputs import Follower
from .pipeline import LATENESS, Scanner

# of the wall clock without a new line: what was read is analysed to the log's time. As long as the
# lateness allowance: a worker that flushes its buffer less often than this leaves the log quiet in
# between, while another worker's lines are still to come (10 s once made them late)
IDLE = LATENESS
REPORT_EVERY = timedelta(minutes=1)  # of the wall clock, between two reports of the counts
Clock = Callable[[], datetime]
Alert = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class FollowCounts:
    """What a follower has read so far, and how far the log's time has come."""

    read: int
    parsed: int
    rejected: int
    late: int  # requests dated before what was already analysed: not analysed
    ahead: int  # lines dated hours past the log's time: waiting, and not the log's time
    reached: datetime | None

    def sentence(self) -> str:
        """The counts in one line."""
        when = iso(self.reached) if self.reached else "none yet"
        return (
            f"read {self.read:,} lines: {self.parsed:,} parsed, {self.rejected:,} rejected, "
            f"{self.late:,} late (dated before what was already analysed: not analysed), "
            f"{self.ahead:,} dated hours ahead of the log; log time reached {when}"
        )


@dataclass
class FollowLoop:
    """One step at a time: poll the file, feed new lines, advance to the log's time, emit new alerts."""

    follower: Follower
    scanner: Scanner
    clock: Clock
    on_alert: Alert
    on_counts: Callable[[FollowCounts], None] | None = None
    seen: int = 0
    reported: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    _read_at: datetime | None = None  # the wall clock when lines last came
    _flushed: bool = True  # what was read is analysed up to the log's time
    _counted_at: datetime | None = None

    def step(self) -> None:
        """Do one poll; emit every alert raised since the last step, stamped with the clock."""
        data = self.follower.poll()
        now = self.clock()
        reached = self.scanner.reached
        if data:
            self.scanner.feed(data)
            self._read_at, self._flushed = now, False
            reached = self.scanner.reached
            if reached is not None:
                # as a scan does: a shorter allowance drops lines that buffered workers write late
                self.scanner.advance(reached - LATENESS)
        elif not self._flushed and self._read_at is not None and now - self._read_at >= IDLE:
            # quiet for as long as the lateness allowance: no worker still holds a buffer of lines
            if reached is not None:
                self.scanner.advance(reached)
            self._flushed = True
        alerts = self.scanner.engine.alerts
        for alert in alerts[self.seen :]:
            self.reported.append((now, alert))
            self.on_alert(alert)
        self.seen = len(alerts)
        if self._counted_at is None:
            self._counted_at = now
        elif self.on_counts is not None and now - self._counted_at >= REPORT_EVERY:
            self._counted_at = now
            self.on_counts(self.counts())

    def counts(self) -> FollowCounts:
        """The counts so far."""
        s = self.scanner
        stats = s.stats
        return FollowCounts(stats.read, stats.parsed, stats.rejected, s.engine.late, s.far_ahead(), s.reached)

    def run(
        self, sleep: Callable[[float], None], interval: float = 1.0, stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Step until ``stop()`` says so, sleeping ``interval`` seconds between steps; report the counts
        at the end, however it comes (Ctrl-C too)."""
        try:
            while not stop():
                self.step()
                if not self.follower.more:  # a file read from its start: the next chunk at once
                    sleep(interval)
        finally:
            if self.on_counts is not None:
                self.on_counts(self.counts())
