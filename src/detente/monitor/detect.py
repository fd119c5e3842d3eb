"""The detector kernel: one asset, one bucket at a time, values in and values out.

``step(state, bucket)`` takes the asset's state (baselines and open episodes) and the 60-second window
values of one bucket, and returns the new state and the episodes it opened or closed. It does no I/O and
reads no clock: the caller says which buckets are final.

Families and their triggers, each against a baseline learned from the traffic (an exponentially
weighted mean and variance per metric, frozen while any episode is open so an attack cannot teach the
baseline that it is normal):

- ``flood``: one or more sources above the heavy rate (few-source flood);
- ``dflood``: many persistent sources, their requests far above the baseline's persistent volume, and the
  site volume above its baseline (a flash crowd raises volume but not persistent sources);
- ``scan``: missing paths and probe hits site-wide far above the baseline, or one source with many;
- ``login``: failed logins far above the baseline and a failure ratio far above normal, or one source with
  many failures.

An episode opens after ``confirm_buckets`` triggering buckets in a row and closes after ``gap_buckets``
without a trigger. Its times are bucket starts (datetimes) so the kernel needs no calendar.

Baselines also stop learning while persistent sources surge without (yet) lifting site volume over its
bar: a distributed flood that ramps up over many minutes would otherwise raise the bar as fast as it
climbs, and never cross it (a 410-source flood of the development seed 101 did exactly that). A flash
crowd brings no persistent sources, so the site still learns from it. The pause lasts at most
``suspect_buckets`` in a row, so a lasting benign change (a new monitoring fleet) cannot freeze the
baselines for good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from .aggregate import BUCKET_SECONDS
from .features import Tuning

FAMILIES = ("flood", "dflood", "scan", "login")
METRICS = ("R60", "F60", "OK60", "M60", "PV60")
INPUTS = (*METRICS, "HC", "PC", "FMAX", "MMAX")  # every window value :func:`step` reads


class Stat(NamedTuple):
    """Exponentially weighted mean and variance of one metric (a tuple: the kernel makes five a bucket)."""

    mean: float = 0.0
    var: float = 0.0

    def update(self, x: float, alpha: float) -> Stat:
        """West's incremental EWMA update."""
        diff = x - self.mean
        mean = self.mean + alpha * diff
        return Stat(mean, (1 - alpha) * (self.var + alpha * diff * diff))

    def sigma(self) -> float:
        """Standard deviation with a Poisson floor: counts are never less noisy than Poisson."""
        return math.sqrt(max(self.var, self.mean, 1.0))


@dataclass(frozen=True)
class Episode:
    """A family's run of triggering buckets: ``start`` of the first, ``last`` of the latest."""

    start: datetime
    last: datetime
    streak: int
    confirmed: bool


@dataclass(frozen=True)
class Event:
    """An episode opened (``end`` is None) or closed."""

    family: str
    action: str
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class AssetState:
    """Everything the kernel remembers about one asset."""

    seen: int = 0
    stats: dict[str, Stat] = field(default_factory=lambda: {m: Stat() for m in METRICS})
    episodes: dict[str, Episode] = field(default_factory=dict)
    suspect: int = 0  # buckets in a row with a surge of persistent sources


def initial(requests_per_minute: float | None) -> AssetState:
    """A fresh state; an expected traffic level ends the warm-up at once."""
    stats = {m: Stat() for m in METRICS}
    if requests_per_minute is None:
        return AssetState(stats=stats)
    stats["R60"] = Stat(requests_per_minute, requests_per_minute)
    return AssetState(seen=10**9, stats=stats)


def persistent_surge(state: AssetState, b: dict[str, float], t: Tuning) -> bool:
    """Many persistent sources, their requests far above the baseline's persistent volume."""
    s = state.stats
    pv_excess = b["PV60"] - s["PV60"].mean
    return (
        state.seen >= t.warmup_buckets
        and b["PC"] >= t.dflood_min_sources
        and pv_excess >= max(t.dflood_min_rpm, t.dflood_share * s["R60"].mean)
    )


def triggers(state: AssetState, b: dict[str, float], t: Tuning) -> dict[str, bool]:
    """Which families this bucket triggers (``b`` holds the bucket's window values)."""
    return _triggers(state, b, t, persistent_surge(state, b, t))


def _triggers(state: AssetState, b: dict[str, float], t: Tuning, surge: bool) -> dict[str, bool]:
    """:func:`triggers`, given :func:`persistent_surge` (the step needs it too: computed once)."""
    s = state.stats
    base_r = s["R60"].mean
    dflood = surge and b["R60"] >= base_r + t.volume_sigmas * s["R60"].sigma()
    scan_bar = max(t.scan_min, s["M60"].mean + t.sigmas * s["M60"].sigma())
    logins = b["F60"] + b["OK60"]
    ratio = b["F60"] / logins if logins else 0.0
    base_logins = s["F60"].mean + s["OK60"].mean
    base_ratio = s["F60"].mean / base_logins if base_logins else 0.0
    login_bar = max(t.login_min, s["F60"].mean + t.sigmas * s["F60"].sigma())
    return {
        "flood": b["HC"] >= 1,
        "dflood": bool(dflood),
        "scan": b["M60"] >= scan_bar or b["MMAX"] >= t.scan_source_min,
        "login": (b["F60"] >= login_bar and ratio >= max(t.login_ratio, base_ratio + 0.3))
        or b["FMAX"] >= t.login_source_min,
    }


def step(state: AssetState, at: datetime, b: dict[str, float], t: Tuning) -> tuple[AssetState, list[Event]]:
    """Advance one bucket: update episodes, then (if nothing is open) the baselines."""
    surge = persistent_surge(state, b, t)
    fired = _triggers(state, b, t, surge)
    events: list[Event] = []
    episodes = state.episodes
    if episodes or any(fired.values()):  # most buckets of most logs: nothing open, nothing fired
        episodes = _episodes(episodes, at, fired, t, events)
    stats = state.stats
    suspect = state.suspect + 1 if surge else 0
    waiting = 0 < suspect <= t.suspect_buckets
    if not episodes and not any(fired.values()) and not waiting:
        alpha = 1 - math.exp(-BUCKET_SECONDS / t.halflife_s * (1 if state.seen > 30 else 20))
        stats = {m: stats[m].update(b[m], alpha) for m in METRICS}
    return AssetState(state.seen + 1, stats, episodes, suspect), events


def _episodes(
    before: dict[str, Episode], at: datetime, fired: dict[str, bool], t: Tuning, events: list[Event]
) -> dict[str, Episode]:
    """The families' episodes after bucket ``at``; an episode confirmed or ended is added to ``events``."""
    episodes = dict(before)
    gap = t.gap_buckets * BUCKET_SECONDS
    for family in FAMILIES:
        ep = episodes.get(family)
        if fired[family]:
            ep = _extend(ep, at)
            if not ep.confirmed and ep.streak >= t.confirm_buckets:
                ep = replace(ep, confirmed=True)
                events.append(Event(family, "open", ep.start))
            episodes[family] = ep
        elif ep is not None and (at - ep.last).total_seconds() > gap:
            if ep.confirmed:
                events.append(Event(family, "close", ep.start, ep.last))
            del episodes[family]
        elif ep is not None and not ep.confirmed:
            del episodes[family]  # a lone trigger that was not confirmed is forgotten
    return episodes


def _extend(ep: Episode | None, at: datetime) -> Episode:
    if ep is None:
        return Episode(start=at, last=at, streak=1, confirmed=False)
    return replace(ep, last=at, streak=ep.streak + 1)


def flush(state: AssetState) -> tuple[AssetState, list[Event]]:
    """Close every confirmed episode (end of input)."""
    events = [Event(f, "close", ep.start, ep.last) for f, ep in state.episodes.items() if ep.confirmed]
    return replace(state, episodes={}), events
