"""End to end on a generated log: every attack found, benign surges not reported, outputs sound."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import zstandard
from typer.testing import CliRunner

from detente.errors import InputError
from detente.monitor import inputs, pipeline
from detente.monitor.addr import NetworkSet, parse_networks
from detente.monitor.aggregate import BUCKET_SECONDS
from detente.monitor.assets import Asset, default_asset
from detente.monitor.attribution import load
from detente.monitor.cli import app
from detente.monitor.engine import Engine
from detente.monitor.evidence import Evidence, canonical
from detente.monitor.features import Tuning
from detente.monitor.formats import resolve
from detente.monitor.output import evidence_document, incident_document
from detente.monitor.parse import Parser
from detente.monitor.pipeline import Scanner, scan
from detente.monitor.score import score_files
from detente.monitor.shift import MIN_BEFORE, RISE

from .test_parse import REJECTED, SECRETS


def _run(
    *logs: Path, tuning: Tuning | None = None, asset: Asset | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    result = scan(list(logs), resolve("combined"), [asset or default_asset()], load, tuning)
    now = datetime(2026, 6, 20, tzinfo=UTC)
    return incident_document(result, load(), now), evidence_document(result, now)


@pytest.mark.parametrize(
    "tuning", [Tuning(), Tuning(flood_factor=8.0)], ids=["defaults", "heavy rate learned above its floor"]
)
def test_a_log_gives_the_same_incidents_however_it_is_cut(
    dev_log: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tuning: Tuning
) -> None:
    """The engine takes a batch per :data:`.pipeline.DETECT_EVERY` chunks, and a rotated log ends a
    chunk where each file ends: neither may change an incident, its evidence or the timeline (anyone
    re-scanning the log must get the report its operator signed), whether or not the heavy-rate bar is
    learned above its floor."""
    log, _ = dev_log
    whole, evidence = _run(log, tuning=tuning)
    assert len(whole["incidents"]) >= 4  # every kind of attack, each opening in some batch
    data = log.read_bytes()
    cut = data.index(b"\n", len(data) // 3) + 1  # rotated a third of the way in, at a line end
    older, newer = tmp_path / "access.log.1", tmp_path / "access.log"
    older.write_bytes(data[:cut])
    newer.write_bytes(data[cut:])
    os.utime(older, (1, 1))  # a scan takes files oldest first
    cut_up = {"two files": _run(older, newer, tuning=tuning)}
    for size in (1 << 17, 3 << 20):  # 258 and 11 chunks, against 5 of the usual size
        monkeypatch.setattr(inputs, "CHUNK", size)
        cut_up[f"chunks of {size} bytes"] = _run(log, tuning=tuning)
    monkeypatch.setattr(inputs, "CHUNK", 1 << 17)
    for every in (1, 7):  # a detection after every chunk (as follow mode detects), and after every 7th
        monkeypatch.setattr(pipeline, "DETECT_EVERY", every)
        cut_up[f"detection every {every} chunks of 128 KB"] = _run(log, tuning=tuning)
    for how, (doc, ev) in cut_up.items():
        assert doc["incidents"] == whole["incidents"], how
        assert doc["timeline"] == whole["timeline"], how
        assert ev["incidents"] == evidence["incidents"], how


@contextmanager
def learned_bars() -> Iterator[dict[datetime, float]]:
    """The heavy-rate bars the engine learns while the block runs, by half hour."""
    bars: dict[datetime, float] = {}
    learned = Engine._bars

    def spy(engine: Engine, rows: pl.DataFrame) -> list[tuple[datetime, float]]:
        found = learned(engine, rows)
        bars.update(found)
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Engine, "_bars", spy)
        yield bars


def test_the_heavy_rate_is_learned_each_half_hour_and_not_while_an_episode_is_open(
    dev_log: tuple[Path, dict[str, Any]],
) -> None:
    log, _ = dev_log
    tuning = Tuning(flood_factor=8.0)  # 8 times the 99th percentile of this log's sources: above the floor
    scanner = Scanner(
        Parser(resolve("combined"), [default_asset()]), Engine([default_asset()], load(), tuning)
    )
    with inputs.open_log(log) as stream, learned_bars() as bars:
        for chunk in inputs.chunks(stream):
            scanner.feed(chunk)
            scanner.advance()
        scanner.engine.finish()
    assert all(at.minute in (0, 30) and at.second == 0 for at in bars)  # whole half hours of the log
    assert len(bars) >= 19  # every half hour of the 10 hours
    assert len({b for b in bars.values() if b > tuning.flood_rpm_floor}) >= 3  # it moves with the traffic
    # the flood ramping up before 03:30 raised the percentile; its episode was open then: not learned
    ramp = bars[datetime(2026, 6, 14, 3, 30, tzinfo=UTC)]
    assert ramp > 2 * max(b for at, b in bars.items() if at.hour < 3)
    assert scanner.engine.bar < ramp


def test_a_line_dated_far_ahead_learns_the_bar_only_where_lines_are(tmp_path: Path) -> None:
    """The heavy-rate bar is learned for the half hours that hold lines, not for every half hour between
    the log and a line dated decades ahead (one line dated in the year 9000 made a scan walk 122 million)."""
    line = '203.0.113.{n} - - [{when}] "GET / HTTP/1.1" 200 10 "-" "ua"\n'
    stamps = [f"14/Jun/2026:10:{s // 60:02d}:{s % 60:02d} +0000" for s in range(0, 3600, 3)]
    # at the end, enough of them for the log to reach that time (a lone line would be set aside, ahead)
    stamps += ["14/Jun/2100:10:00:00 +0000"] * pipeline.REACHED_BY
    log = tmp_path / "access.log"
    log.write_text("".join(line.format(n=n % 250, when=when) for n, when in enumerate(stamps)))
    with learned_bars() as bars:
        scan([log], resolve("combined"), [default_asset()], load)
    half_hours = [datetime(2026, 6, 14, 10, 0, tzinfo=UTC), datetime(2026, 6, 14, 10, 30, tzinfo=UTC)]
    assert sorted(bars) == [*half_hours, datetime(2100, 6, 14, 10, 0, tzinfo=UTC)]


def test_every_attack_kind_is_found_and_nothing_else(dev_log: tuple[Path, dict[str, Any]]) -> None:
    log, truth = dev_log
    doc, _ = _run(log)
    assert sorted(i["kind"] for i in doc["incidents"]) == sorted(a["kind"] for a in truth["attacks"])
    assert truth["benign"], "the log must hold a benign surge for this test to mean anything"


def test_scores_from_files_via_the_cli(dev_log: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    log, _ = dev_log
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["scan", str(log), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    scores = score_files(log.parent / "truth.json", out / "incidents.json", out / "evidence.json")
    for kind, ks in scores.items():
        row = ks.row()
        assert row["precision"] == 1.0, kind
        assert row["recall"] == 1.0, kind
        assert row["start_error_s"] is not None, kind
        assert row["start_error_s"] < 300, kind
    html = (out / "report.html").read_text()
    assert "<svg" in html
    assert not re.search(r"(src|href)=", html), "the report must be self-contained"
    assert (out / "incidents.csv").read_text().count("\n") == len(scores) + 1
    report = CliRunner().invoke(app, ["report", str(out / "incidents.json")])
    assert report.exit_code == 0
    assert "Attribution data" in report.output


def test_public_summary_has_no_address_and_evidence_matches_digest(
    dev_log: tuple[Path, dict[str, Any]],
) -> None:
    log, _ = dev_log
    doc, ev = _run(log)
    public = json.dumps(doc["incidents"])
    for item in ev["incidents"]:
        for s in item["sources"]:
            if "/" not in s["source"]:
                assert f'"{s["source"]}"' not in public
        again = Evidence(item["incident"], item["sources"], item["sample"])
        assert again.digest() == item["sha256"]
        assert all("?" not in line or "?REDACTED" in line for line in item["sample"])
    digests = {i["evidence"]["sha256"] for i in doc["incidents"]}
    assert digests == {e["sha256"] for e in ev["incidents"]}
    assert canonical({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_evidence_lists_every_source_with_its_counts_and_times(dev_log: tuple[Path, dict[str, Any]]) -> None:
    doc, ev = _run(dev_log[0])
    geo = load()
    fields = [
        "source",
        "country",
        "asn",
        "requests",
        "failed_logins",
        "missing_paths",
        "first_seen",
        "last_seen",
    ]
    for incident, item in zip(doc["incidents"], ev["incidents"], strict=True):
        assert len(item["sources"]) == incident["sources"]["distinct"]
        assert sum(s["requests"] for s in item["sources"]) == incident["requests"]["total"]
        for s in item["sources"]:
            assert list(s) == fields
            countries, asns = geo.lookup([s["source"]])
            assert (s["country"], s["asn"]) == (countries[0], asns[0])
            first = datetime.strptime(s["first_seen"], "%Y-%m-%dT%H:%M:%S%z")
            last = datetime.strptime(s["last_seen"], "%Y-%m-%dT%H:%M:%S%z")
            assert incident["start"] <= s["first_seen"] < s["last_seen"] <= incident["end"]
            assert (last - first).total_seconds() % BUCKET_SECONDS == 0
            assert all(isinstance(s[k], int) for k in ("asn", "requests", "failed_logins", "missing_paths"))


def test_attribution_is_in_every_report(dev_log: tuple[Path, dict[str, Any]]) -> None:
    doc, _ = _run(dev_log[0])
    tables = doc["attribution"]["tables"]
    assert tables["country"]["licence"] == "CC BY-SA 4.0"
    assert tables["asn"]["licence"] == "CC BY 4.0"
    assert all(t["date"] for t in tables.values())


def test_every_incident_says_how_far_its_origins_shift_from_the_traffic_before(
    dev_log: tuple[Path, dict[str, Any]],
) -> None:
    doc, _ = _run(dev_log[0])
    assert doc["incidents"]
    for incident in doc["incidents"]:
        found = incident["shift"]
        assert found["requests_before"] >= MIN_BEFORE
        assert found["minutes_before"] > 0
        assert 0.0 <= found["territory_divergence"] <= 1.0
        assert 0.0 <= found["network_divergence"] <= 1.0
        assert all(r["share_during"] - r["share_before"] >= RISE - 1e-4 for r in found["rising"])
        said = " ".join(incident["reasons"])
        assert f"diverge by {found['network_divergence']:.2f} by network" in said
        assert all(f"AS{r['key']} carried" in said for r in found["rising"] if r["key"] != "0")
        assert not any(f"({r['name']})" in said for r in found["rising"])  # by number, never by name
    # an attack from one network diverges exactly as far as that network's share before it says
    whole = [(i, r) for i in doc["incidents"] for r in i["shift"]["rising"] if r["share_during"] == 1.0]
    assert whole, "the log must hold an attack from one network for this check to mean anything"
    for incident, rise in whole:
        b = rise["share_before"]
        expected = (math.log2(2 / (1 + b)) + (b * math.log2(2 * b / (1 + b)) if b else 0.0) + 1 - b) / 2
        assert incident["shift"]["network_divergence"] == pytest.approx(expected, abs=1e-3)


LINE = b'1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET /a HTTP/1.1" 200 1 "-" "ua"\n'
CORRUPT_GZIP = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 20
BOOL_STATUS = b'[[asset]]\nname="a"\nlogin_failure_status=[true]\n'
NAN_PRIOR = b'[[asset]]\nname="a"\n[asset.expect]\nrequests_per_minute=nan\n'
INCOMPLETE = b'{"schema":"detente.monitor.incidents/1","incidents":[{}]}'
EMPTY_REPORT = json.dumps(
    {
        "schema": "detente.monitor.incidents/1",
        "generated": "2026-06-20T00:00:00Z",
        "attribution": {"tables": {}, "note": "none"},
        "input": {
            "files": 0,
            "lines_read": 0,
            "lines_parsed": 0,
            "lines_rejected": 0,
            "first": None,
            "last": None,
        },
        "assets": [],
        "incidents": [],
        "timeline": {},
    }
).encode()
WITH_ASSETS = ["scan", "a.log", "--assets", "a.toml"]
BAD_INPUTS: list[tuple[str, dict[str, bytes], list[str], int]] = [
    ("corrupt gzip", {"a.gz": CORRUPT_GZIP}, ["scan", "a.gz"], 65),
    ("unknown zone", {"a.log": LINE}, ["scan", "a.log", "--timezone", "Nope/Zone"], 78),
    ("out is a file", {"a.log": LINE, "o": b""}, ["scan", "a.log", "--out", "o"], 73),
    ("bool status", {"a.log": LINE, "a.toml": BOOL_STATUS}, WITH_ASSETS, 78),
    ("nan prior", {"a.log": LINE, "a.toml": NAN_PRIOR}, WITH_ASSETS, 78),
    ("asset not a table", {"a.log": LINE, "a.toml": b'asset=["a"]\n'}, WITH_ASSETS, 78),
    ("incomplete report", {"i.json": INCOMPLETE}, ["report", "i.json"], 65),
    ("one hour", {}, ["generate", "--out", "g", "--hours", "1"], 78),
    ("empty folder", {}, ["scan", "."], 66),
    ("standard input", {"a.log": LINE}, ["scan", "-"], 66),
    # a file the command writes, in a folder that does not exist or under a file (once a traceback)
    ("html nowhere", {"i.json": EMPTY_REPORT}, ["report", "i.json", "--html", "no/r.html"], 66),
    ("csv nowhere", {"i.json": EMPTY_REPORT}, ["report", "i.json", "--csv", "no/r.csv"], 66),
    ("html under a file", {"i.json": EMPTY_REPORT}, ["report", "i.json", "--html", "i.json/r.html"], 74),
    ("out under a file", {"f": b""}, ["generate", "--out", "f/g", "--hours", "0.01"], 74),
    ("work under a file", {"f": b""}, ["evaluate", "--work", "f/w"], 74),
]


@pytest.mark.parametrize("name", ["b.log.1.gz", "b.log.1.zst"])
def test_a_damaged_compressed_log_is_named_in_the_error(tmp_path: Path, name: str) -> None:
    """A scan reads many files: "damaged compressed input" once said nothing of which."""
    data = LINE * 50_000
    packed = gzip.compress(data) if name.endswith(".gz") else zstandard.ZstdCompressor().compress(data)
    (tmp_path / "a.log").write_bytes(LINE)
    (tmp_path / name).write_bytes(packed[: len(packed) // 2])  # copied while being compressed
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 65, result.output
    assert f"{tmp_path / name}: damaged compressed input" in result.output.replace("\n", "")


@pytest.mark.parametrize(
    ("files", "args", "code"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_one_line_and_an_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes], args: list[str], code: int
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    result = CliRunner().invoke(app, [*args, *(["--quiet"] if args[0] == "scan" else [])])
    assert result.exit_code == code, result.output
    assert "error:" in result.output
    assert "Traceback" not in result.output
    assert "-" not in args or "'-' (standard input) is not read" in result.output


def test_the_evidence_shows_rejected_lines_redacted(tmp_path: Path) -> None:
    """The evidence goes to the counterparty: a rejected line is in it only as the redacted lines of
    its incidents are (once it was copied as read, a user's name and reset token with it)."""
    log = tmp_path / "access.log"
    log.write_text(LINE.decode() + "\n".join(REJECTED) + "\n")
    doc, evidence = _run(log)
    assert doc["input"]["lines_rejected"] == len(evidence["rejected_sample"]) == len(REJECTED)
    assert (
        evidence["rejected_sample"][0]
        == f"does not match the format: a line of {len(REJECTED[0])} characters"
    )
    assert not [s for s in SECRETS if s in json.dumps(evidence)]


def test_a_scan_that_fails_midway_leaves_no_parse_thread_behind(tmp_path: Path) -> None:
    # a gzip cut short: its first chunk reads and is handed to a parse thread, the next read fails
    log = tmp_path / "a.log.gz"
    whole = gzip.compress(LINE * (inputs.CHUNK // len(LINE) + 20_000), compresslevel=1)
    log.write_bytes(whole[:-1000])
    with pytest.raises(InputError, match="damaged compressed input"):
        scan([log], resolve("combined"), [default_asset()], load)
    assert [t.name for t in threading.enumerate() if t.name.startswith("parse")] == []


AHEAD_LINE = '198.51.100.77 - - [15/Jun/2026:02:30:00 +0200] "GET /a?token=1 HTTP/1.1" 200 5 "-" "ua"\n'


def test_one_line_dated_a_day_ahead_changes_nothing_but_is_counted_and_described(
    dev_log: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line dated a day ahead amid the log (a clock set wrong for a moment) once moved the log's time
    with it: every line after it was late, never analysed, and an attack went unreported. The log's
    time is what five lines in a row reached: the line moves nothing, and is set aside, counted and
    described (redacted) apart; whatever the chunks."""
    log, _ = dev_log
    clean, clean_ev = _run(log)
    lines = log.read_text().splitlines(keepends=True)
    skewed = tmp_path / "access.log"
    skewed.write_text("".join([*lines[: len(lines) // 3], AHEAD_LINE, *lines[len(lines) // 3 :]]))
    runs = {"usual chunks": _run(skewed)}
    monkeypatch.setattr(inputs, "CHUNK", 1 << 17)
    runs["128 KB chunks"] = _run(skewed)
    for how, (doc, ev) in runs.items():
        assert doc["input"]["lines_late"] == 0, how
        assert doc["input"]["lines_ahead"] == 1, how
        assert doc["input"]["last"] == clean["input"]["last"], how
        assert doc["incidents"] == clean["incidents"], how
        assert doc["timeline"] == clean["timeline"], how
        assert ev["incidents"] == clean_ev["incidents"], how
        assert ev["ahead_sample"] == [
            '198.51.100.77 - - [15/Jun/2026:00:30:00 +0000] "GET /a?REDACTED HTTP/1.1" 200 5 "-" "ua"'
        ], how
    assert "lines_ahead" not in clean["input"]  # written only when a line was ahead
    assert "ahead_sample" not in clean_ev


def _stamped(times: list[datetime]) -> str:
    """Combined lines, one at each of ``times``, from 250 addresses in turn."""
    line = '203.0.113.{n} - - [{at:%d/%b/%Y:%H:%M:%S +0000}] "GET / HTTP/1.1" 200 10 "-" "ua"\n'
    return "".join(line.format(n=n % 250, at=at) for n, at in enumerate(times))


@pytest.mark.parametrize(
    "tail",
    [
        [timedelta(days=1, seconds=s) for s in (0, 7, 9)],  # the last 3 lines a day after the others
        [timedelta(hours=7 * k) for k in range(1, 13)],  # the last 12 lines 7 hours apart
    ],
    ids=["three lines a day later", "twelve lines 7 hours apart"],
)
@pytest.mark.parametrize("chunk", [None, 256], ids=["one chunk", "256 B chunks"])
def test_the_last_lines_of_a_log_in_order_after_a_quiet_gap_are_analysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: list[timedelta], chunk: int | None
) -> None:
    """A log in time order is the log's time to its last line, however far its last lines are from the
    others: they were once set aside as ahead (fewer than five lines in a row had reached them) and
    never analysed. Only a line that a later line is dated far before is ahead (see the test of one
    line dated a day ahead)."""
    start = datetime(2026, 6, 14, 10, 0, tzinfo=UTC)
    times = [start + timedelta(seconds=s) for s in range(0, 600, 3)] + [start + t for t in tail]
    log = tmp_path / "access.log"
    log.write_text(_stamped(times))
    if chunk:
        monkeypatch.setattr(inputs, "CHUNK", chunk)
    result = scan([log], resolve("combined"), [default_asset()], load)
    assert (result.ahead, result.ahead_sample) == (0, [])
    assert sum(result.timeline["site"].values()) == len(times)
    assert result.last == times[-1]


@pytest.mark.parametrize("cut", [1, 3, 4, 7, 50])
def test_the_log_reaches_what_five_lines_in_a_row_reached_however_it_is_cut(cut: int) -> None:
    times = np.array([10, 11, 12, 9, 13, 14, 10_000, 15, 16, 17, 18, 19, 20_000, 20_001, 21, 22], np.int64)
    found, carry = None, np.empty(0, np.int64)
    for at in range(0, times.size, cut):
        got, carry = pipeline.reached_ms(times[at : at + cut], carry)
        found = got if found is None or (got is not None and got > found) else found
    assert found == 19  # 19, 20000, 20001, 21, 22: the lines dated far ahead are held back by the others
    assert carry.tolist() == [20_000, 20_001, 21, 22]
    assert pipeline.reached_ms(times[:4], np.empty(0, np.int64))[0] is None  # fewer than five lines


def test_lines_older_than_what_is_final_are_counted_late_not_detected_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lines(hour: int) -> str:
        stamp = "10/Oct/2023:{:02d}:{:02d}:{:02d} +0000"
        return "".join(
            f'1.2.3.4 - - [{stamp.format(hour, m, s)}] "GET /a HTTP/1.1" 200 1 "-" "ua"\n'
            for m in range(10)
            for s in range(0, 60, 10)
        )

    newer, older = tmp_path / "1.log", tmp_path / "2.log"
    newer.write_text(lines(13))
    older.write_text(lines(12))  # holds the earlier hour, but is read second (files go by date)
    os.utime(newer, (0, 1_000))
    # a detection after each chunk (each file is one): the first file's hour is final before the second
    # is read (with two chunks a detection, the two hours would be detected together, none late)
    monkeypatch.setattr(pipeline, "DETECT_EVERY", 1)
    result = scan([newer, older], resolve("combined"), [default_asset()], load)
    assert (result.stats.read, result.late) == (120, 60)
    assert sum(result.timeline["site"].values()) == 60  # each request counted once
    doc = incident_document(result, load(), datetime(2026, 6, 20, tzinfo=UTC))
    assert doc["input"]["lines_late"] == 60


def _readers(at: str) -> list[str]:
    """Six visitors reading a page at ``at`` (a combined log's time), the background of the logs below."""
    return [f'198.51.100.{v} - - [{at}] "GET /news HTTP/1.1" 200 900 "-" "browser"\n' for v in range(6)]


def _scan_log(start: datetime, minutes: int, scans: dict[int, int]) -> str:
    """Combined lines: six visitors reading pages every 20 s for ``minutes`` minutes, and one scanner
    asking for ``scans[m]`` distinct missing paths in minute ``m``."""
    out = []
    for second in range(minutes * 60):
        at = (start + timedelta(seconds=second)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        if second % 20 == 0:
            out += _readers(at)
        if second % 60 < scans.get(second // 60, 0):
            out.append(f'203.0.113.66 - - [{at}] "GET /old-{second}.html HTTP/1.1" 404 0 "-" "browser"\n')
    return "".join(out)


def test_a_slow_scan_seen_as_two_episodes_is_one_incident_counting_each_request_once(tmp_path: Path) -> None:
    """Two bursts of one scanner at the alarm bar (20 missing paths a minute), and probing below it in
    between (2 a minute): the kernel closes the first episode in the lull, and the incident, whose rows
    reach past it, takes in the second; the rows the two episodes share count once."""
    bursts = dict.fromkeys([*range(60, 70), *range(82, 92)], 20)
    minutes = bursts | dict.fromkeys(range(70, 82), 2)
    log = tmp_path / "access.log"
    log.write_text(_scan_log(datetime(2026, 6, 14, tzinfo=UTC), 150, minutes))
    opened = Engine.__dict__["_events"]
    episodes: list[datetime] = []

    def spy(engine: Engine, name: str, events: list[Any]) -> None:
        episodes.extend(ev.start for ev in events if ev.action == "open" and ev.family == "scan")
        opened(engine, name, events)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Engine, "_events", spy)
        doc, ev = _run(log)
    assert len(episodes) == 2  # the kernel saw two
    (incident,) = [i for i in doc["incidents"] if i["kind"] == "scan"]
    assert incident["start"] == "2026-06-14T01:00:00Z"
    assert "2026-06-14T01:31:20Z" <= incident["end"] <= "2026-06-14T01:32:30Z"  # the last, 01:31:19
    assert incident["requests"]["total"] == sum(minutes.values())  # each of the scanner's requests once
    (sources,) = [e["sources"] for e in ev["incidents"] if e["incident"] == incident["id"]]
    assert [s["source"] for s in sources] == ["203.0.113.66"]


def _flood_log(request: str) -> str:
    """An hour of visitors (two requests a second) and, from its 30th minute, ten minutes of one source
    sending ten requests a second, each with ``request`` as its request line (the reviewer's repro)."""
    visitors = (f"81.{n % 251}.{n % 241}.{n % 239 + 1}" for n in itertools.count(7))
    start = datetime(2024, 10, 10, 12, tzinfo=UTC)
    out = []
    for second in range(3600):
        at = (start + timedelta(seconds=second)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        out += [f'{next(visitors)} - - [{at}] "GET /page{second % 50} HTTP/1.1" 200 512 "-" "Mozilla"\n'] * 2
        if 1800 <= second < 2400:
            out += [f'198.51.100.77 - - [{at}] {request} 400 0 "-" "-"\n'] * 10
    return "".join(out)


@pytest.mark.parametrize(
    "request_line",
    ['"GET / HTTP/1.1"', '"-"', '""', r'"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03"'],
    ids=["readable", "dash", "empty", "tls bytes"],
)
def test_a_flood_of_requests_without_a_target_is_a_flood(tmp_path: Path, request_line: str) -> None:
    """nginx logs a connection closed before its request as "-", and a TLS handshake sent to the HTTP
    port as its escaped bytes: a flood of either was once rejected line by line and never reached a
    detector. It is the flood that the same lines with a readable request make, and its evidence
    writes each such request "-" (its method would be the raw bytes)."""
    log = tmp_path / "access.log"
    log.write_text(_flood_log(request_line))
    doc, ev = _run(log)
    assert doc["input"]["lines_read"] == doc["input"]["lines_parsed"] == 13_200
    assert doc["input"]["lines_rejected"] == 0
    (incident,) = doc["incidents"]
    assert incident["kind"] == "flood"
    assert incident["requests"]["total"] == 6000
    (evidence,) = ev["incidents"]
    assert [s["source"] for s in evidence["sources"]] == ["198.51.100.77"]
    (line,) = evidence["sample"]
    shown = request_line if request_line == '"GET / HTTP/1.1"' else '"-"'
    assert f"] {shown} 400 0 " in line


def _login_log(start: datetime, path: str) -> str:
    """Combined lines: six visitors reading pages every 20 s for an hour, a real login every 30 s, and
    from minute 30 one source failing 300 logins in ten minutes at ``path``."""
    out = []
    for second in range(3600):
        at = (start + timedelta(seconds=second)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        if second % 20 == 0:
            out += _readers(at)
        if second % 30 == 0:
            out.append(
                f'192.0.2.{second // 30 % 200} - - [{at}] "POST /login HTTP/1.1" 302 0 "-" "browser"\n'
            )
        if 1800 <= second < 2400 and second % 2 == 0:
            out.append(f'203.0.113.66 - - [{at}] "POST {path} HTTP/1.1" 401 0 "-" "python-requests"\n')
    return "".join(out)


@pytest.mark.parametrize("general", [False, True], ids=["coded path", "general path"])
@pytest.mark.parametrize(
    "path",
    ["/login", "/login/", "//login", "/login;jsessionid=1", "/%6Cogin", "http://cec.example/login", "/Login"],
)
def test_a_brute_force_is_found_however_the_login_path_is_spelt(
    tmp_path: Path, path: str, general: bool
) -> None:
    """Servers route ``/login/``, ``//login`` or ``/login;jsessionid=1`` to the handler of ``/login``, so
    a brute force sent there is one (paths are case-sensitive: ``/Login`` is another path)."""
    log = tmp_path / "access.log"
    log.write_text(_login_log(datetime(2024, 10, 10, 12, tzinfo=UTC), path))
    # an allowlist (of no one here) takes every chunk down the general path, not the coded one
    asset = (
        replace(default_asset(), allow=NetworkSet(parse_networks(["10.9.9.9/32"], "test")))
        if general
        else default_asset()
    )
    result = scan([log], resolve("combined"), [asset], load)
    doc = incident_document(result, load(), datetime(2026, 6, 20, tzinfo=UTC))
    kinds = [i["kind"] for i in doc["incidents"]]
    assert kinds == ([] if path == "/Login" else ["brute-force"])


# a scanner's traversals and probe files with their dots and separators encoded, as servers answer them
# (400, 403: none missing, so only the probes can make the scan; none was a probe as written)
ENCODED_SCAN = (
    ("/%2e%2e/%2e%2e/%2e%2e/etc/shadow", 400),
    ("/static/..%2f..%2f..%2fetc/passwd", 400),
    ("/icons/.%2e/%2e%2e/%2e%2e/bin/sh", 403),
    ("/%252e%252e/%252e%252e/windows/win.ini", 400),
    ("/..%c0%af..%c0%afetc/passwd", 400),
    ("/scripts/..%5c..%5cwinnt/system32/cmd.exe", 403),
    ("/%2Egit%2Fconfig", 403),
    ("/.env%3Bx", 403),
)


def _encoded_scan_log(start: datetime) -> str:
    """An hour of six visitors reading pages every 10 s and, from minute 30, ten minutes of one source
    asking for :data:`ENCODED_SCAN`'s paths in turn, one every two seconds (30 a minute)."""
    out = []
    for second in range(3600):
        at = (start + timedelta(seconds=second)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        if second % 10 == 0:
            out += _readers(at)
        if 1800 <= second < 2400 and second % 2 == 0:
            path, status = ENCODED_SCAN[second // 2 % len(ENCODED_SCAN)]
            out.append(f'203.0.113.66 - - [{at}] "GET {path} HTTP/1.1" {status} 0 "-" "zgrab/0.x"\n')
    return "".join(out)


@pytest.mark.parametrize("general", [False, True], ids=["coded path", "general path"])
def test_a_scan_spelt_with_encoded_dots_and_slashes_is_a_scan(tmp_path: Path, general: bool) -> None:
    """``/%2e%2e/``, ``..%2f``, ``%252e`` and ``..%c0%af`` are the traversal a server or the application
    behind it decodes them to, and ``/%2Egit%2Fconfig`` is ``/.git/config``: a scanner sending only
    these is a scan, each of its requests a probe."""
    log = tmp_path / "access.log"
    log.write_text(_encoded_scan_log(datetime(2024, 10, 10, 12, tzinfo=UTC)))
    # an allowlist (of no one here) takes every chunk down the general path, not the coded one
    asset = (
        replace(default_asset(), allow=NetworkSet(parse_networks(["10.9.9.9/32"], "test")))
        if general
        else default_asset()
    )
    doc, ev = _run(log, asset=asset)
    (incident,) = doc["incidents"]
    assert incident["kind"] == "scan"
    assert incident["requests"]["total"] == 300
    (evidence,) = ev["incidents"]
    assert [s["source"] for s in evidence["sources"]] == ["203.0.113.66"]
    (line,) = evidence["sample"]
    assert '"GET /..%c0%af..%c0%afetc/passwd HTTP/1.1" 400 ' in line  # the first, shown as written


def test_rows_dated_far_ahead_are_not_summed_again_with_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every other line dated 30 days ahead: their rows once stayed among the pending rows, past every
    chunk's first bucket, and were summed again with each chunk (a log twice as long took 2.4 times as
    long, four times as long 6.6 times). The rows summed now grow with the log, not its square."""
    from detente.monitor import aggregate

    summed = [0]
    real = aggregate._summed_rows

    def counting(parts: Any, schema: Any) -> pl.DataFrame:
        summed[0] += sum(p.height for p in parts)
        return real(parts, schema)

    monkeypatch.setattr(aggregate, "_summed_rows", counting)
    start = datetime(2026, 6, 14, 10, 0, tzinfo=UTC)
    asset = default_asset()
    scanner = Scanner(Parser(resolve("combined"), [asset]), Engine([asset], load()))
    chunks, per_chunk = 40, 200
    for c in range(chunks):
        times = [start + timedelta(seconds=3 * (c * per_chunk + i)) for i in range(per_chunk)]
        times = [t if i % 2 else t + timedelta(days=30) for i, t in enumerate(times)]
        scanner.feed(_stamped(times).encode())
        if c % pipeline.DETECT_EVERY:
            scanner.advance()
    scanner.finish()
    assert scanner.ahead == chunks * per_chunk // 2
    assert summed[0] < chunks * per_chunk  # once about chunks**2 * per_chunk / 4 rows


def test_the_last_line_of_a_wrong_clock_is_ahead_like_the_others_of_it(tmp_path: Path) -> None:
    """Every other line dated 30 days ahead, the last of them last in the log: no line follows it to
    show it ahead, but lines of the same clock were shown ahead. It was analysed as the log's time
    (its bucket alone, 30 days after the rest, and the log's last time with it)."""
    start = datetime(2026, 6, 14, 10, 0, tzinfo=UTC)
    times = [start + timedelta(seconds=3 * i) for i in range(400)]
    times = [t + timedelta(days=30) if i % 2 else t for i, t in enumerate(times)]
    log = tmp_path / "access.log"
    log.write_text(_stamped(times))
    result = scan([log], resolve("combined"), [default_asset()], load)
    assert result.ahead == 200
    assert result.last == times[-2]
    assert sum(result.timeline["site"].values()) == 200
