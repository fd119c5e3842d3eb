"""Follow mode: an attack is reported within 60 seconds of its start, in log time (injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

from detente.monitor.assets import default_asset
from detente.monitor.attribution import load
from detente.monitor.cli import app
from detente.monitor.engine import Engine
from detente.monitor.evidence import Evidence
from detente.monitor.follow import FollowLoop
from detente.monitor.formats import resolve
from detente.monitor.generate import Mix, World, background, render
from detente.monitor.incidents import Incident
from detente.monitor.inputs import Follower
from detente.monitor.parse import Parser
from detente.monitor.pipeline import Scanner, scan

START = datetime(2026, 6, 14, 8, 0, tzinfo=UTC)
Event = tuple[float, str, str, str, int, str]  # seconds, client, method, target, status, agent


def _events(attack_at: float) -> list[Event]:
    w = World(np.random.default_rng(202), load())
    events = list(background(w, Mix(hours=0.5, peak_rpm=300, start=START)))
    agent = w.browser()
    for src in ("198.51.100.7", "198.51.100.8"):
        t = attack_at
        while t < attack_at + 300:
            events.append((t, src, "GET", "/results", 200, agent))
            t += float(w.rng.exponential(1 / 6))
    return sorted(events, key=lambda e: e[0])


def _follow(
    log: Path, events: list[Event], until: float, alerts: list[dict[str, Any]], stop: bool = False
) -> FollowLoop:
    """Follow ``log`` while ``events`` are written to it as they happen, a poll every 5 s of log time
    with the clock at log time, until ``until`` seconds (or the first alert, if ``stop``)."""
    log.write_text("")
    now = [START]
    asset = default_asset()
    scanner = Scanner(Parser(resolve("combined"), [asset]), Engine([asset], load()))
    loop = FollowLoop(Follower(log, from_start=True), scanner, lambda: now[0], alerts.append)
    i = 0
    with log.open("a") as fh:
        for second in range(0, int(until), 5):  # the log grows; the clock follows log time
            while i < len(events) and events[i][0] < second:
                fh.write(render(START, events[i]) + "\n")
                i += 1
            fh.flush()
            now[0] = START + timedelta(seconds=second)
            loop.step()
            if stop and alerts:
                break
    loop.follower.close()
    return loop


def test_flood_reported_within_a_minute_of_log_time(tmp_path: Path) -> None:
    attack_at = 1200.0
    alerts: list[dict[str, Any]] = []
    loop = _follow(tmp_path / "access.log", _events(attack_at), 1800, alerts, stop=True)
    assert alerts, "the flood was never reported"
    assert alerts[0]["family"] == "flood"
    when, _ = loop.reported[0]
    latency = (when - (START + timedelta(seconds=attack_at))).total_seconds()
    assert 0 < latency <= 60


def test_follower_survives_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"one\n")
    f = Follower(log, from_start=True)
    assert f.poll() == b"one\n"
    with log.open("ab") as fh:
        fh.write(b"two\npart")
    assert f.poll() == b"two\n"
    with log.open("ab") as fh:
        fh.write(b"ial\n")
    log.rename(tmp_path / "a.log.1")
    log.write_bytes(b"three\n")
    assert f.poll() == b"partial\nthree\n"
    log.write_bytes(b"")
    assert f.poll() == b""
    with log.open("ab") as fh:
        fh.write(b"four\n")
    assert f.poll() == b"four\n"
    f.close()


def test_a_file_that_appears_after_following_starts_is_read_from_its_first_line(tmp_path: Path) -> None:
    there, later = tmp_path / "there.log", tmp_path / "later.log"
    there.write_bytes(b"old\n")
    existing, missing = Follower(there), Follower(later)
    assert existing.poll() == b""  # what was there before following started is not news
    assert missing.poll() == b""
    later.write_bytes(b"first\nsecond\n")  # written in one go, before the next poll
    with there.open("ab") as fh:
        fh.write(b"new\n")
    assert missing.poll() == b"first\nsecond\n"
    assert existing.poll() == b"new\n"
    existing.close()
    missing.close()


def test_follow_refuses_a_missing_assets_file_with_one_line_and_exit_78(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["follow", str(tmp_path / "access.log"), "--assets", "none.toml"])
    assert result.exit_code == 78
    assert "cannot read assets file none.toml" in result.output
    assert "Traceback" not in result.output


def _distributed(attack_at: float) -> list[Event]:
    """Background, and 40 sources joining one by one over five minutes, each at one request in 2 s
    for ten minutes: each is flagged persistent only after minutes of its own requests."""
    w = World(np.random.default_rng(303), load())
    events = list(background(w, Mix(hours=0.5, peak_rpm=300, start=START)))
    for n in range(40):
        t, agent = attack_at + 7.5 * n, w.browser()
        while t < attack_at + 7.5 * n + 600:
            events.append((t, f"203.0.113.{n + 1}", "GET", "/results", 200, agent))
            t += float(w.rng.exponential(2.0))
    return sorted(events, key=lambda e: e[0])


def test_follow_mode_finds_the_incidents_a_scan_of_the_same_log_finds(tmp_path: Path) -> None:
    """Following takes a batch at every poll (here every 5 s of log time), a scan one a chunk: as an
    incident depends on the log alone, the two find the same, down to the evidence (the requests a
    source sent before it was flagged included)."""
    log, events = tmp_path / "access.log", _distributed(600.0)
    alerts: list[dict[str, Any]] = []
    engine = _follow(log, events, events[-1][0] + 10, alerts).scanner.engine
    assert [a["family"] for a in alerts] == ["dflood"]
    assert log.read_text().count("\n") == len(events)
    assert engine.late == 0  # every line reached the engine before its bucket was final

    def key(found: tuple[Incident, Evidence]) -> tuple[str, str, str]:
        return found[0].start, found[0].asset, found[0].kind

    followed = sorted(engine.finish(), key=key)
    scanned = scan([log], resolve("combined"), [default_asset()], load).incidents
    assert [i.kind for i, _ in scanned] == ["distributed-flood"]
    assert [(i.to_json(), e.digest()) for i, e in followed] == [(i.to_json(), e.digest()) for i, e in scanned]
