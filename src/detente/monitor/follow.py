"""Follow mode: read a growing log, detect as it goes, report an attack as soon as it is confirmed.

The clock is injected (``clock() -> datetime``): in production the wall clock, in tests the log's own
time, so "reported within 60 seconds of the attack's start" is measured in log time. A bucket is final
once the clock has passed its end by :data:`FOLLOW_LATENESS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .inputs import Follower
from .pipeline import Scanner

FOLLOW_LATENESS = timedelta(seconds=5)
Clock = Callable[[], datetime]
Alert = Callable[[dict[str, Any]], None]


@dataclass
class FollowLoop:
    """One step at a time: poll the file, feed new lines, advance to the clock, emit new alerts."""

    follower: Follower
    scanner: Scanner
    clock: Clock
    on_alert: Alert
    seen: int = 0
    reported: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)

    def step(self) -> None:
        """Do one poll; emit every alert raised since the last step, stamped with the clock."""
        data = self.follower.poll()
        if data:
            self.scanner.feed(data)
        now = self.clock()
        self.scanner.advance(now - FOLLOW_LATENESS)
        alerts = self.scanner.engine.alerts
        for alert in alerts[self.seen :]:
            self.reported.append((now, alert))
            self.on_alert(alert)
        self.seen = len(alerts)

    def run(
        self, sleep: Callable[[float], None], interval: float = 1.0, stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Step until ``stop()`` says so, sleeping ``interval`` seconds between steps."""
        while not stop():
            self.step()
            sleep(interval)
