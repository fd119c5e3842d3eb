"""The coded path gives the general path's answers: the splitter's codes and times, and the aggregates
counted from them (:mod:`detente.monitor.coded`), against what Polars computes from the strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.monitor import _split, pipeline
from detente.monitor.addr import NetworkSet, parse_networks
from detente.monitor.aggregate import COUNTS, KEYS, aggregate, missed_pairs
from detente.monitor.assets import Asset, default_asset
from detente.monitor.attribution import load
from detente.monitor.coded import _OUT, aggregate_coded
from detente.monitor.engine import Engine
from detente.monitor.formats import from_format_string, resolve
from detente.monitor.parse import LOCAL_TIME, TS, Parser, split_raw
from detente.monitor.pipeline import Scanner, scan

COMBINED = resolve("combined")
T0 = datetime(2026, 6, 14, 10, tzinfo=UTC)
ADDRS = (
    "192.0.2.1",
    "192.0.2.2",
    "198.51.100.7",
    "2001:db8:1:2::1",
    "2001:db8:1:2::99",  # the same /64 as the one before: one source
    "2001:DB8:1:3:0:0:0:1",
    "::ffff:192.0.2.1",  # the IPv4 address above, mapped: the same source
    "64:ff9b::c000:202",  # the second one, under NAT64's prefix: the same source
    "2001:db8::7",
)
REQUESTS = (
    "GET / HTTP/1.1",
    "GET /news?id=4 HTTP/1.1",
    "POST /login HTTP/1.1",
    "GET /login HTTP/1.1",
    "POST /login/ HTTP/1.1",  # the login path, spelt otherwise (aggregate.path_form)
    "POST //login;jsessionid=1 HTTP/1.1",
    "GET /wp-login.php HTTP/1.1",
    "GET /.env HTTP/1.1",
    "GET //.git/config;x HTTP/1.1",  # a probe, spelt otherwise (aggregate.is_probe)
    "GET /..%2f..%2fetc/passwd HTTP/1.1",  # a traversal, encoded (aggregate.probe_decoded)
    "GET /missing-a HTTP/1.1",
    "GET /missing-b HTTP/1.1",
    "HEAD /missing-a HTTP/1.1",
    "-",  # requests without a target: nginx's for a connection closed before its request, and others
    "",
    "HELLO",
    r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03",
)
STATUSES = ("200", "302", "401", "403", "404", "410", "500", "301")
SIZES = ("512", "-", "0", "99999999999999999999")


def _line(addr: str, at: datetime, request: str, status: str, size: str, agent: str) -> str:
    stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{addr} - - [{stamp}] "{request}" {status} {size} "-" "{agent}"'


GOOD_LINE = st.builds(
    _line,
    st.sampled_from(ADDRS),
    st.integers(0, 300).map(lambda s: T0 + timedelta(seconds=s)),
    st.sampled_from(REQUESTS),
    st.sampled_from(STATUSES),
    st.sampled_from(SIZES),
    st.sampled_from(("Mozilla/5.0", "curl/8", "")),
)
# lines the general path rejects or reads otherwise: no address, a time in another zone or spelling
# or of a day that does not exist, a line beyond ASCII, no match at all
ODD_LINES = (
    'x - - [14/Jun/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
    '192.0.2.9 - - [14/Jun/2026:12:00:00 +0200] "GET / HTTP/1.1" 200 1 "-" "-"',
    '192.0.2.9 - - [14/jun/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
    '192.0.2.9 - - [31/Jun/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
    '192.0.2.9 - - [14/Jun/2026:10:00:00 +0000] "GET /\u00e9 HTTP/1.1" 200 1 "-" "-"',
    "not a log line",
)
ODD_LINE = st.sampled_from(ODD_LINES)


def _general(chunk: bytes, parser: Parser) -> pl.DataFrame:
    frame, _ = parser.parse(chunk)
    return aggregate(frame, parser.assets).sort(KEYS)


@settings(max_examples=200)
@given(st.lists(GOOD_LINE, min_size=1, max_size=60))
def test_coded_aggregates_equal_the_general_path(lines: list[str]) -> None:
    chunk = ("\n".join(lines) + "\n").encode()
    parser = Parser(COMBINED, (default_asset(),))
    coded = aggregate_coded(split_raw(chunk, COMBINED), parser)
    assert coded is not None  # every line parses: the common case
    assert coded.agg.sort(KEYS).equals(_general(chunk, parser))
    frame, stats = parser.parse(chunk)
    assert coded.missed.sort(coded.missed.columns).equals(missed_pairs(frame).sort(coded.missed.columns))
    assert (coded.stats.read, coded.stats.parsed, coded.stats.rejected) == (stats.read, stats.parsed, 0)
    assert (coded.first, coded.last) == (frame["ts"].min(), frame["ts"].max())


@settings(max_examples=200)
@given(st.lists(GOOD_LINE, min_size=2, max_size=60), st.data())
def test_a_key_split_between_chunks_is_counted_as_in_one(lines: list[str], data: st.DataObject) -> None:
    """Where a key's lines fall in two chunks or more, the engine's pending rows are those of one chunk:
    counts summed, and the distinct missing paths (which a sum would count twice) counted once."""
    cuts = sorted(data.draw(st.sets(st.integers(1, len(lines) - 1), min_size=1, max_size=3)))
    lines = sorted(lines, key=lambda line: line.split("[", 1)[1])  # in time order, as a log writes
    parser = Parser(COMBINED, (default_asset(),))
    whole, split = (Scanner(parser, Engine(parser.assets, load())) for _ in range(2))
    whole.feed(("\n".join(lines) + "\n").encode())
    for start, end in zip([0, *cuts], [*cuts, len(lines)], strict=True):
        split.feed(("\n".join(lines[start:end]) + "\n").encode())
    columns = [*KEYS, *COUNTS]
    assert (
        split.engine.pending.select(columns)
        .sort(KEYS)
        .equals(whole.engine.pending.select(columns).sort(KEYS))
    )


@settings(max_examples=200)
@given(st.lists(st.one_of(GOOD_LINE, ODD_LINE), min_size=1, max_size=30))
def test_a_chunk_the_coded_path_declines_is_counted_by_the_general_path(lines: list[str]) -> None:
    chunk = ("\n".join(lines) + "\n").encode()
    parser = Parser(COMBINED, (default_asset(),))
    scanner = Scanner(parser, Engine(parser.assets, load()))  # its parse side only
    if aggregate_coded(split_raw(chunk, COMBINED), parser) is None:
        assert any(line in ODD_LINES for line in lines)
    parsed = scanner.prepare(chunk)
    frame, stats = parser.parse(chunk)
    assert (parsed.stats.read, parsed.stats.rejected) == (stats.read, stats.rejected)
    if frame.height:
        assert parsed.agg.sort(KEYS).equals(aggregate(frame, parser.assets).sort(KEYS))
    else:
        assert not parsed.agg.height  # no line parsed: nothing to count


def _asset(**kwargs: Any) -> Asset:
    return Asset(name="site", party="XX", kind="state-agency", **kwargs)


def test_the_coded_path_declines_what_only_the_general_path_does() -> None:
    good = (_line("192.0.2.1", T0, "GET / HTTP/1.1", "200", "1", "ua") + "\n").encode()
    networks = NetworkSet(parse_networks(["10.0.0.0/8"], "test"))
    assert aggregate_coded(split_raw(good, COMBINED), Parser(COMBINED, (_asset(),))) is not None
    for asset in (_asset(trusted_proxies=networks), _asset(allow=networks)):
        assert aggregate_coded(split_raw(good, COMBINED), Parser(COMBINED, (asset,))) is None
    # hosts are matched only where the format has a host field
    hosted = (_asset(hosts=("www.example",)),)
    assert aggregate_coded(split_raw(good, COMBINED), Parser(COMBINED, hosted)) is not None
    vhost = from_format_string('%v %h %l %u %t "%r" %>s %b')
    with_host = b"www.example " + good
    assert aggregate_coded(split_raw(with_host, vhost), Parser(vhost, hosted)) is None
    # lines dated years apart: the buckets are numbered by those that occur, not counted across the gap
    parser = Parser(COMBINED, (default_asset(),))
    far = (
        _line("192.0.2.2", datetime(9000, 1, 1, tzinfo=UTC), "GET / HTTP/1.1", "200", "1", "ua") + "\n"
    ).encode()
    coded = aggregate_coded(split_raw(good + far, COMBINED), parser)
    assert coded is not None
    assert coded.agg.sort(KEYS).equals(_general(good + far, parser))


@settings(max_examples=300)
@given(
    st.tuples(
        st.integers(0, 39),
        st.sampled_from(["Jan", "Feb", "Jun", "Dec", "jun", "JUN", "Jux"]),
        st.integers(0, 10000),
        st.integers(0, 29),
        st.integers(0, 69),
        st.integers(0, 69),
        st.sampled_from(["+", "-", " "]),
        st.integers(0, 2999),
    )
)
def test_time_ms_is_what_strptime_reads(parts: tuple[int, str, int, int, int, int, str, int]) -> None:
    d, mon, y, h, mi, s, sign, off = parts
    text = f"{d:02d}/{mon}/{y:04d}:{h:02d}:{mi:02d}:{s:02d} {sign}{off:04d}"
    got = _time_ms(text)
    want = pl.Series([text]).str.strptime(TS, LOCAL_TIME, strict=False).to_physical()[0]
    assert got is None or got == want, text  # where C reads a time, it is Polars' reading


@settings(max_examples=200)
@given(st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)), st.integers(-23 * 60, 23 * 60))
def test_time_ms_of_every_date_and_offset(at: datetime, minutes: int) -> None:
    sign = "-" if minutes < 0 else "+"
    text = at.strftime("%d/%b/") + f"{at.year:04d}" + at.strftime(":%H:%M:%S")
    text += f" {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    epoch = (
        at.replace(microsecond=0, tzinfo=UTC) - timedelta(minutes=minutes) - datetime(1970, 1, 1, tzinfo=UTC)
    )
    want = pl.Series([text]).str.strptime(TS, LOCAL_TIME, strict=False).to_physical()[0]
    assert _time_ms(text) == epoch // timedelta(milliseconds=1) == want, text


def test_time_ms_on_every_day_of_the_edge_years() -> None:
    """Exhaustively: every day number of every month of leap and common years, every edge of the clock
    and of the offset; C reads exactly the times that exist, as strptime does."""
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    texts = [
        f"{d:02d}/{m}/{y:04d}:{clock} {zone}"
        for y in (1900, 1970, 2000, 2023, 2024, 2100, 9999)
        for m in months
        for d in range(33)
        for clock in ("00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60")
        for zone in ("+0000", "-2359", "+2400", "+0060")
    ]
    assert 0 < _read_as_strptime_does(texts) < len(texts)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["28/Feb/2023", "29/Feb/2023", "29/Feb/2024", "01/Mar/2024", "31/Dec/1999"]),
            st.sampled_from(["00:00:00", "23:59:59", "24:00:00", "12:00:60"]),
            st.sampled_from(["+0000", "-0130", "+2400"]),
        ).map(" ".join),
        max_size=30,
    )
)
def test_times_in_a_chunk_are_read_each_as_strptime_reads_it(texts: list[str]) -> None:
    """Lines that share a day, a zone, both or neither, in any order (C reads a day and zone once)."""
    _read_as_strptime_does([t.replace(" ", ":", 1) for t in texts])


def _read_as_strptime_does(texts: list[str]) -> int:
    """Split lines of these times in one chunk: C reads exactly the times that exist, as strptime does
    (a leap second, 12:00:60, it leaves to strptime, which reads it as the next minute). Returns how
    many C read."""
    chunk = "".join(f'192.0.2.1 - - [{t}] "GET / HTTP/1.1" 200 1 "-" "-"\n' for t in texts).encode()
    raw = split_raw(chunk, COMBINED)
    want = raw["time"].str.strptime(TS, LOCAL_TIME, strict=False).to_physical()
    got = raw["time_ms"]
    read = got.is_not_null()
    assert got.filter(read).equals(want.filter(read))  # what C reads, it reads as strptime does
    exists = want.is_not_null() & ~raw["time"].str.contains(":60 ", literal=True)
    assert (read == exists).all()  # and it reads every other time that exists, no more
    return int(read.sum())


def _time_ms(text: str) -> int | None:
    line = f'192.0.2.1 - - [{text}] "GET / HTTP/1.1" 200 1 "-" "-"\n'.encode()
    value = split_raw(line, COMBINED)["time_ms"][0]
    return None if value is None else int(value)


@settings(max_examples=200)
@given(
    st.lists(
        st.one_of(GOOD_LINE, ODD_LINE, st.text(alphabet=" -/ab19", max_size=10)), min_size=1, max_size=40
    )
)
def test_codes_number_each_distinct_value_in_order_of_first_appearance(lines: list[str]) -> None:
    raw = split_raw(("\n".join(lines) + "\n").encode(), COMBINED)
    for field, code in (("addr", "addr_code"), ("path", "path_code")):
        seen: dict[str, int] = {}
        want = [-1 if v is None else seen.setdefault(v, len(seen)) for v in raw[field].to_list()]
        assert raw[code].to_list() == want


def test_a_scan_counted_by_codes_finds_what_the_general_path_finds(
    dev_log: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, _ = dev_log
    assets = [default_asset()]
    used: list[bool] = []

    def spy(raw: pl.DataFrame, parser: Parser) -> Any:
        coded = aggregate_coded(raw, parser)
        used.append(coded is not None)
        return coded

    monkeypatch.setattr(pipeline, "aggregate_coded", spy)
    coded = scan([log], COMBINED, assets, load)
    assert used
    assert all(used)  # a generated log is the common case throughout
    monkeypatch.setattr(pipeline, "aggregate_coded", lambda raw, parser: None)
    general = scan([log], COMBINED, assets, load)
    assert coded.incidents  # the log holds attacks
    assert [(i.to_json(), e) for i, e in coded.incidents] == [(i.to_json(), e) for i, e in general.incidents]
    assert coded.timeline == general.timeline
    assert (coded.stats.read, coded.stats.parsed) == (general.stats.read, general.stats.parsed)


def _count(**lines: list[int]) -> tuple[dict[str, list[int]], list[int]]:
    """:func:`_split.count` of small lists, its outputs as lists (the counts by name, the missed rows)."""
    types = {
        "ms": np.int64,
        "addr_code": np.int32,
        "src_of_addr": np.int64,
        "path_code": np.int32,
        "status": np.int16,
    }
    arrays = {name: np.array(values, dtype=types.get(name, np.uint8)) for name, values in lines.items()}
    arguments = _arguments(len(lines["ms"]), **arrays)
    groups, pairs = _split.count(*arguments)
    out, missed = arguments[-2:]
    return dict(zip(_OUT, out[:, :groups].tolist(), strict=True)), missed[:pairs].tolist()


def _arguments(n: int = 2, **changes: Any) -> list[Any]:
    """Arguments of :func:`_split.count` for ``n`` lines of one address and one path, with ``changes``."""
    arguments: dict[str, Any] = {
        "ms": np.zeros(n, np.int64),
        "addr_code": np.zeros(n, np.int32),
        "src_of_addr": np.zeros(1, np.int64),
        "path_code": np.zeros(n, np.int32),
        "path_flags": np.zeros(1, np.uint8),
        "login_method": np.zeros(n, np.uint8),
        "status": np.full(n, 200, np.int16),
        "failure": np.array([401, 403], np.int16),
        "missing": np.array([404, 410], np.int16),
        "bucket_ms": 10_000,
        "out": np.empty((len(_OUT), n), np.int64),
        "missed": np.empty(n, np.int64),
    }
    return list({**arguments, **changes}.values())


def test_count_groups_lines_by_bucket_and_source_in_that_order() -> None:
    # addresses 0 and 2 are one source (1); path 0 is a probe, path 1 a login path, path 2 neither
    counted, missed = _count(
        ms=[25_000, 3_000, 4_000, 9_999, 10_000, -1],
        addr_code=[0, 1, 2, 0, 1, 1],
        src_of_addr=[1, 0, 1],
        path_code=[2, 1, 0, 2, 2, 1],
        path_flags=[1, 2, 0],
        login_method=[0, 1, 0, 0, 0, 0],
        status=[404, 401, 200, 404, 410, 200],
    )
    # groups in (bucket, source) order; a time before the epoch falls in the bucket before it (floor)
    groups = list(zip(counted["bucket"], counted["src"], strict=True))
    assert groups == [(-1, 0), (0, 0), (0, 1), (1, 0), (2, 1)]
    assert counted["n"] == [1, 1, 2, 1, 1]
    assert counted["fail"] == [0, 1, 0, 0, 0]  # a login path, a login method, a failure status
    assert counted["ok"] == [0, 0, 0, 0, 0]  # the login path's other line is not a login method
    assert counted["probe"] == [0, 0, 1, 0, 0]
    assert counted["err"] == [0, 1, 1, 1, 1]
    assert counted["miss"] == [0, 0, 1, 1, 1]  # distinct missing paths of each group
    # each group's most telling line (probe 4, failed login 2, missing 1), the first of them on a tie
    assert counted["interest"] == [0, 2, 4, 1, 1]
    assert counted["sample"] == [5, 1, 2, 4, 0]
    assert missed == [3, 4, 0]  # a line of each (group, missing path), in group order


def test_count_counts_a_missing_path_once_per_group_and_takes_the_first_sample() -> None:
    counted, missed = _count(
        ms=[0, 1, 2, 3],
        addr_code=[0, 0, 0, 0],
        src_of_addr=[0],
        path_code=[0, 1, 0, 1],
        path_flags=[0, 0],
        login_method=[0, 0, 0, 0],
        status=[404, 404, 404, 200],
    )
    assert (counted["n"], counted["miss"], counted["err"]) == ([4], [2], [3])
    assert (counted["sample"], counted["interest"], missed) == ([0], [1], [0, 1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"addr_code": np.array([0, 5], np.int32)}, "address or path code is out of range"),
        ({"path_code": np.array([0, -1], np.int32)}, "address or path code is out of range"),
        ({"status": np.zeros(2, np.int64)}, "status must hold 2-byte items"),
        ({"out": np.empty((3, 2), np.int64)}, "out must hold 8-byte items, one per line"),
        ({"bucket_ms": 0}, "bucket_ms must be positive"),
    ],
)
def test_count_refuses_inputs_it_cannot_read(change: dict[str, Any], message: str) -> None:
    assert _split.count(*_arguments()) == (1, 0)  # the unchanged arguments are read
    with pytest.raises(ValueError, match=message):
        _split.count(*_arguments(**change))
