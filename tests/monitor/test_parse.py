"""Parsing: formats, compression, time zones, proxies, and never a crash on garbage."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import ConfigError, InputError
from detente.monitor.assets import default_asset, parse_assets
from detente.monitor.attribution import load
from detente.monitor.formats import NO_TARGET, from_format_string, resolve
from detente.monitor.inputs import chunks, expand, open_log
from detente.monitor.parse import Parser
from detente.monitor.pipeline import scan

LINE = '203.0.113.7 - - [12/Jun/2026:10:00:00 +0200] "GET /a?b=c HTTP/1.1" 200 5 "-" "ua"\n'
ASSETS = """
[[asset]]
name = "cec"
hosts = ["cec.example"]
trusted_proxies = ["10.0.0.0/8"]
allow = ["192.0.2.0/28"]
[[asset]]
name = "ministry"
hosts = ["gov.example"]
"""


def _parser(fmt: str = "combined") -> Parser:
    return Parser(resolve(fmt), parse_assets(ASSETS))


@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\n\r\x00", blacklist_categories=["Cs"]), max_size=80
        )
    )
)
@settings(max_examples=60)
def test_garbage_never_crashes_and_every_line_is_counted(lines: list[str]) -> None:
    data = "".join(line + "\n" for line in [*lines, LINE.strip()]).encode()
    frame, stats = _parser().parse(data)
    assert stats.read == stats.parsed + stats.rejected
    assert frame.height == stats.parsed >= 1


def test_dates_no_server_writes_are_malformed_lines_not_crashes(tmp_path: Path) -> None:
    dated = [LINE.replace("12/Jun/2026:10:00:00 +0200", t) for t in ("01/Jan/0001:00:00:00 +0000",
             "31/Dec/9999:23:59:59 -1400", "12/Jun/2036:10:00:00 +0200")]  # fmt: skip
    _, stats = _parser().parse("".join([LINE, *dated]).encode())
    assert (stats.read, stats.parsed, stats.rejected) == (4, 2, 2)  # a date ten years on is a date
    log = tmp_path / "access.log"
    log.write_text("".join([LINE, *dated]))
    result = scan([log], resolve("combined"), [default_asset()], load)  # once an OverflowError
    assert result.stats.parsed == 2
    assert result.timeline["site"]  # and the ten years between the two are not filled in bucket by bucket


def test_a_line_whose_time_cannot_be_read_is_sampled_with_the_other_rejected() -> None:
    unreadable = [LINE.replace("12/Jun/2026:10:00:00 +0200", t) for t in ("30/Feb/2026:10:00:00 +0200",
                  "12/Jun/2026:25:61:61 +0200", "12/Jun/2026:10:00:00 +9999")]  # fmt: skip
    _, stats = _parser().parse("".join([LINE, *unreadable]).encode())
    assert (stats.parsed, stats.rejected) == (1, 3)
    shown = '203.0.113.7 - - [-] "GET /a?REDACTED HTTP/1.1" 200 5 "-" "ua"'  # redacted, as evidence is
    assert stats.samples == [f"the time cannot be read: {shown}"] * 3


# rejected lines holding what evidence must never show: a user, a query string, a path parameter, a
# referer, the user and password of an absolute target, a query in a request's first word
SECRETS = ("bob", "S3CRET", "alice", "session=", "carol", "hunter2", "jsessionid", "token")
REJECTED = (
    '203.0.113.9 - bob [10/Oct/2024:12:59:59 +0000] "GET /reset?token=S3CRET1 HTTP/1.1" 2000 12 "-" "x"',
    'not-an-address - alice [10/Oct/2024:12:59:59 +0000] "GET /reset?token=S3CRET2 HTTP/1.1" 200 12 '
    '"https://mail.example/?session=abc" "x"',
    '203.0.113.9 - - [10/Oct/2024:25:99:99 +0000] "GET http://carol:hunter2@cec.example/a;jsessionid=S3CRET3 '
    'HTTP/1.1" 404 0 "-" "x"',
    '::1::2 - - [31/Feb/2024:12:00:00 +0000] "/reset?token=S3CRET4 HTTP/1.1" 200 0 "-" "x"',
)


def test_rejected_lines_are_sampled_redacted_never_as_they_were_read() -> None:
    """The sample goes into the evidence, which the counterparty receives: it holds what the evidence's
    sample lines hold, the fields that could not be read written "-", and of a line the format does not
    read at all, only its length."""
    _, stats = Parser(resolve("combined"), [default_asset()]).parse("\n".join(REJECTED).encode() + b"\n")
    assert stats.rejected == 4
    assert stats.samples == [
        f"does not match the format: a line of {len(REJECTED[0])} characters",
        'the address cannot be read: - - - [10/Oct/2024:12:59:59 +0000] "GET /reset?REDACTED HTTP/1.1" '
        '200 12 "-" "x"',
        'the time cannot be read: 203.0.113.9 - - [-] "GET http://cec.example/a HTTP/1.1" 404 0 "-" "x"',
        'the address and the time cannot be read: - - - [-] "- HTTP/1.1 HTTP/1.1" 200 0 "-" "x"',  # no method
    ]
    row = {"remote_addr": "203.0.113.9", "time": "2024-10-10T12:00:00Z", "request": "GET /r?token=S3CRET5"}
    _, stats = Parser(resolve("json"), [default_asset()]).parse(json.dumps(row | {"status": "ok"}).encode())
    assert stats.samples == [
        'the status cannot be read: 203.0.113.9 - - [10/Oct/2024:12:00:00 +0000] "GET /r?REDACTED HTTP/1.1" '
        '- 0 "-" "-"'
    ]


# what nginx logs as the request of a connection closed before it sent one (408, 400), of an empty
# request, of a single word, and of a TLS handshake sent to the HTTP port (its bytes escaped)
NO_REQUEST = ('"-"', '""', '"HELLO"', r'"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03"')


def test_a_line_whose_request_cannot_be_read_counts_as_a_request_without_a_target() -> None:
    """Its address, time and status say who sent something and when: a flood of such lines is an attack
    (they were all rejected, and no detector saw them). Only an address, a time or a status that cannot
    be read rejects a line."""
    lines = [LINE.replace('"GET /a?b=c HTTP/1.1"', request) for request in NO_REQUEST]
    frame, stats = _parser().parse("".join(lines).encode())
    assert (stats.read, stats.parsed, stats.rejected, stats.samples) == (4, 4, 0, [])
    assert frame["path"].to_list() == [NO_TARGET] * 4
    assert frame["query"].to_list() == [False] * 4
    assert frame["status"].to_list() == [200] * 4
    unreadable = [
        lines[0].replace("203.0.113.7", "nobody"),
        lines[0].replace("12/Jun/2026:10:00:00 +0200", "soon"),
        lines[0].replace(" 200 ", " 2000 "),
    ]
    _, stats = _parser().parse("".join(unreadable).encode())
    assert (stats.read, stats.rejected) == (3, 3)
    json_lines = [
        {"remote_addr": "203.0.113.7", "time": "2026-06-12T10:00:00+02:00", "status": 408},
        {"remote_addr": "203.0.113.7", "time": "2026-06-12T10:00:00+02:00", "request": "-", "status": 400},
    ]
    data = "".join(json.dumps(row) + "\n" for row in json_lines).encode()
    frame, stats = _parser("json").parse(data)
    assert (stats.parsed, frame["path"].to_list()) == (2, [NO_TARGET] * 2)


def test_json_time_local_is_read_in_the_common_log_format() -> None:
    when = "12/Jun/2026:10:00:00 +0200"
    row = {"remote_addr": "203.0.113.7", "time_local": when, "request": "GET / HTTP/1.1", "status": 200}
    frame, stats = Parser(resolve("json"), parse_assets(ASSETS)).parse(json.dumps(row).encode() + b"\n")
    assert stats.parsed == 1
    assert frame["ts"][0].isoformat() == "2026-06-12T08:00:00+00:00"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    frame, stats = _parser().parse(b"\xff\xfe garbage\n" + LINE.encode())
    assert (frame.height, stats.rejected) == (1, 1)


def test_query_string_is_split_off() -> None:
    frame, _ = _parser().parse(LINE.encode())
    assert frame.row(0, named=True)["path"] == "/a"
    assert frame.row(0, named=True)["query"] is True


def test_json_lines_with_iso_times() -> None:
    rows = [
        {
            "remote_addr": "198.51.100.1",
            "time": "2026-06-12T10:00:00+02:00",
            "request": "GET / HTTP/1.1",
            "status": 200,
            "http_user_agent": "ua",
        },
        {
            "client_ip": "2001:db8::5",
            "timestamp": "2026-06-12T08:00:01Z",
            "method": "POST",
            "path": "/login",
            "status": "401",
        },
        {"nothing": "useful"},
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    frame, stats = _parser("json").parse(data)
    assert stats.rejected == 1
    assert frame["src"].to_list() == ["198.51.100.1", "2001:db8::/64"]
    assert [t.isoformat() for t in frame["ts"]] == ["2026-06-12T08:00:00+00:00", "2026-06-12T08:00:01+00:00"]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-06-14 00:00:05", "2026-06-14T00:00:05+00:00"),  # a space for the T, no offset
        ("2026-06-14 00:00:05.250", "2026-06-14T00:00:05.250000+00:00"),
        ("2026-06-14 02:00:05.5+02:00", "2026-06-14T00:00:05.500000+00:00"),
        (1781395203, "2026-06-14T00:00:03+00:00"),  # seconds
        (1781395203.5, "2026-06-14T00:00:03.500000+00:00"),
        (1781395203123, "2026-06-14T00:00:03.123000+00:00"),  # milliseconds (13 digits)
        ("1781395203123", "2026-06-14T00:00:03.123000+00:00"),
        (1781395203123456, "2026-06-14T00:00:03.123000+00:00"),  # microseconds
    ],
)
def test_json_times_in_the_usual_other_forms(when: object, expected: str) -> None:
    """Both were once rejected, every line of a log that writes them."""
    row = {"remote_addr": "203.0.113.9", "time": when, "request": "GET / HTTP/1.1", "status": 200}
    frame, stats = _parser("json").parse(json.dumps(row).encode() + b"\n")
    assert stats.rejected == 0
    assert frame["ts"][0].isoformat() == expected


def test_custom_nginx_format_with_host_and_trusted_proxy() -> None:
    fmt = from_format_string(
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" "$http_x_forwarded_for" $host'
    )
    line = (
        '10.1.2.3 - - [12/Jun/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" '
        '"6.6.6.6, 203.0.113.9, 10.9.9.9" cec.example\n'
        '198.51.100.4 - - [12/Jun/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" '
        '"6.6.6.6" gov.example:443\n'
        '192.0.2.3 - - [12/Jun/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" "-" cec.example\n'
    )
    frame, _ = Parser(fmt, parse_assets(ASSETS)).parse(line.encode())
    # behind the trusted proxy: the right-most hop that is not trusted, never the spoofable left-most
    assert frame["client"].to_list() == ["203.0.113.9", "198.51.100.4", "192.0.2.3"]
    assert frame["asset"].to_list() == ["cec", "ministry", "cec"]
    assert frame["allowed"].to_list() == [False, False, True]


def test_forwarded_hops_with_a_port_are_read_as_their_address() -> None:
    """Some proxies (Azure Application Gateway) append the client's port to its X-Forwarded-For hop."""
    fmt = from_format_string(
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" "$http_x_forwarded_for" $host'
    )
    hops = [
        "203.0.113.5:4711",
        "[2001:db8::5]:4711",
        "[2001:db8::6]",
        "2001:db8::7",
        "1.1.1.1, 203.0.113.8:1",
    ]
    hops.append("203.0.113.9, 10.0.0.7:443")  # the trusted proxy's own hop, with a port: skipped
    lines = "".join(
        f'10.1.2.3 - - [12/Jun/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" "{hop}" cec.example\n'
        for hop in hops
    )
    frame, stats = Parser(fmt, parse_assets(ASSETS)).parse(lines.encode())
    assert stats.rejected == 0
    assert frame["client"].to_list() == [
        "203.0.113.5",
        "2001:db8::5",
        "2001:db8::6",
        "2001:db8::7",
        "203.0.113.8",
        "203.0.113.9",
    ]
    assert frame["src"].to_list() == ["203.0.113.5", *["2001:db8::/64"] * 3, "203.0.113.8", "203.0.113.9"]


def test_a_format_string_too_long_to_split_is_refused() -> None:
    longest = from_format_string(
        " ".join(["$remote_addr", "$time_local", "$request", "$status", *["-"] * 124])
    )
    frame, stats = Parser(longest, [default_asset()]).parse(b"1.2.3.4 t /a 200" + b" -" * 124 + b"\n")
    assert (stats.read, stats.rejected, frame.height) == (1, 1, 0)  # split in 255 steps; "t" is no time
    with pytest.raises(ConfigError, match="at most 128"):
        from_format_string(" ".join(["$remote_addr", "$time_local", "$request", "$status", *["-"] * 125]))


def test_apache_format_string() -> None:
    fmt = from_format_string(r"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"")
    frame, stats = Parser(fmt, parse_assets(ASSETS)).parse(LINE.encode())
    assert (frame.height, stats.rejected) == (1, 0)


def test_naive_times_take_the_given_zone() -> None:
    fmt = from_format_string('$remote_addr [$time_iso8601] "$request" $status')
    line = b'198.51.100.1 [2026-01-12T10:00:00] "GET / HTTP/1.1" 200\n'
    frame, _ = Parser(fmt, parse_assets(ASSETS), timezone="Europe/Berlin").parse(line)
    assert frame["ts"][0].isoformat() == "2026-01-12T09:00:00+00:00"


def test_plain_gzip_and_zstd_read_alike(tmp_path: Path) -> None:
    data = (LINE * 1000).encode()
    (tmp_path / "a.log").write_bytes(data)
    (tmp_path / "b.log.gz").write_bytes(gzip.compress(data))
    (tmp_path / "c.log.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    files = expand([str(tmp_path)])
    assert len(files) == 3
    for path in files:
        with open_log(path) as fh:
            got = b"".join(chunks(fh, size=1000))
        assert got == data


@pytest.mark.parametrize(
    "names",
    [
        ["access.log.10.gz", "access.log.2.zst", "access.log.1", "access.log", "error.log.1", "error.log"],
        ["access.log-20260612.gz", "access.log-20260613", "access.log"],
        ["access.log-2026-06-12.gz", "access.log-2026-06-13", "access.log-2026-06-13_12-30", "access.log"],
        ["app.log.2026.06.11", "app.log_2026_06_12T0600.zst", "app.log-20260612-1800", "app.log"],
    ],
    ids=["numbered", "dated", "dated-with-separators", "dated-mixed"],
)
def test_rotated_files_of_one_time_are_read_oldest_first_by_their_names(
    tmp_path: Path, names: list[str]
) -> None:
    """``cp -r`` or an archive can give a whole rotated set the same modification time; the names once
    broke the tie alphabetically (access.log before access.log.1), and a scan of a rotated folder read
    the newest file first: the rest was late, and nothing was found."""
    for name in reversed(names):
        (tmp_path / name).write_bytes(b"x\n")
        os.utime(tmp_path / name, (1_000_000.0, 1_000_000.0))
    assert [p.name for p in expand([str(tmp_path)])] == names
    for at, name in enumerate(names):  # written within one second, in the wrong order: names decide
        os.utime(tmp_path / name, (1_000_000.9 - at / 10, 1_000_000.9 - at / 10))
    assert [p.name for p in expand([str(tmp_path)])] == names


@pytest.mark.parametrize(
    "rotated",
    [
        ["access.log.10.gz", "access.log.9.gz", "access.log.2.gz", "access.log.1", "access.log"],
        ["access.log-2026-06-12.gz", "access.log-20260613", "access.log"],
    ],
    ids=["numbered", "dated"],
)
def test_a_copied_rotated_set_is_read_oldest_first_whatever_the_copies_times(
    tmp_path: Path, rotated: list[str]
) -> None:
    """``cp`` or ``scp`` of a large rotated set can give the copies times in the reverse order, seconds
    apart (access.log copied first); the times once came before the names, and the newest file was
    read first. Within one log's set the names decide; the times order different logs."""
    first, last = "error.log", "other.log"  # logs of other names, copied before and after
    for at, name in enumerate([first, *reversed(rotated), last]):
        (tmp_path / name).write_bytes(b"x\n")
        os.utime(tmp_path / name, (1_000_000.0 + 10 * at, 1_000_000.0 + 10 * at))
    assert [p.name for p in expand([str(tmp_path)])] == [first, *rotated, last]
    os.utime(tmp_path / first, (2_000_000.0, 2_000_000.0))  # copied after the others: read after them
    assert [p.name for p in expand([str(tmp_path)])] == [*rotated, last, first]


def test_a_zstd_log_of_several_frames_is_read_whole_and_a_cut_one_is_refused(tmp_path: Path) -> None:
    data = (LINE * 5000).encode()
    frame = zstandard.ZstdCompressor().compress(data)
    (tmp_path / "two.zst").write_bytes(frame + frame)  # as `zstd` appends to an archive
    (tmp_path / "cut.zst").write_bytes(frame[: len(frame) // 2])  # copied while being compressed
    with open_log(tmp_path / "two.zst") as fh:
        assert b"".join(chunks(fh, size=4096)) == data + data
    with open_log(tmp_path / "cut.zst") as fh, pytest.raises(InputError, match="cut short"):
        b"".join(chunks(fh, size=4096))


def test_damaged_compressed_logs_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    data = (LINE * 5000).encode()
    for name, packed in (("d.gz", gzip.compress(data)), ("d.zst", zstandard.ZstdCompressor().compress(data))):
        broken = bytearray(packed)
        broken[len(broken) // 2 : len(broken) // 2 + 64] = bytes(64)  # a run of bytes lost mid-file
        (tmp_path / name).write_bytes(bytes(broken))
        with open_log(tmp_path / name) as fh, pytest.raises(InputError, match="damaged compressed input"):
            b"".join(chunks(fh, size=4096))


def test_chunks_end_at_line_ends_and_keep_a_last_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"one\ntwo\nthree")
    with open_log(path) as fh:
        parts = list(chunks(fh, size=3))
    assert all(p.endswith(b"\n") for p in parts)
    assert b"".join(parts) == b"one\ntwo\nthree\n"
