"""Follow mode: an attack is reported within two minutes of its start, in log time (injected clock): confirmed
within a minute, and its buckets final once the log is a minute (`pipeline.LATENESS`) past them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from detente.monitor import inputs
from detente.monitor.assets import default_asset
from detente.monitor.attribution import load
from detente.monitor.cli import app
from detente.monitor.engine import Engine
from detente.monitor.evidence import Evidence
from detente.monitor.follow import IDLE, REPORT_EVERY, FollowCounts, FollowLoop
from detente.monitor.formats import resolve
from detente.monitor.generate import Mix, World, background, render
from detente.monitor.incidents import Incident
from detente.monitor.inputs import Follower
from detente.monitor.parse import Parser
from detente.monitor.pipeline import LATENESS, Scanner, scan

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
    log: Path,
    events: list[Event],
    until: float,
    alerts: list[dict[str, Any]],
    stop: bool = False,
    lag: float = 0.0,
    due: Sequence[float] | None = None,
) -> FollowLoop:
    """Follow ``log`` while ``events`` are written to it as they happen (or ``lag`` seconds after, or
    each at its ``due`` second, in order), a poll every 5 s with the clock at log time, until ``until``
    seconds (or the first alert, if ``stop``)."""
    written = list(due) if due is not None else [e[0] + lag for e in events]
    log.write_text("")
    now = [START]
    asset = default_asset()
    scanner = Scanner(Parser(resolve("combined"), [asset]), Engine([asset], load()))
    loop = FollowLoop(Follower(log, from_start=True), scanner, lambda: now[0], alerts.append)
    i = 0
    with log.open("a") as fh:
        for second in range(0, int(until), 5):  # the log grows; the clock follows log time
            while i < len(events) and written[i] < second:
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
    assert 0 < latency <= 60 + LATENESS.seconds  # confirmed within a minute, final a minute later


@pytest.mark.parametrize("lag", [30.0, 300.0])
def test_lines_that_reach_the_file_late_are_analysed_all_the_same(tmp_path: Path, lag: float) -> None:
    """nginx's buffered writes, a shipper's delay or a server clock behind: every line reaches the file
    ``lag`` seconds after its time. Judged by the wall clock, each was once late and dropped, and the
    flood was never reported; the log's own time decides now."""
    attack_at = 1200.0
    alerts: list[dict[str, Any]] = []
    loop = _follow(tmp_path / "access.log", _events(attack_at), 1800 + lag, alerts, stop=True, lag=lag)
    assert [a["family"] for a in alerts] == ["flood"]
    assert loop.scanner.engine.late == 0
    when, _ = loop.reported[0]
    assert 0 < (when - (START + timedelta(seconds=attack_at))).total_seconds() <= 60 + LATENESS.seconds + lag


def test_workers_flushing_their_buffers_in_turn_lose_no_line(tmp_path: Path) -> None:
    """Two web-server workers, each flushing its buffer every 30 s, 15 s apart: the file holds runs of
    lines up to 30 s behind lines already written. Follow once analysed up to 5 s behind the log's time
    (scan a minute behind), and about a quarter of the lines were late and never analysed."""
    flush = 30.0
    events = _events(1200.0)
    worker = np.random.default_rng(1).integers(0, 2, len(events))

    def flushed(i: int) -> float:
        offset = float(worker[i]) * flush / 2
        return offset + float(np.ceil((events[i][0] - offset) / flush)) * flush

    order = sorted(range(len(events)), key=lambda i: (flushed(i), worker[i], events[i][0]))
    due = [flushed(i) for i in order]
    alerts: list[dict[str, Any]] = []
    loop = _follow(tmp_path / "access.log", [events[i] for i in order], 1800, alerts, due=due)
    assert loop.scanner.engine.late == 0
    assert [a["family"] for a in alerts] == ["flood"]
    when, _ = loop.reported[0]
    assert 0 < (when - (START + timedelta(seconds=1200.0))).total_seconds() <= flush + 60 + LATENESS.seconds


def test_a_quiet_log_is_analysed_to_its_time_and_the_counts_are_reported_at_the_end(tmp_path: Path) -> None:
    """Once no line has come for a while, what was read is analysed up to the log's time (no line can
    be a little out of order then); the counts go out every minute and when following ends, Ctrl-C
    included."""
    log = tmp_path / "access.log"
    log.write_text("".join(render(START, e) + "\n" for e in _events(1200.0) if e[0] < 600) + "junk\n")
    now = [datetime(2030, 1, 1, tzinfo=UTC)]  # the wall clock: far from the log's time, and no matter
    counts: list[FollowCounts] = []
    asset = default_asset()
    scanner = Scanner(Parser(resolve("combined"), [asset]), Engine([asset], load()))
    loop = FollowLoop(Follower(log, from_start=True), scanner, lambda: now[0], lambda _: None, counts.append)
    loop.step()
    reached = scanner.reached
    assert reached is not None
    assert reached > START + timedelta(seconds=590)
    assert scanner.engine.final_before == reached - LATENESS
    now[0] += IDLE - timedelta(seconds=1)  # a buffered worker may still write the last minute's lines
    loop.step()
    assert scanner.engine.final_before == reached - LATENESS
    assert counts == []
    now[0] += timedelta(seconds=1)
    loop.step()
    assert scanner.engine.final_before == reached
    assert len(counts) == (IDLE >= REPORT_EVERY)
    now[0] += REPORT_EVERY

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loop.run(interrupted)
    assert len(counts) == 2 + (IDLE >= REPORT_EVERY)  # each minute's, then the last
    assert (counts[-1].rejected, counts[-1].late, counts[-1].reached) == (1, 0, reached)
    assert counts[-1].read == counts[-1].parsed + 1
    assert "1 rejected, 0 late" in counts[-1].sentence()
    loop.follower.close()


def test_ctrl_c_ends_follow_with_the_counts_on_standard_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "access.log"
    log.write_text("".join(render(START, e) + "\n" for e in _events(1200.0) if e[0] < 60) + "junk\n")

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupted)
    result = CliRunner().invoke(app, ["follow", str(log), "--from-start"])
    assert result.exit_code == 0, result.output
    lines = log.read_text().count("\n")
    assert f"read {lines:,} lines: {lines - 1:,} parsed, 1 rejected, 0 late" in result.output


def test_a_large_file_followed_from_its_start_is_read_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 292 MB file followed from its start was read whole at the first poll (1 GB resident); each
    poll now reads a chunk of whole lines, and the loop polls again at once while more is waiting."""
    monkeypatch.setattr(inputs, "CHUNK", 1000)
    log = tmp_path / "access.log"
    body = b"".join(b"line %05d of the log\n" % i for i in range(480))  # 10.56 chunks
    log.write_bytes(body)
    follower = Follower(log, from_start=True)
    parts = [follower.poll()]
    while follower.more:
        parts.append(follower.poll())
    assert b"".join(parts) == body
    assert len(parts) == 11
    assert max(len(p) for p in parts) <= 1000 + 22  # a chunk, and the line it cut
    follower.close()
    asset = default_asset()
    scanner = Scanner(Parser(resolve("combined"), [asset]), Engine([asset], load()))
    loop = FollowLoop(Follower(log, from_start=True), scanner, lambda: START, lambda _: None)
    sleeps: list[float] = []
    loop.run(sleeps.append, stop=lambda: bool(sleeps))
    assert (scanner.stats.read, len(sleeps)) == (480, 1)  # no wait between the chunks
    loop.follower.close()


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


def test_a_last_line_without_its_end_is_not_glued_to_the_next_file_s_first(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"one\npart")  # the server stopped mid-line, then the file was rotated away
    f = Follower(log, from_start=True)
    assert f.poll() == b"one\n"
    log.rename(tmp_path / "a.log.1")
    log.write_bytes(b"three\n")
    assert f.poll() == b"part\nthree\n"  # once b"partthree\n": two lines lost as one malformed
    with log.open("ab") as fh:
        fh.write(b"cut")
    assert f.poll() == b""
    log.write_bytes(b"")  # copied and truncated
    assert f.poll() == b"cut\n"
    f.close()


def test_a_copied_and_truncated_file_that_grew_past_the_old_offset_is_read_from_its_start(
    tmp_path: Path,
) -> None:
    """copytruncate, and more written to the emptied file before the next poll than was read before:
    the size never looked smaller than the offset, and the new file's first bytes were skipped."""
    log = tmp_path / "a.log"
    log.write_bytes(b"one\ntwo\n")
    f = Follower(log, from_start=True)
    assert f.poll() == b"one\ntwo\n"
    log.write_bytes(b"a longer first line\nsecond\n")  # truncated, then written past offset 8
    assert f.poll() == b"a longer first line\nsecond\n"
    with log.open("ab") as fh:
        fh.write(b"third\n")
    assert f.poll() == b"third\n"
    f.close()
    following = Follower(log)  # from its end: what is there is not news, and is not taken for new
    assert following.poll() == b""
    with log.open("ab") as fh:
        fh.write(b"fourth\n")
    assert following.poll() == b"fourth\n"
    following.close()


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
