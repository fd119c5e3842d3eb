"""A seeded traffic generator: realistic access logs with labelled attacks and benign surges.

Background: sessions arrive on a diurnal curve from a pool of clients in several countries (addresses
drawn from the real allocation tables, IPv4 and IPv6); each session views a few pages, each page pulls a
few assets, visitors think between pages, some log in (and some mistype), some follow broken links.
Three crawlers read steadily all day; a little internet background noise probes for files now and then.

Attacks are hard on purpose: browser user agents, paths drawn from the site's real pages, sources drawn
from the same countries and networks as the background, ramps over ten minutes or more, few tries per
address for credential stuffing. Benign surges (a flash crowd when results are published, a login rush)
are labelled as non-attacks.

Invariant: the same seed and mix give byte-identical logs and truth files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from detente.errors import ConfigError

from . import ATTACK_KINDS, TRUTH_SCHEMA
from .attribution import Attribution, load

COUNTRIES = {
    "DE": 0.5,
    "US": 0.1,
    "FR": 0.08,
    "NL": 0.06,
    "PL": 0.06,
    "GB": 0.05,
    "IN": 0.05,
    "BR": 0.04,
    "JP": 0.03,
    "SE": 0.03,
}
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
)
CRAWLERS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
)
PAGES = tuple(
    [
        "/",
        "/news",
        "/about",
        "/contact",
        "/elections",
        "/elections/calendar",
        "/results",
        "/candidates",
        "/polling-stations",
        "/documents",
        "/faq",
        "/press",
    ]
    + [f"/results/region-{i}" for i in range(1, 41)]
    + [f"/news/{2026}-{m:02d}-{d:02d}" for m in (5, 6) for d in range(1, 29, 3)]
    + [f"/documents/decree-{i}" for i in range(100, 160)]
)
ASSETS = (
    "/static/app.css",
    "/static/app.js",
    "/static/logo.svg",
    "/static/font.woff2",
    "/favicon.ico",
    "/static/map.png",
)
WORDS = (
    "admin",
    "backup",
    "old",
    "test",
    "dev",
    "api",
    "private",
    "upload",
    "uploads",
    "tmp",
    "include",
    "config",
    "db",
    "sql",
    "data",
    "files",
    "secret",
    "internal",
    "staging",
    "v1",
)
PROBES = (
    "/.env",
    "/.git/config",
    "/wp-login.php",
    "/xmlrpc.php",
    "/phpmyadmin/index.php",
    "/.aws/credentials",
    "/server-status",
    "/actuator/env",
    "/config.json",
    "/backup.sql",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/.htpasswd",
    "/adminer.php",
    "/cgi-bin/luci",
    "/.DS_Store",
    "/wp-admin/setup-config.php",
    "/phpinfo.php",
)
LOCAL = timezone(timedelta(hours=2))

Event = tuple[float, str, str, str, int, str]  # seconds, client, method, target, status, agent


MIN_HOURS = 2  # the longest event lasts an hour, placed within the log's middle 80%


@dataclass(frozen=True)
class Mix:
    """What one generated log holds: its length, traffic level, attacks and benign surges."""

    hours: float = 6.0
    peak_rpm: float = 300.0
    attacks: tuple[str, ...] = ATTACK_KINDS
    benign: tuple[str, ...] = ("flash-crowd", "login-rush")
    start: datetime = datetime(2026, 6, 14, 0, 0, tzinfo=UTC)
    intensity: float = 1.0  # scales the number of sources of distributed events (tests use less)


@dataclass
class World:
    """The random state and address pools of one generated log."""

    rng: np.random.Generator
    geo: Attribution
    intensity: float = 1.0
    used: set[str] = field(default_factory=set)

    def address(self) -> str:
        """A fresh address from a country of the background mix (85% IPv4)."""
        while True:
            cc = str(self.rng.choice(list(COUNTRIES), p=list(COUNTRIES.values())))
            text = self._v6(cc) if self.rng.random() < 0.15 else self._v4(cc)
            if text not in self.used:
                self.used.add(text)
                return text

    def _pick(self, table: Any, cc: str, top: int) -> tuple[int, int]:
        code = self.geo.country_names.index(cc)
        idx = np.flatnonzero(table.values == code)
        i = int(self.rng.choice(idx))
        lo = int(table.starts[i])
        hi = int(table.starts[i + 1]) if i + 1 < len(table.starts) else top
        return lo, hi

    def _v4(self, cc: str) -> str:
        lo, hi = self._pick(self.geo.country4, cc, 1 << 32)
        n = int(self.rng.integers(lo, hi))
        return ".".join(str((n >> s) & 255) for s in (24, 16, 8, 0))

    def _v6(self, cc: str) -> str:
        lo, hi = self._pick(self.geo.country6, cc, 1 << 64)
        top = int(self.rng.integers(lo, min(hi, lo + (1 << 40))))
        low = int(self.rng.integers(1, 1 << 62))
        groups = [(top >> s) & 0xFFFF for s in (48, 32, 16, 0)]
        groups += [(low >> s) & 0xFFFF for s in (48, 32, 16, 0)]
        return ":".join(f"{g:x}" for g in groups)

    def browser(self) -> str:
        """A common browser user agent."""
        return str(self.rng.choice(BROWSERS))

    def page(self, focus: tuple[str, ...] = PAGES) -> str:
        """A page, popular ones more often (Zipf-like)."""
        i = min(int(self.rng.zipf(1.3)) - 1, len(focus) - 1)
        return focus[i]


def key(addr: str) -> str:
    """The source key of a generated address (IPv6 as its /64), as the detectors count it."""
    if ":" not in addr:
        return addr
    groups = addr.split(":")[:4]
    return ":".join(groups) + "::/64"


def diurnal(hour: float) -> float:
    """Relative traffic level by hour of the day: low at night, high in the afternoon."""
    return 0.25 + 0.75 * max(0.0, float(np.sin(np.pi * (hour - 6) / 18))) if 6 <= hour <= 24 else 0.25


def session(
    w: World,
    t: float,
    client: str,
    agent: str,
    pages: tuple[str, ...] = PAGES,
    login_p: float = 0.03,
    fail_p: float = 0.15,
) -> Iterator[Event]:
    """One visit: a few pages with their assets, think time between them, sometimes a login."""
    for _ in range(int(w.rng.geometric(0.3))):
        page = w.page(pages)
        status = 404 if w.rng.random() < 0.01 else 200
        target = page + ("?lang=en" if w.rng.random() < 0.1 else "")
        yield t, client, "GET", target, status, agent
        for a in w.rng.choice(ASSETS, size=int(w.rng.integers(0, 5)), replace=False):
            t += float(w.rng.exponential(0.4))
            yield t, client, "GET", str(a), 304 if w.rng.random() < 0.3 else 200, agent
        if w.rng.random() < login_p:
            while w.rng.random() < fail_p:
                t += float(w.rng.exponential(8))
                yield t, client, "POST", "/login", 401, agent
            t += float(w.rng.exponential(8))
            yield t, client, "POST", "/login", 302, agent
        t += float(w.rng.exponential(30))


def background(w: World, mix: Mix) -> Iterator[Event]:
    """Sessions on a diurnal curve, three crawlers and a little probing noise."""
    span = mix.hours * 3600
    pool = [w.address() for _ in range(4000)]
    agents = [w.browser() for _ in pool]
    # sessions per second at peak: a session averages about eight requests
    per_s = mix.peak_rpm / 60 / 8
    t = 0.0
    start_hour = mix.start.hour + mix.start.minute / 60
    while t < span:
        level = diurnal((start_hour + t / 3600) % 24)
        t += float(w.rng.exponential(1 / (per_s * level)))
        i = int(w.rng.integers(0, len(pool))) if w.rng.random() < 0.7 else None
        client = pool[i] if i is not None else w.address()
        agent = agents[i] if i is not None else w.browser()
        yield from session(w, t, client, agent)
    for agent in CRAWLERS:
        client, rate, t = w.address(), float(w.rng.uniform(6, 20)) / 60, 0.0
        while t < span:
            yield t, client, "GET", w.page(), 200, agent
            t += float(w.rng.exponential(1 / rate))
    for _ in range(int(mix.hours * 2)):
        client, t = w.address(), float(w.rng.uniform(0, span))
        for p in w.rng.choice(PROBES, size=int(w.rng.integers(1, 5)), replace=False):
            yield t, client, "GET", str(p), 404, "Mozilla/5.0 zgrab/0.x"
            t += float(w.rng.exponential(5))


def render(start: datetime, ev: Event) -> str:
    """One combined-format line in the server's local time zone (UTC+2)."""
    t, client, method, target, status, agent = ev
    stamp = (start + timedelta(seconds=t)).astimezone(LOCAL).strftime("%d/%b/%Y:%H:%M:%S %z")
    size = 0 if status in (302, 304) else 512 + (hash(target) & 0x3FFF)
    return f'{client} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {size} "-" "{agent}"'


def generate(seed: int, mix: Mix, log: Path, truth: Path) -> dict[str, Any]:
    """Write a log and its truth file; return the truth.

    Raises:
        ConfigError: the log would be shorter than :data:`MIN_HOURS` (nothing is written).
    """
    from .attacks import MAKERS, place  # the attack makers import this module's helpers

    if mix.hours < MIN_HOURS:
        raise ConfigError(
            f"a {mix.hours:g}-hour log is too short: the attacks and surges (up to an hour each, 20"
            f" minutes apart) are placed in its middle; generate {MIN_HOURS} hours or more"
        )
    w = World(np.random.default_rng(seed), load(), mix.intensity)
    span = mix.hours * 3600
    events = list(background(w, mix))
    labelled = []
    for kind, s, e in place(w, mix.attacks + mix.benign, span):
        made, label = MAKERS[kind](w, s, e)
        events.extend(ev for ev in made if ev[0] < span)
        label["start"] = _iso(mix.start, label["start"])
        label["end"] = _iso(mix.start, label["end"])
        labelled.append(label)
    events.sort(key=lambda ev: ev[0])
    with log.open("w", encoding="utf-8") as fh:
        for ev in events:
            fh.write(render(mix.start, ev) + "\n")
    doc = {
        "schema": TRUTH_SCHEMA,
        "seed": seed,
        "start": _iso(mix.start, 0),
        "end": _iso(mix.start, span),
        "lines": len(events),
        "attacks": sorted((x for x in labelled if x["kind"] in ATTACK_KINDS), key=lambda x: x["start"]),
        "benign": sorted((x for x in labelled if x["kind"] not in ATTACK_KINDS), key=lambda x: x["start"]),
    }
    truth.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return doc


def _iso(start: datetime, seconds: float) -> str:
    return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["Mix", "generate"]
