"""Labelled attacks and benign surges for the generator; each returns its events and its truth.

Every attack ramps up over ``ramp`` seconds (sources join one by one, or the rate climbs), uses browser
user agents and the site's real pages, and draws its sources from the background's countries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .generate import PAGES, PROBES, WORDS, Event, World, key, session

Truth = dict[str, Any]


def _window(w: World, span: float, least: float, most: float) -> tuple[float, float]:
    length = float(w.rng.uniform(least, most))
    start = float(w.rng.uniform(0.1 * span, 0.9 * span - length))
    return start, start + length


def _truth(kind: str, start: float, end: float, sources: list[str]) -> Truth:
    return {"kind": kind, "start": start, "end": end, "sources": sorted({key(s) for s in sources})}


def flood(w: World, start: float, end: float) -> tuple[list[Event], Truth]:
    """1-4 sources, each ramping to 3-12 requests per second over ten minutes, real pages."""
    events: list[Event] = []
    sources = [w.address() for _ in range(int(w.rng.integers(1, 5)))]
    ramp = 600.0
    for src in sources:
        agent, peak = w.browser(), float(w.rng.uniform(3, 12))
        t = start
        while t < end:
            rate = peak * min(1.0, 0.05 + (t - start) / ramp)
            events.append((t, src, "GET", w.page(), 200, agent))
            t += float(w.rng.exponential(1 / rate))
    return events, _truth("flood", start, end, sources)


def distributed_flood(w: World, start: float, end: float) -> tuple[list[Event], Truth]:
    """300-1,500 sources joining over 10-15 minutes, each a steady 6-20 requests per minute."""
    events: list[Event] = []
    n = max(int(w.rng.integers(300, 1500) * w.intensity), 30)
    ramp = float(w.rng.uniform(600, 900))
    sources = [w.address() for _ in range(n)]
    for src in sources:
        agent, rate = w.browser(), float(w.rng.uniform(6, 20)) / 60
        t = start + float(w.rng.uniform(0, ramp))
        while t < end:
            events.append((t, src, "GET", w.page(), 200, agent))
            t += float(w.rng.exponential(1 / rate))
    return events, _truth("distributed-flood", start, end, sources)


def scan(w: World, start: float, end: float) -> tuple[list[Event], Truth]:
    """1-30 sources sharing a list of 300-1,200 probe and guessed paths, slowly."""
    sources = [w.address() for _ in range(int(w.rng.integers(1, 31)))]
    words = [f"/{a}/{b}" for a in WORDS for b in WORDS] + [f"/{a}.php" for a in WORDS]
    paths = list(PROBES) + [str(p) for p in w.rng.choice(words, size=int(w.rng.integers(300, 1200)))]
    agents = {s: w.browser() for s in sources}
    times = np.sort(w.rng.uniform(start, end, size=len(paths)))
    events: list[Event] = []
    for t, path in zip(times, paths, strict=True):
        src = sources[int(w.rng.integers(0, len(sources)))]
        events.append((float(t), src, "GET", path, 404, agents[src]))
    return events, _truth("scan", start, end, sources)


def brute_force(w: World, start: float, end: float) -> tuple[list[Event], Truth]:
    """1-3 sources, each 4-15 login attempts a minute, nearly all failing."""
    events: list[Event] = []
    sources = [w.address() for _ in range(int(w.rng.integers(1, 4)))]
    for src in sources:
        agent, rate = w.browser(), float(w.rng.uniform(4, 15)) / 60
        t = start
        while t < end:
            events.append((t, src, "POST", "/login", 401, agent))
            t += float(w.rng.exponential(1 / rate))
    return events, _truth("brute-force", start, end, sources)


def credential_stuffing(w: World, start: float, end: float) -> tuple[list[Event], Truth]:
    """500-3,000 sources, 1-3 tries each, ramping over ten minutes; one try in 200 succeeds."""
    events: list[Event] = []
    sources = [w.address() for _ in range(max(int(w.rng.integers(500, 3000) * w.intensity), 50))]
    ramp = 600.0
    for src in sources:
        agent = w.browser()
        first = (
            start + ramp * float(np.sqrt(w.rng.uniform()))
            if w.rng.random() < 0.3
            else (float(w.rng.uniform(start + ramp, end)))
        )
        for i in range(int(w.rng.integers(1, 4))):
            t = min(first + i * float(w.rng.uniform(2, 20)), end)
            status = 302 if w.rng.random() < 0.005 else 401
            events.append((t, src, "GET", "/login", 200, agent))
            events.append((t + 1.5, src, "POST", "/login", status, agent))
    return events, _truth("credential-stuffing", start, end, sources)


def flash_crowd(w: World, start: float, end: float) -> tuple[list[Event], Truth]:
    """Results are published: five to ten times the usual visitors, new ones, on the results pages."""
    events: list[Event] = []
    results = (*tuple(p for p in PAGES if p.startswith("/results")), "/", "/news")
    visitors = int(w.rng.integers(3000, 8000) * w.intensity)
    for _ in range(visitors):
        t = start + (end - start) * float(w.rng.beta(1.2, 3))
        events.extend(session(w, t, w.address(), w.browser(), results, login_p=0.0))
    return events, {"kind": "flash-crowd", "start": start, "end": end}


def login_rush(w: World, start: float, end: float) -> tuple[list[Event], Truth]:
    """A registration deadline: many real users log in, a normal share of them mistype."""
    events: list[Event] = []
    for _ in range(int(w.rng.integers(800, 2000) * w.intensity)):
        t = float(w.rng.uniform(start, end))
        events.extend(session(w, t, w.address(), w.browser(), login_p=1.0, fail_p=0.15))
    return events, {"kind": "login-rush", "start": start, "end": end}


MAKERS: dict[str, Callable[[World, float, float], tuple[list[Event], Truth]]] = {
    "flood": flood,
    "distributed-flood": distributed_flood,
    "scan": scan,
    "brute-force": brute_force,
    "credential-stuffing": credential_stuffing,
    "flash-crowd": flash_crowd,
    "login-rush": login_rush,
}
DURATIONS = {
    "flood": (1200, 2400),
    "distributed-flood": (1500, 2700),
    "scan": (900, 1800),
    "brute-force": (900, 1800),
    "credential-stuffing": (1800, 3000),
    "flash-crowd": (1800, 3600),
    "login-rush": (1800, 3600),
}


def place(w: World, kinds: tuple[str, ...], span: float) -> list[tuple[str, float, float]]:
    """Non-overlapping windows (with 20 minutes between) for each labelled event."""
    placed: list[tuple[str, float, float]] = []
    for kind in kinds:
        for _ in range(200):
            start, end = _window(w, span, *DURATIONS[kind])
            if all(end + 1200 < s or start > e + 1200 for _, s, e in placed):
                placed.append((kind, start, end))
                break
    return placed
