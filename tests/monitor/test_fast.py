"""The fast paths give the slow paths' answers: each vectorised shortcut against a plain reference.

Speed work rewrote the hot spots (quote-split parsing, vectorised source keys and /64 integers,
prefix-sum windows, seam-only merges); each is checked here against the straightforward version it
replaced, on generated awkward input, so that speed can never quietly cost accuracy.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
import string
import tempfile
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import polars as pl
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.monitor import inputs
from detente.monitor.addr import (
    IPV4,
    KEY64,
    ipv4_integer,
    network_of,
    networks48,
    parse_address,
    source_key,
    source_keys,
    upper64,
    upper64_vectorised,
)
from detente.monitor.aggregate import (
    COUNTS,
    KEYS,
    aggregate,
    append,
    bucket_range,
    login_paths,
    merge,
    moment,
    pairs_seen,
    path_form,
    probe_decoded,
    probe_paths,
    split_final,
    stacked,
)
from detente.monitor.assets import default_asset
from detente.monitor.attribution import _key_integers_few, _key_integers_many, load
from detente.monitor.engine import Engine
from detente.monitor.features import (
    MAX_FILL,
    SITE_SUMS,
    Tuning,
    minute_totals,
    site_buckets,
    site_windows,
    source_features,
)
from detente.monitor.formats import FIELDS, from_format_string, resolve
from detente.monitor.incidents import busiest_per_source, sample_lines
from detente.monitor.parse import SPLIT_COLUMNS, Parser, split_fields
from detente.monitor.pipeline import Scanner, scan
from detente.monitor.probes import PROBE_REGEX

DOCS = Path(__file__).resolve().parents[2] / "docs" / "monitor.md"
T0 = datetime(2026, 6, 14, tzinfo=UTC)

# lines built from the characters that decide how a log line splits, ASCII and Unicode spaces and
# digits (which the regex's \s and \d know), controls, and bytes that are not UTF-8
PIECE = st.text(alphabet=' "[]-a1/:+\t\x0b\x0c\r\x1f\x00\xa0\u2003\u0663é', max_size=12)
# addresses near the edges of what Python reads as IPv4
IPV4_ODD = (
    "0.0.0.0",  # noqa: S104 (an address in a log line)
    "255.255.255.255",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.4a",
    "1..2.3",
)
LINE = st.builds(
    lambda a, u, t, r, s, z, rest: f'{a} - {u} [{t}] "{r}" {s} {z}{rest}',
    a=st.sampled_from(["1.2.3.4", "2001:db8::1", "a b", 'x"y', "é", "1.2.3.4\xa0", *IPV4_ODD]),
    u=st.sampled_from(["-", "bob", 'a"b', "]", "a[b"]),
    t=st.sampled_from(["14/Jun/2026:02:00:00 +0200", "x]y", "", "a[b"]),
    r=st.sampled_from(
        [
            "GET / HTTP/1.1",
            "",
            'a"b',
            "GET /é HTTP/1.1",
            "GET",
            " ",
            "GET  /a?b c d",
            "a ?",
            "G /a?b?c",
            "G ?",
        ]
    ),
    s=st.sampled_from(["200", "20", "2000", "404", "\u0664\u0660\u0664"]),
    z=st.sampled_from(["12", "-", '1"2', "", "1\t2"]),
    rest=PIECE,
)


def _by_regex(chunk: bytes, regex: str) -> pl.DataFrame:
    """The regex on each line of ``chunk`` (split at line feeds, less a carriage return that ends one),
    with the method, path and query the normaliser takes from the method, target and request groups."""
    lines = [line.removesuffix("\r") for line in chunk.decode().split("\n")]
    s = pl.Series("line", lines, dtype=pl.String)
    want = s.to_frame().select("line", pl.col("line").str.extract_groups(regex).alias("g")).unnest("g")
    want = want.with_columns(pl.lit(None, pl.String).alias(f) for f in FIELDS if f not in want.columns)
    request = pl.col("request").str.split_exact(" ", 2).struct
    target = pl.coalesce("target", request.field("field_1")).str.split_exact("?", 1).struct
    ascii_line = ~pl.col("line").str.contains(r"[^\x00-\x7f]")
    want = want.with_columns(
        pl.coalesce("method", request.field("field_0")).alias("method"),
        target.field("field_0").alias("path"),
        (ascii_line & pl.col("addr").str.contains(IPV4)).fill_null(False).alias("v4"),
        target.field("field_1").is_not_null().alias("query"),
    )
    return want.select("line", *SPLIT_COLUMNS, "v4", "query").filter(pl.col("line").str.contains(r"\S"))


@settings(max_examples=300)
@given(st.lists(st.one_of(LINE, PIECE), min_size=1, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_split_fields_equal_the_regex(lines: list[str], end: str) -> None:
    chunk = end.join(lines).encode()
    for fmt in (resolve("combined"), resolve("common")):
        for whole in (chunk, chunk + end.encode()):  # the last line ended, or not
            got, want = split_fields(whole, fmt), _by_regex(whole, fmt.regex or "")
            assert got.equals(want), (fmt.name, whole)
            for c in got.columns:  # hashing and sorting read every slot, the null ones too
                assert got[c].unique().sort().equals(want[c].unique().sort()), (c, whole)


# custom formats: the fields every format needs, then others, unknown variables and literals, shuffled
NEEDED = (("$remote_addr", ""), ("$time_local", "[]"), ("$request", '""'), ("$status", ""))
VARIABLES = ("$request_method", "$request_uri", "$body_bytes_sent", "$http_referer")
OPTIONAL = st.sampled_from(
    [(v, shape) for v in VARIABLES for shape in ("", '""', "[]")]
    + [("$http_user_agent", '""'), ("$http_x_forwarded_for", '""'), ("$host", ""), ("$time_iso8601", "[]")]
    + [("$request_time", ""), ("%D", '""'), ("-", "literal"), ('"-"', "literal"), ("rt=", "literal")]
)
FORMAT = st.lists(OPTIONAL, max_size=4).flatmap(lambda extra: st.permutations([*NEEDED, *extra]))
VALUE = st.text(alphabet=' "[]-a1/:+?\té', max_size=6)


def _token(directive: str, shape: str) -> str:
    return directive if shape in ("", "literal") else shape[0] + directive + shape[1]


def _value(draw: st.DrawFn, directive: str, shape: str) -> str:
    if shape == "literal" and draw(st.booleans()):
        return directive
    value = draw(st.sampled_from(["1.2.3.4", "GET /a?b HTTP/1.1", "200", "GET", "/x"]) | VALUE)
    return value if shape in ("", "literal") else shape[0] + value + shape[1]


@st.composite
def formatted(draw: st.DrawFn) -> tuple[str, list[str]]:
    tokens = draw(FORMAT)
    lines = [" ".join(_value(draw, d, shape) for d, shape in tokens) for _ in range(draw(st.integers(1, 6)))]
    return " ".join(_token(d, shape) for d, shape in tokens), lines


@settings(max_examples=300)
@given(formatted())
def test_split_fields_of_format_strings_equal_the_regex(case: tuple[str, list[str]]) -> None:
    spec, lines = case
    fmt = from_format_string(spec)
    chunk = "\n".join(lines).encode()
    assert split_fields(chunk, fmt).equals(_by_regex(chunk, fmt.regex or "")), spec


def test_split_fields_of_awkward_chunks() -> None:
    combined = resolve("combined")
    assert split_fields(b"", combined).height == 0
    assert split_fields(b"\n \n\t\n\xc2\xa0\n", combined).height == 0  # blank lines, Unicode spaces too
    bad = split_fields(b"1.2.3.4 - - [x] \xff\xfe", combined)  # not UTF-8: replaced, as the line reader does
    assert bad["line"].to_list() == ["1.2.3.4 - - [x] \ufffd\ufffd"]
    long = b"1.2.3.4 - - [t] " + b'"' + b"a" * 100_000 + b'" 200 1 "r" "u"'
    assert split_fields(long, combined)["method"].str.len_bytes().to_list() == [100_000]


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from(["combined", "common"]))
def test_split_fields_reads_any_bytes_as_the_regex_would(chunk: bytes, name: str) -> None:
    # any bytes at all: the C splitter never reads outside its chunk, and what is not UTF-8 is replaced
    fmt = resolve(name)
    got = split_fields(chunk, fmt)
    want = _by_regex(chunk.decode("utf-8", "replace").encode(), fmt.regex or "")
    assert got.equals(want)
    assert got.unique().height == want.unique().height  # every slot read, the null ones too


PATH = st.one_of(
    st.sampled_from(["/", "/.env", "/.ENV.bak", "/a/../b", "/wp-login.php", "/cgi-bin/x", "/news", "/.git"]),
    st.text(alphabet="/.-abcegintvw", max_size=12),
    st.none(),
)


@given(st.lists(PATH, max_size=40))
def test_probe_paths_are_the_paths_the_regex_matches(paths: list[str | None]) -> None:
    s = pl.Series("path", paths, dtype=pl.String)
    normal = pl.Series([None if p is None else _path_form(p) for p in paths], dtype=pl.String)
    want = s.filter(s.str.contains(PROBE_REGEX) | normal.str.contains(PROBE_REGEX)).unique().sort()
    assert probe_paths(s).sort().equals(want)


def test_a_probe_is_one_however_its_path_is_spelt() -> None:
    spelt = ["/.env", "/.env;x", "//.git/config", "/a/../.git/config", "/%2Eenv", "/.%65nv"]
    assert sorted(probe_paths(pl.Series([*spelt, "/news", "/envelope"])).to_list()) == sorted(spelt)


# traversals and probe paths as scanners spell them, each for a server or application that decodes it
ENCODED_PROBES = (
    "/%2e%2e/%2e%2e/%2e%2e/windows/win.ini",  # encoded dots (path_form took them off as dot segments)
    "/static/..%2f..%2fetc/passwd",  # encoded slashes
    "/%2E%2E%2F%2E%2E%2Fetc/passwd",  # both, upper case
    "/%2e%2E%2f",  # mixed case, and nothing after the traversal
    "/icons/.%2e/%2e%2e/apache2/icons/sphere1.png",  # Apache's CVE-2021-41773
    "/icons/%%32%65%%32%65/%%32%65%%32%65/bin/sh",  # its sequel, CVE-2021-42013: each digit encoded
    "/%252e%252e/%252e%252e/windows/win.ini",  # double encoding
    "/..%252f..%252fboot.ini",
    "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/hosts",  # overlong UTF-8 (Tomcat, IIS 4-5)
    "/..%c0%af..%c0%afwinnt/win.ini",
    "/%e0%80%ae%e0%80%ae/x",
    "/%u002e%u002e/%u002e%u002e/x",  # IIS's %u
    "/..%5c..%5cwindows/win.ini",  # an encoded backslash
    "/scripts/..%255c..%255cwinnt/system32/cmd.exe",
    "/..\\..\\windows/win.ini",  # a backslash as written
    "/..\\x5C..\\x5Cwindows/win.ini",  # ... and as nginx writes one in its log
    "/%252eenv",  # probe files, spelt with an encoded dot or slash
    "/.env%3bx",
    "/.git%2fconfig",
    "/%2Egit%2Fconfig",
    "/xmlrpc%252ephp",
)
# ordinary paths with escapes, which decode to no probe
ENCODED_BENIGN = (
    "/files/annual%2Freport%2F2026.pdf",
    "/docs/annual%20report%202026.pdf",
    "/search/a%2Fb%5Cc",
    "/news/%E2%80%93-dash",
    "/results%2Fregion-12",
)
# escapes that are not one: not decoded, and no error
MALFORMED = ("/a%", "/a%4", "/a%zz", "/a%%", "/%c0", "/%e0%80", "/%u00", "/%u2e", "/%g0%2", "/.env%", "/%2")


@pytest.mark.parametrize("path", ENCODED_PROBES)
def test_an_encoded_traversal_or_probe_is_a_probe(path: str) -> None:
    assert probe_paths(pl.Series([path, "/news"])).to_list() == [path]


def test_an_ordinary_path_with_an_escape_is_no_probe() -> None:
    assert probe_paths(pl.Series([*ENCODED_BENIGN, *MALFORMED, None])).to_list() == []


def test_a_malformed_escape_is_left_as_it_is() -> None:
    paths = pl.Series(
        ["/%2e%2e%2fetc/passwd%", "/%2e%2e%zz/etc", "/..%2/etc/passwd", "/%zz/.env", "/.env%zz"]
    )
    assert sorted(probe_paths(paths).to_list()) == ["/%2e%2e%2fetc/passwd%", "/%zz/.env", "/..%2/etc/passwd"]


def test_the_probe_decoding_leaves_the_login_form_as_it_was() -> None:
    paths = pl.Series("p", ["/login%2F", "/a%2Flogin", "/%2e%2e%2Flogin", "/login%5C"])
    forms = paths.to_frame().select(path_form(pl.col("p"))).to_series().to_list()
    assert forms == ["/login%2F", "/a%2Flogin", "/..%2Flogin", "/login%5C"]


_ESCAPE = re.compile(
    r"%u00([0-7][0-9a-f])|%(e0)%(8[01])%([89ab][0-9a-f])|%(c[01])%([89ab][0-9a-f])|%([0-7][0-9a-f])", re.I
)


def _decoded(path: str) -> str:
    """The reference for :func:`.aggregate.probe_decoded`, twice: each backslash (written, or as a log
    writes one) a slash; then each escape read as the bytes of a UTF-8 sequence, too long or not. A
    printable ASCII character replaces its one-byte escape; ``.``, ``/`` and a backslash (as a slash)
    replace a longer one and IIS's ``%u00XX`` too."""

    def char(m: re.Match[str]) -> str:
        b = [int(g, 16) for g in m.groups() if g is not None]
        c = chr(b[0] if len(b) == 1 else (b[-2] & 0x3F) << 6 | b[-1] & 0x3F)
        known = c in "./\\" if len(b) > 1 or m[0][1] in "uU" else " " <= c <= "~"
        return m[0] if not known else "/" if c == "\\" else c

    for _ in range(2):
        path = _ESCAPE.sub(char, re.sub(r"(?i)\\x5c|\\", "/", path))
    return path


# pieces of paths: dots, separators and escapes of them, once and twice encoded, and escapes that are not
PATH_PIECES = (
    *("/", ".", "..", "%2e", "%2E", "%2f", "%5C", "%25", "%252E", "%c0%ae", "%C0%AF", "%c1%9c", "%e0%80%AE"),
    *("%u002e", "%U002F", "\\", "\\x5c", "%", "%4", "%zz", "%c0", "%3B", "%65", "%32", ";x", "%0a", "%7F"),
    *("%u0041", "%c0%80", "%2565", "%255c"),
    *("etc", "passwd", "env", ".env", "git", "config", "x"),
)
ESCAPED_PATH = st.lists(st.sampled_from(PATH_PIECES), max_size=10).map("".join)


@settings(max_examples=300)
@given(st.lists(ESCAPED_PATH, max_size=30))
def test_probe_paths_read_escapes_as_the_reference_decodes_them(paths: list[str]) -> None:
    s = pl.Series("path", paths, dtype=pl.String)
    decoded = s.to_frame().select(probe_decoded(pl.col("path"))).to_series().to_list()
    assert decoded == [_decoded(p) if "%" in p or "\\" in p else None for p in paths]

    def probe(path: str) -> bool:
        forms = (path, _path_form(path), _decoded(path), _path_form(_decoded(path)))
        return any(re.search(PROBE_REGEX, form) for form in forms)

    assert sorted(probe_paths(s).to_list()) == sorted({path for path in paths if probe(path)})


def _path_form(path: str) -> str:
    """The reference for :func:`path_form`: RFC 3986's dot segments removed by its own algorithm's
    stack, each step in plain Python."""
    path = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*", "", path)
    unreserved = string.ascii_letters + string.digits + "-._~"
    path = re.sub(
        "%([0-9A-Fa-f]{2})", lambda m: chr(int(m[1], 16)) if chr(int(m[1], 16)) in unreserved else m[0], path
    )
    kept: list[str] = []
    for segment in path.split("/"):
        segment = segment.split(";", 1)[0]
        if segment == "..":
            kept = kept[:-1]
        elif segment not in ("", "."):
            kept.append(segment)
    return "/" + "/".join(kept)


LOGIN_PATH = st.one_of(
    st.lists(
        st.sampled_from(
            ["", ".", "..", "login", "a", ";x=1", "..;", "%6C", "%6c%2E", "%2e%2E", "%2F", "%", "%4"]
        ),
        max_size=7,
    ).map(lambda parts: "/" + "/".join(parts)),
    st.text(alphabet="/.;%2eElogin6cC:hHtTpP\n", max_size=16),
    st.sampled_from(["http://h/login", "HTTPS://u:p@h.example:8443//login/", "*", "", "/", "login"]),
)


@settings(max_examples=400)
@given(st.lists(LOGIN_PATH, max_size=20))
def test_login_form_is_the_reference_normalisation(paths: list[str]) -> None:
    got = pl.Series("p", paths, dtype=pl.String).to_frame().select(path_form(pl.col("p"))).to_series()
    assert got.to_list() == [_path_form(p) for p in paths]


def test_a_login_path_is_the_same_however_it_is_spelt() -> None:
    same = ["/login", "/login/", "//login", "/login;jsessionid=1", "/./login", "/a/../login", "/../login"]
    same += ["/%6Cogin", "/%6c%6F%67%69%6e", "http://cec.example/login", "/login//.", "//login;x/"]
    other = ["/Login", "/loginx", "/log%3Bin", "/login%2F", "/a/login", "/login/x", "/login/%2E%2E%2Fx"]
    forms = pl.Series("p", same + other).to_frame().select(path_form(pl.col("p"))).to_series().to_list()
    assert forms[: len(same)] == ["/login"] * len(same)
    assert "/login" not in forms[len(same) :]


def test_an_assets_login_paths_are_read_in_the_same_form() -> None:
    asset = replace(default_asset(), login_paths=("/account//signin/", "/login"))
    paths = pl.Series(
        "path", ["/account/signin", "/account/signin;s=1", "/login/", "/account", None, "/Login"]
    )
    assert sorted(login_paths(paths, asset).to_list()) == [
        "/account/signin",
        "/account/signin;s=1",
        "/login/",
    ]


V6 = st.ip_addresses(v=6).map(str)
V6_FULL = st.ip_addresses(v=6).map(lambda a: a.exploded.upper())
V6_SPARSE = st.integers(0, 2**16 - 1).flatmap(
    lambda g: st.integers(0, 7).map(lambda i: str(ipaddress.IPv6Address(g << (16 * i))))
)
ODD = st.sampled_from(
    [
        *("::ffff:1.2.3.4", "0:0:0:0:0:ffff:102:304", "[::1]", " 1.2.3.4", "01.2.3.4", "256.1.1.1"),
        *("fe80::1%eth0", "1:2:3:4::5:6:7:8", "1:2:3:4:5:6:7::", "1:2:3:4:::5", "1:2:3:4:5:6:7:8:9"),
        *("", "-", "::"),
        *("64:ff9b::1.2.3.4", "0064:ff9b:0000:0000:0000:0000:0102:0304", "64:ff9b:0:0:1::1"),
    ]
)
# dotted quads whose digits are any decimal digits, ASCII or not ("١٢.3.4.5"): Python's int() and a
# regex's \d read them all, ipaddress only the ASCII ones
ANY_DIGITS = st.lists(
    st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=3), min_size=4, max_size=4
).map(".".join)
ADDRESS = st.one_of(
    st.ip_addresses(v=4).map(str), V6, V6_FULL, V6_SPARSE, ODD, ANY_DIGITS, st.text(max_size=6)
)


def _key_by_ipaddress(text: str) -> str | None:
    """The source key as :mod:`ipaddress` alone reads it (the reference for the written-out shortcut)."""
    addr = parse_address(text)
    if addr is None or isinstance(addr, ipaddress.IPv4Address):
        return None if addr is None else str(addr)
    return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))


V6_ZEROS = st.lists(
    st.sampled_from(["0", "00", "0000", "1", "A", "ffff", "0db8"]), min_size=8, max_size=8
).map(":".join)  # written out, with runs of zero groups anywhere and awkward spellings


@settings(max_examples=300)
@given(st.one_of(ADDRESS, V6_ZEROS))
def test_source_key_reads_written_out_addresses_as_ipaddress_does(text: str) -> None:
    assert source_key.__wrapped__(text) == _key_by_ipaddress(text)


@settings(max_examples=100)
@given(st.lists(st.one_of(ADDRESS, st.none()), max_size=20))
def test_source_keys_equal_source_key(texts: list[str | None]) -> None:
    got = source_keys(pl.Series("c", texts, dtype=pl.String)).to_list()
    assert got == [source_key(t) if t is not None else None for t in texts]


UPPER64 = pytest.mark.parametrize("read", [upper64, upper64_vectorised], ids=["few", "many"])


@UPPER64
@given(texts=st.lists(st.one_of(V6, V6_SPARSE), max_size=20))
def test_upper64_reads_every_key_it_claims(read: Callable[[pl.Series], pl.Series], texts: list[str]) -> None:
    keys = [k for k in (source_key(t) for t in texts) if k and ":" in k]
    got = read(pl.Series("k", keys, dtype=pl.String)).to_list()
    for key, top in zip(keys, got, strict=True):
        if key.split("/")[0].count(":") <= 5 and not key.startswith("::"):
            assert top is not None, key  # the written-out form is never left to Python
        if top is not None:
            assert top == int(ipaddress.IPv6Address(key.split("/")[0])) >> 64


@given(
    st.lists(st.one_of(V6, V6_SPARSE), max_size=30),
    st.lists(st.sampled_from(["1::1/64", "::/64"]), max_size=2),
)
def test_networks_of_many_keys_equal_network_of(texts: list[str], odd: list[str]) -> None:
    keys = sorted({k for k in (source_key(t) for t in texts) if k and ":" in k} | set(odd))
    assert networks48(pl.Series("k", keys, dtype=pl.String)) == {k: network_of(k) for k in keys}


KEYISH = st.text(alphabet="0fF9aG:+-/64 ", max_size=24).map(lambda t: t + "::/64" if len(t) % 2 else t)


@UPPER64
@settings(max_examples=300)
@given(texts=st.lists(KEYISH, max_size=20))
def test_upper64_reads_exactly_the_keys_of_its_pattern(
    read: Callable[[pl.Series], pl.Series], texts: list[str]
) -> None:
    got = read(pl.Series("k", texts, dtype=pl.String))
    assert got.dtype == pl.UInt64
    for text, top in zip(texts, got.to_list(), strict=True):
        want = int(ipaddress.IPv6Address(text[:-3])) >> 64 if re.fullmatch(KEY64, text) else None
        assert top == want, text


# what a scan looks up (canonical IPv4, /64 keys) and what it never writes (loose spellings, other text)
SOURCE_KEYISH = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: source_key(str(a))),
    KEYISH,
    ODD,
    ANY_DIGITS,
    st.text(alphabet="0123456789.:afAF+- /", max_size=16),
    st.none(),
)


# what inet_aton reads besides the form of IPV4: octal, hexadecimal, fewer parts, text after a space
IPV4ISH = st.one_of(
    st.ip_addresses(v=4).map(str),
    ANY_DIGITS,
    st.text(alphabet="0123456789.xX \t\x00abf", max_size=18),
    st.sampled_from(["01.2.3.4", "0x7f.0.0.1", "1.2.3", "127.1", "1.2.3.4 ", "1.2.3.4 x", "4294967295"]),
)


@settings(max_examples=500)
@given(IPV4ISH)
def test_ipv4_integer_reads_exactly_the_pattern_of_an_ipv4_address(text: str) -> None:
    want = int(ipaddress.IPv4Address(text)) if re.fullmatch(IPV4, text) else None
    assert ipv4_integer(text) == want


@settings(max_examples=300)
@given(st.lists(SOURCE_KEYISH, max_size=30))
def test_key_integers_of_few_keys_equal_those_of_many(texts: list[str | None]) -> None:
    keys = pl.Series("k", texts, dtype=pl.String)
    few, many = _key_integers_few(keys), _key_integers_many(keys)
    for got, want in zip(few, many, strict=True):
        assert got.dtype == want.dtype
        assert got.tolist() == want.tolist()


ROW = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 80), st.sampled_from(["s1", "s2", "s3"]))


def _rows(keys: list[tuple[str, int, str]], counts: list[int]) -> pl.DataFrame:
    """Aggregate rows as :func:`.aggregate.aggregate` writes them, the sample path numbering the row."""
    frame = pl.DataFrame(
        {
            "asset": [k[0] for k in keys],
            "bucket": [T0 + timedelta(seconds=10 * k[1]) for k in keys],
            "src": [k[2] for k in keys],
            **dict.fromkeys(COUNTS, counts),
        },
        schema_overrides={"bucket": pl.Datetime("ms", "UTC"), **dict.fromkeys(COUNTS, pl.Int64)},
    )
    return frame.with_columns(
        pl.col("src").alias("client"),
        pl.lit("GET").alias("method"),
        pl.format("/p{}", pl.int_range(pl.len())).alias("path"),
        pl.lit(200, dtype=pl.Int16).alias("status"),
        pl.lit(10, dtype=pl.Int64).alias("size"),
        pl.lit("ua").alias("agent"),
        pl.lit(False).alias("query"),
        pl.col("bucket").alias("ts"),
        pl.lit(0, dtype=pl.Int8).alias("interest"),
    )


# buckets near each other, and some centuries away (keys of 32 bits must still tell them apart)
FAR_ROW = st.tuples(
    st.sampled_from(["a", "b"]),
    st.one_of(st.integers(0, 80), st.integers(-3 * 10**9, 3 * 10**9)),
    st.sampled_from(["s1", "s2", "s3"]),
)


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.one_of(ROW, FAR_ROW), st.integers(0, 9)), min_size=1, max_size=60),
    st.booleans(),
)
def test_window_sums_equal_a_plain_loop(items: list[tuple[tuple[str, int, str], int]], far: bool) -> None:
    if far:  # every source also 2**32 buckets (1361 years) earlier: keys of 32 bits must shorten the gap
        items = [((a, -(2**32), s), 1) for a in "ab" for s in ("s1", "s2", "s3")] + items
    keys = [k for k, _ in items]  # repeated keys stand for late lines of a finalised bucket
    rows = _rows(keys, [n for _, n in items])
    got = source_features(rows)
    for r in got.iter_rows(named=True):
        b = r["bucket"]
        same = [
            (T0 + timedelta(seconds=10 * k[1]), n) for k, n in items if (k[0], k[2]) == (r["asset"], r["src"])
        ]

        def window(seconds: int, same: list[tuple[datetime, int]] = same, b: datetime = b) -> list[int]:
            return [n for at, n in same if b - timedelta(seconds=seconds) < at <= b]

        assert r["r60"] == sum(window(60))
        assert r["r300"] == r["fail300"] == sum(window(300))
        assert r["act300"] == len(window(300))


# an asset's buckets: near each other, or beyond a silence of more than MAX_FILL buckets
SITE_ROW = st.tuples(
    st.sampled_from(["a", "b"]),
    st.one_of(
        st.integers(0, 12), st.integers(0, 12).map(lambda b: b + MAX_FILL), st.integers(-(10**7), 10**7)
    ),
)


@settings(max_examples=100)
@given(st.lists(st.tuples(SITE_ROW, st.integers(0, 9)), min_size=1, max_size=40, unique_by=lambda r: r[0]))
def test_site_windows_equal_a_plain_loop(items: list[tuple[tuple[str, int], int]]) -> None:
    value = dict(items)
    frame = pl.DataFrame(
        {
            "asset": [a for (a, _), _ in items],
            "bucket": [T0 + timedelta(seconds=10 * b) for (_, b), _ in items],
        },
        schema_overrides={"bucket": pl.Datetime("ms", "UTC")},
    ).with_columns(pl.Series(c, [n for _, n in items], dtype=pl.Int64) for c in (*SITE_SUMS, "HC"))
    want = []  # each asset's buckets, silences of at most MAX_FILL filled with zeros, 60 s sums
    for asset in sorted({a for a, _ in value}):
        have = sorted(b for a, b in value if a == asset)
        filled = [have[0]]
        for b in have[1:]:
            filled += range(filled[-1] + 1, b) if b - filled[-1] <= MAX_FILL else []
            filled.append(b)
        for b in filled:
            window = [value.get((asset, c), 0) for c in range(b - 5, b + 1) if c in filled]
            want.append((asset, T0 + timedelta(seconds=10 * b), value.get((asset, b), 0), sum(window)))
    got = site_windows(frame.sample(fraction=1.0, shuffle=True, seed=1))
    assert got.select("asset", "bucket", "HC", "R60").rows() == want
    assert all(got[f"{c}60"].equals(got["R60"], check_names=False) for c in SITE_SUMS)  # every sum alike


def _site_by_polars(rows: pl.DataFrame) -> pl.DataFrame:
    """The group-by :func:`site_buckets` replaced: its reference."""
    n = pl.col("n")
    return (
        rows.group_by("asset", "bucket")
        .agg(
            n.sum().alias("R"),
            pl.col("fail").sum().alias("F"),
            pl.col("ok").sum().alias("OK"),
            (pl.col("miss") + pl.col("probe")).sum().alias("M"),
            n.filter(pl.col("heavy")).sum().alias("HV"),
            pl.col("heavy").sum().alias("HC"),
            n.filter(pl.col("persistent")).sum().alias("PV"),
            pl.col("persistent").sum().alias("PC"),
            pl.col("fail300").max().alias("FMAX"),
            pl.col("miss300").max().alias("MMAX"),
            pl.len().alias("S"),
        )
        .sort("asset", "bucket")
    )


def test_site_buckets_of_no_rows_are_an_empty_group_by() -> None:
    rows = pl.DataFrame(
        schema={
            "asset": pl.String,
            "bucket": pl.Datetime("ms", "UTC"),
            **dict.fromkeys(("n", "fail", "ok", "miss", "probe", "fail300", "miss300"), pl.Int64),
            "heavy": pl.Boolean,
            "persistent": pl.Boolean,
        }
    )
    got = site_buckets(rows, ["a"])
    assert got.schema == _site_by_polars(rows).schema
    assert not got.height
    assert minute_totals(got) == []


# buckets near each other, or a line dated far away (the buckets between must not be laid out)
SITE_BUCKET = st.one_of(st.integers(0, 40), st.integers(-(10**9), 10**9))


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(st.sampled_from(["b", "a", "c"]), SITE_BUCKET, st.integers(0, 9), st.integers(-3, 9)),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from(["ms", "us"]),
)
def test_site_buckets_equal_a_group_by(items: list[tuple[str, int, int, int]], unit: str) -> None:
    rows = pl.DataFrame(
        {
            "asset": [a for a, _, _, _ in items],
            "bucket": [T0 + timedelta(seconds=10 * b) for _, b, _, _ in items],
            **{
                c: [n + i for i, (_, _, n, _) in enumerate(items)]
                for c in ("n", "fail", "ok", "miss", "probe")
            },
            "fail300": [m for _, _, _, m in items],
            "miss300": [-m for _, _, _, m in items],
        },
        schema_overrides={"bucket": pl.Datetime(unit, "UTC")},  # type: ignore[arg-type]
    ).with_columns((pl.col("n") % 2 == 0).alias("heavy"), (pl.col("n") % 3 == 0).alias("persistent"))
    got = site_buckets(rows, ["c", "a", "b"])
    want = _site_by_polars(rows)
    assert got.equals(want)
    assert got.schema == want.schema
    by_minute = want.group_by("asset", pl.col("bucket").dt.truncate("1m")).agg(pl.col("R").sum())
    assert minute_totals(got) == sorted(by_minute.iter_rows())


@settings(max_examples=60)
@given(
    st.lists(st.tuples(ROW, st.integers(0, 7)), max_size=20, unique_by=lambda r: r[0]),
    st.lists(st.tuples(ROW, st.integers(0, 7)), max_size=20, unique_by=lambda r: r[0]),
)
def test_merged_rows_keep_the_most_telling_sample_and_the_first_on_a_tie(
    older: list[tuple[tuple[str, int, str], int]], newer: list[tuple[tuple[str, int, str], int]]
) -> None:
    parts = [
        _rows([k for k, _ in items], [1] * len(items)).with_columns(
            pl.Series("interest", [i for _, i in items], dtype=pl.Int8),
            pl.format(f"/{name}{{}}", pl.int_range(pl.len())).alias("path"),
        )
        for name, items in (("old", older), ("new", newer))
    ]
    want: dict[tuple[str, int, str], tuple[int, str]] = {}
    for name, items in (("old", older), ("new", newer)):
        for row, (key, interest) in enumerate(items):
            if key not in want or interest > want[key][0]:  # a tie keeps the first (the older chunk's)
                want[key] = (interest, f"/{name}{row}")
    got = merge(parts)
    seen = {
        (r["asset"], round((r["bucket"] - T0).total_seconds()) // 10, r["src"]): (r["interest"], r["path"])
        for r in got.iter_rows(named=True)
    }
    assert seen == want
    assert got["n"].to_list() == [sum(k == key for k, _ in older + newer) for key in seen]


@settings(max_examples=150)
@given(
    st.lists(st.one_of(ROW, FAR_ROW), max_size=30, unique=True),
    st.lists(st.one_of(ROW, FAR_ROW), max_size=30, unique=True),
    st.booleans(),
    st.booleans(),
)
def test_append_equals_merge(
    older: list[tuple[str, int, str]], newer: list[tuple[str, int, str]], in_order: bool, engine: bool
) -> None:
    """In bucket order (as the engine's frames are: the seam cut out by slices) or not (filtered); with
    the samples, or keys and counts alone, as the engine keeps them (the seam summed in Python)."""
    a = _rows(older, list(range(len(older))))
    b = _rows(newer, [100 + i for i in range(len(newer))]).with_columns(pl.format("/q{}", "n").alias("path"))
    if engine:
        a, b = a[[*KEYS, *COUNTS]], b[[*KEYS, *COUNTS]]
    if in_order:
        a, b = a.sort("bucket"), b.sort("bucket")
    want = merge([a, b])
    got = append(a, b)
    if want.height:
        assert got.select(want.columns).sort(KEYS).equals(want.sort(KEYS))  # sums, and the older sample
    else:
        assert not got.height
    if in_order:
        assert got["bucket"].is_sorted()  # so the next chunk's seam is cut out by slices too


PAIR = st.tuples(
    st.sampled_from(["a", "b"]),
    st.integers(0, 12),
    st.sampled_from(["s1", "s2", None]),
    st.sampled_from(["/x", "/y", None]),
)


def _pairs_frame(pairs: list[tuple[str, int, str | None, str | None]]) -> pl.DataFrame:
    """Missed pairs as :func:`.aggregate.missed_pairs` writes them, in any order, repeats allowed."""
    return pl.DataFrame(
        {
            "asset": [p[0] for p in pairs],
            "bucket": [T0 + timedelta(seconds=10 * p[1]) for p in pairs],
            "src": [p[2] for p in pairs],
            "path": [p[3] for p in pairs],
        },
        schema={"asset": pl.String, "bucket": pl.Datetime("ms", "UTC"), "src": pl.String, "path": pl.String},
    )


@settings(max_examples=100)
@given(st.lists(PAIR, max_size=25), st.lists(PAIR, max_size=25))
def test_pairs_seen_is_the_semi_join(
    newer: list[tuple[str, int, str | None, str | None]], older: list[tuple[str, int, str | None, str | None]]
) -> None:
    new, old = _pairs_frame(newer), _pairs_frame(older)
    want = new.join(old, on=[*KEYS, "path"], how="semi", nulls_equal=True, maintain_order="left")
    got = pairs_seen(new, old)
    assert got.equals(want)
    assert got.schema == new.schema


@settings(max_examples=50)
@given(st.lists(PAIR, min_size=1, max_size=10), st.lists(PAIR, max_size=10), st.booleans())
def test_stacked_frames_are_their_relaxed_diagonal_concatenation(
    first: list[tuple[str, int, str | None, str | None]],
    second: list[tuple[str, int, str | None, str | None]],
    other_columns: bool,
) -> None:
    a, b = _pairs_frame(first), _pairs_frame(second)
    if other_columns:  # the columns in another order, one missing, one of another type
        b = b.select("path", "src", pl.col("bucket").cast(pl.Datetime("us", "UTC")))
    want = pl.concat([a, b], how="diagonal_relaxed")
    got = stacked([a, b])
    assert got.equals(want)
    assert got.schema == want.schema


@settings(max_examples=100)
@given(st.lists(st.one_of(ROW, FAR_ROW), min_size=1, max_size=40), st.data(), st.booleans())
def test_split_final_cuts_where_buckets_end(
    keys: list[tuple[str, int, str]], data: st.DataObject, in_order: bool
) -> None:
    """The watermark at a bucket's end, a millisecond or a microsecond either side of it, or anywhere
    (a bucket's end before 1970 has a test of its own, below: Hypothesis seldom draws one)."""
    bucket = data.draw(st.sampled_from([k[1] for k in keys]) | st.integers(-3 * 10**9, 3 * 10**9))
    offset = data.draw(st.sampled_from([-1000, -1, 0, 1, 1000, 5_000_000]))  # microseconds
    watermark = T0 + timedelta(seconds=10 * (bucket + 1), microseconds=offset)
    rows = _rows(keys, list(range(len(keys))))
    if in_order:
        rows = rows.sort("bucket")
    final, rest = split_final(rows, watermark)
    ends = [b + timedelta(seconds=10) for b in rows["bucket"]]
    assert final["n"].to_list() == [n for n, end in zip(rows["n"], ends, strict=True) if end <= watermark]
    assert rest["n"].to_list() == [n for n, end in zip(rows["n"], ends, strict=True) if end > watermark]


EDGE = st.sampled_from([-1000, -1, 0, 1, 999, 1000, 5_000_000])  # microseconds from a bucket's start


@settings(max_examples=150)
@given(st.lists(st.one_of(ROW, FAR_ROW), max_size=40), st.data(), st.booleans())
def test_a_bucket_range_is_what_a_filter_keeps(
    keys: list[tuple[str, int, str]], data: st.DataObject, after: bool
) -> None:
    """Cut by binary search where the rows are in bucket order, filtered otherwise: the same rows,
    whatever the bounds; and, for bounds in whole milliseconds (the engine's), the rows asked for."""
    rows = _rows(keys, list(range(len(keys))))
    bucket = st.sampled_from([k[1] for k in keys]) if keys else st.integers(-5, 90)
    at = st.builds(
        lambda b, us: T0 + timedelta(seconds=10 * b, microseconds=us),
        bucket | FAR_ROW.map(lambda r: r[1]),
        EDGE,
    )
    since, before = data.draw(st.none() | at), data.draw(st.none() | at)
    sliced = bucket_range(rows.sort("bucket"), since, before, after=after)
    filtered = bucket_range(rows.reverse(), since, before, after=after)
    assert sorted(sliced["n"]) == sorted(filtered["n"])
    if all(t is None or t.microsecond % 1000 == 0 for t in (since, before)):
        want = [
            n
            for n, b in zip(rows["n"], rows["bucket"], strict=True)
            if (since is None or (b > since if after else b >= since)) and (before is None or b < before)
        ]
        assert sorted(sliced["n"]) == sorted(want)


@pytest.mark.parametrize("in_order", [True, False])
@pytest.mark.parametrize(
    "start", [datetime(1000, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 50, tzinfo=UTC), T0]
)
def test_a_bucket_is_final_from_its_end_on_before_1970_too(start: datetime, in_order: bool) -> None:
    """Three buckets from ``start``, cut a microsecond before, at and after the middle one's end:
    milliseconds since the epoch are rounded down, not towards zero, for buckets before 1970."""
    offset = (start - T0) // timedelta(seconds=10)
    rows = _rows([("a", offset + b, "s1") for b in (1, -1, 0)], [1, -1, 0])  # n is the bucket's place
    rows = rows.sort("bucket") if in_order else rows
    end = start + timedelta(seconds=10)
    for after in (-1, 0, 1):
        final, rest = split_final(rows, end + timedelta(microseconds=after))
        assert sorted(final["n"]) == ([-1, 0] if after >= 0 else [-1]), after
        assert sorted(rest["n"]) == ([1] if after >= 0 else [0, 1]), after


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)))
def test_moment_is_the_literal_polars_makes(at: datetime) -> None:
    frame = pl.DataFrame({"t": [at, at - timedelta(microseconds=1), at + timedelta(milliseconds=1)]})
    frame = frame.with_columns(pl.col("t").cast(pl.Datetime("ms", "UTC")).alias("ms"))  # as the engine's
    want = frame.select(pl.lit(at).alias("x"), pl.col("t", "ms").ge(pl.lit(at)).name.suffix("_ge"))
    got = frame.select(moment(at).alias("x"), pl.col("t", "ms").ge(moment(at)).name.suffix("_ge"))
    assert got.equals(want)
    assert got.schema == want.schema


@settings(max_examples=60)
@given(st.lists(st.tuples(ROW, st.integers(1, 4)), min_size=1, max_size=40, unique_by=lambda r: r[0]))
def test_busiest_rows_equal_the_first_of_the_sorted_rows(
    items: list[tuple[tuple[str, int, str], int]],
) -> None:
    rows = _rows([k for k, _ in items], [n for _, n in items])  # few values of n: many ties
    # rows of two assets may share a source and a bucket: the asset settles the tie
    order = rows.sort(["n", "src", "bucket", "asset"], descending=[True, False, False, False])
    assert busiest_per_source(rows).equals(order.unique("src", keep="first", maintain_order=True))


def test_evidence_sample_does_not_depend_on_row_order() -> None:
    rows = _rows([("a", i % 7, f"s{i % 3}") for i in range(21)], [5] * 21)  # ties on n everywhere
    first = sample_lines(rows)
    for seed in range(5):
        assert sample_lines(rows.sample(fraction=1.0, shuffle=True, seed=seed)) == first


def test_evidence_samples_never_carry_credentials_of_an_absolute_target() -> None:
    rows = _rows([("a", 0, "s0"), ("a", 1, "s1")], [5, 5])
    targets = ["http://admin:hunter2@cec.example/admin;jsessionid=ABC", "https://tok@cec.example:8443"]
    (first, second) = sample_lines(rows.with_columns(pl.Series("path", targets)))
    assert '"GET http://cec.example/admin HTTP/1.1"' in first
    assert '"GET https://cec.example:8443 HTTP/1.1"' in second
    assert "hunter2" not in first + second
    assert "tok@" not in second


# a request target as a log gives it, and what a sample line shows of it: never a user or password
TARGETS = [
    ("http://alice:pa/ss@cec.example/x", "http://cec.example/x"),  # a "/" in the password
    ("http://alice:s3cr?t@cec.example/x", "http://REDACTED?REDACTED"),  # a "?": the "@" went with the query
    ("http://alice:s3cr#t@cec.example/x", "http://cec.example/x"),
    ("http://alice:pa@ss@cec.example/x", "http://cec.example/x"),
    ("http://alice:pw@cec.example/x?next=a@b", "http://cec.example/x?REDACTED"),
    ("https://alice:pw@[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/x"),
    ("alice:pw@cec.example:443", "cec.example:443"),  # authority form, as CONNECT sends it
    ("/go/http://alice:pw@cec.example/x", "/go/http://cec.example/x"),
    # ordinary targets keep their host and path
    ("/results/region-1", "/results/region-1"),
    ("/results?region=1", "/results?REDACTED"),
    ("/users/@carol", "/users/@carol"),
    ("http://cec.example/results", "http://cec.example/results"),
    ("http://cec.example:8080/a/b;c", "http://cec.example:8080/a/b"),
    ("http://cec.example/results?region=1", "http://cec.example/results?REDACTED"),
    ("https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/x"),
    ("cec.example:443", "cec.example:443"),
    ("*", "*"),
]


@pytest.mark.parametrize(("target", "shown"), TARGETS, ids=[t for t, _ in TARGETS])
def test_evidence_samples_never_carry_a_password_however_the_target_is_written(
    target: str, shown: str
) -> None:
    line = f'192.0.2.1 - - [14/Jun/2026:10:00:00 +0000] "GET {target} HTTP/1.1" 200 1 "-" "ua"\n'
    frame, _ = Parser(resolve("combined"), [default_asset()]).parse(line.encode())
    (sample,) = sample_lines(aggregate(frame, [default_asset()]))
    assert f'"GET {shown} HTTP/1.1"' in sample
    assert not {"alice", "pw", "pa", "ss", "s3cr"} & set(re.split(r"[^a-z0-9]+", sample))


def test_every_tuning_setting_is_documented_with_its_default() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| `(\w+)` \| ([\d.]+) \|", text, flags=re.MULTILINE))
    defaults = Tuning()
    missing = {f.name for f in fields(Tuning)} - set(documented)
    assert not missing, f"undocumented settings {sorted(missing)}: add rows to docs/monitor.md"
    for name, value in documented.items():
        assert float(value) == getattr(defaults, name), f"docs/monitor.md gives {name} = {value}"


def test_window_sums_do_not_depend_on_row_order_or_names() -> None:
    keys = [(a, b, s) for a in ("a", "b") for b in range(0, 60, 3) for s in ("s1", "s2", "s3")]
    rows = _rows(keys, [b for _, b, _ in keys])
    want = source_features(rows).sort(KEYS)
    for seed in range(3):  # the group codes follow first appearance: any order must give the same sums
        shuffled = rows.sample(fraction=1.0, shuffle=True, seed=seed)
        assert source_features(shuffled).sort(KEYS).equals(want)
    renamed = rows.with_columns(pl.col("src").str.replace("s", "source-"))
    got = source_features(renamed).sort(KEYS).drop("src", "client")
    assert got.equals(want.drop("src", "client"))


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from([b"a", b"bb", b"\n", b"\r\n", b"xyz" * 7, b""]), max_size=60).map(b"".join),
    st.integers(1, 40),
    st.integers(1, 8),
)
def test_spans_of_a_plain_file_are_the_chunks_of_its_stream(data: bytes, size: int, window: int) -> None:
    # a small window makes the search for a block's last line end read back several times
    with tempfile.TemporaryDirectory() as folder, mock.patch.object(inputs, "WINDOW", window):
        path = Path(folder) / "log"
        path.write_bytes(data)
        found = inputs.spans(path, size)
        assert found is not None
        with inputs.open_log(path) as stream:
            assert [span.read() for span in found] == list(inputs.chunks(stream, size))


def test_spans_end_where_the_file_ended_when_they_were_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"one\ntwo\n")
    found = inputs.spans(path, 4)
    with path.open("ab") as log:
        log.write(b"three\n")  # written while the scan runs: follow's work, not scan's
    assert found is not None
    assert b"".join(span.read() for span in found) == b"one\ntwo\n"


def test_a_compressed_file_has_no_spans(tmp_path: Path) -> None:
    (tmp_path / "log.gz").write_bytes(gzip.compress(b"a line\n"))
    (tmp_path / "log.zst").write_bytes(zstandard.ZstdCompressor().compress(b"a line\n"))
    assert inputs.spans(tmp_path / "log.gz") is None
    assert inputs.spans(tmp_path / "log.zst") is None


def test_parsing_ahead_in_threads_gives_the_sequential_result(
    dev_log: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "CHUNK", 1 << 20)  # many chunks, so that many are in flight
    log, _ = dev_log
    asset = [default_asset()]
    threaded = scan([log], resolve("combined"), asset, load)
    scanner = Scanner(Parser(resolve("combined"), asset), Engine(asset, load()))
    with inputs.open_log(log) as stream:
        for chunk in inputs.chunks(stream):
            scanner.feed(chunk)
            scanner.advance()
    sequential = scanner.engine.finish()
    assert [i.to_json() for i, _ in threaded.incidents] == [i.to_json() for i, _ in sequential]
    # samples are kept apart from the rows, and forgotten once no row can need them
    fed = -(-log.stat().st_size // (1 << 20))
    assert 0 < len(scanner.engine.samples) < fed / 2
    assert threaded.stats.read == scanner.stats.read
