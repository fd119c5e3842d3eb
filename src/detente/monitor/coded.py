"""Aggregates counted straight from the C splitter's columns, with integers instead of strings.

:func:`aggregate_coded` gives what ``aggregate(parser.parse(chunk)[0], assets)`` gives (the same rows,
in another order) for a chunk in the common case, and ``None`` for any other chunk, which then takes
the general path. The common case: every line of the chunk parses; no asset trusts a proxy or allows
anyone; and every line belongs to the default asset (no asset names a host, or the format has none).

Why: the general path normalises every line and hashes its strings twice in Polars (a group by asset,
bucket and source, and distinct missing paths per group). Here the splitter has already numbered each
distinct address and path of the chunk (``addr_code``, ``path_code``) and read the times; Python reads
only the distinct addresses' source keys and the methods of login lines, Polars the distinct paths
(whether each is a probe or a login path: the one query a chunk), and :func:`._split.count` groups
and counts the lines by those integers in C, with the GIL released. Why C and not numpy, which counts
as fast: the engine, on the main thread, is the scan's critical path, and what slows it in a scan is
what the parse threads hold that it needs, the GIL and Polars' one thread pool (where each eager
query runs while its caller waits); docs/adr/0006-native-log-splitter.md, amendment of 2026-12-03.
``tests/monitor/test_coded.py`` holds the two paths equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from . import _split
from .addr import source_key
from .aggregate import BUCKET_SECONDS, COUNTS, KEYS, MISSING_STATUS, is_probe, login_forms, ms_of, path_form
from .assets import Asset
from .formats import NO_TARGET
from .parse import EARLIEST, LATEST, TS, Parser, ParseStats

_BUCKET_MS = BUCKET_SECONDS * 1000
# the times a line may carry (Parser's bounds, inclusive), in the milliseconds of TS
_EARLIEST_MS, _LATEST_MS = ms_of(EARLIEST), ms_of(LATEST)
_MISSING = np.array(MISSING_STATUS, dtype=np.int16)
_PROBE, _LOGIN = 1, 2  # the bits of a path's flags, as _split.count reads them
# the rows of _split.count's output, in its order (_split.c, enum O_BUCKET...)
_OUT = ("bucket", "src", "n", "fail", "ok", "miss", "probe", "err", "sample", "interest")

Ints = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]  # the splitter's addr_code and path_code
Flags = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Coded:
    """One chunk's aggregates and counts, as :class:`.pipeline.Parsed` holds them."""

    agg: pl.DataFrame
    stats: ParseStats
    first: datetime
    last: datetime
    missed: pl.DataFrame  # :func:`.aggregate.missed_pairs` of the chunk
    times: Ints  # each line's time, milliseconds since the epoch, in the order of the lines


def aggregate_coded(raw: pl.DataFrame, parser: Parser) -> Coded | None:
    """The aggregates of a chunk split by :func:`.parse.split_raw`, or ``None`` outside the common case."""
    if not raw.height or not _common(raw, parser):
        return None
    ts = parser.times(raw)
    status = raw["status"].cast(pl.Int16, strict=False)
    if ts.null_count() or status.null_count() or raw["method"].null_count():
        return None  # a rejected line: the general path counts it and keeps a sample
    addr_code = raw["addr_code"].to_numpy()
    path_code = raw["path_code"].to_numpy()
    ms = ts.to_numpy().view(np.int64)  # TS is in milliseconds
    if (
        addr_code.min() < 0  # no address: the line did not match the format
        or ms.min() < _EARLIEST_MS  # a date no server wrote: malformed
        or ms.max() > _LATEST_MS
    ):
        return None
    if path_code.min() < 0:  # a request without a target ("-", raw TLS bytes): counted all the same
        raw, path_code = _with_no_target(raw, path_code)
    src_of_addr, sources = _source_ids(raw, addr_code)
    if src_of_addr is None:
        return None
    asset = parser.assets[0]  # every line's (the common case)
    flags = _path_flags(raw, path_code, asset)
    out = np.empty((len(_OUT), raw.height), dtype=np.int64)
    missed_rows = np.empty(raw.height, dtype=np.int64)
    groups, pairs = _split.count(
        ms,
        addr_code,
        src_of_addr,
        path_code,
        flags,
        _login_methods(raw, flags[path_code], asset),
        status.to_numpy(),
        np.array(asset.login_failure_status, dtype=np.int16),
        _MISSING,
        _BUCKET_MS,
        out,
        missed_rows,
    )
    # copies: a column made from a view would keep the whole of ``out`` alive with the frame
    counted = {name: row.copy() for name, row in zip(_OUT, out[:, :groups], strict=True)}
    keys = pl.DataFrame(
        {
            "asset": _repeated(asset.name, groups),
            "bucket": pl.Series(counted["bucket"] * _BUCKET_MS).cast(TS),
            "src": _take(sources, counted["src"]),
        }
    )
    counts = pl.DataFrame({c: counted[c] for c in COUNTS})
    missed_rows = missed_rows[:pairs]  # a line of each distinct (group, missing path)
    missed = pl.DataFrame(
        {
            "asset": _repeated(asset.name, pairs),
            "bucket": pl.Series(ms[missed_rows] // _BUCKET_MS * _BUCKET_MS).cast(TS),
            "src": _take(sources, src_of_addr[addr_code[missed_rows]]),
            "path": _take(raw["path"], missed_rows),
        }
    )
    sample = _sample_columns(raw, counted["sample"], ts, status)
    sample = sample.hstack([pl.Series("interest", counted["interest"], dtype=pl.Int8)])
    frame = pl.concat([keys[list(KEYS)], counts, sample], how="horizontal")  # by name: no query
    lo, hi = ts.min(), ts.max()
    assert isinstance(lo, datetime)
    assert isinstance(hi, datetime)
    return Coded(frame, ParseStats(read=raw.height, parsed=raw.height), lo, hi, missed, ms)


def _repeated(value: str, length: int) -> pl.Series:
    """``value`` ``length`` times, built directly (``pl.repeat`` is a query, and waits on the pool)."""
    return pl.Series([value], dtype=pl.String).new_from_index(0, length)


def _common(raw: pl.DataFrame, parser: Parser) -> bool:
    """Whether no line needs what only the general path does (see the module's docstring)."""
    assets = parser.assets
    if any(a.trusted_proxies or a.allow for a in assets):
        return False
    if any(a.hosts for a in assets) and raw["host"].null_count() < raw.height:
        return False
    return not raw["defer"].any()


def _with_no_target(raw: pl.DataFrame, path_code: Codes) -> tuple[pl.DataFrame, Codes]:
    """The chunk with :data:`.formats.NO_TARGET` as the path of each line whose request holds no target
    (the splitter's path code -1), as :class:`.parse.Parser` gives it, and that path numbered after the
    chunk's others."""
    code = np.int32(path_code.max() + 1)
    return raw.with_columns(raw["path"].fill_null(NO_TARGET)), np.where(path_code < 0, code, path_code)


def _source_ids(raw: pl.DataFrame, addr_code: Codes) -> tuple[Ints | None, pl.Series]:
    """Each address code's source number, and the source keys by number (``None`` if one has none).

    Addresses are read once each (by the row where each first appears). An IPv4 address the splitter
    found is its own key; any other is read by :func:`.addr.source_key` (cached across chunks: a log
    repeats its addresses, and a few thousand of them cost less one by one than in a Polars query).
    Two addresses may share a source (two IPv6 addresses of one /64, or an IPv4 address and the same
    address mapped into IPv6 or under NAT64's prefix): each source is represented by one of its address
    codes (the first of them, or the IPv4 address's own), and sources are numbered in the order of
    their representatives' codes, which number addresses in order of first appearance. No query.
    """
    first = _first_rows(addr_code)
    firsts = raw[["addr", "v4"]][first]  # a frame's rows, not a query (see _take)
    addrs = firsts["addr"]
    rest = np.flatnonzero(~firsts["v4"].to_numpy())
    if not rest.size:
        return np.arange(len(first), dtype=np.int64), addrs
    keys_of_rest = [source_key(a) for a in _take(addrs, rest).to_list()]
    if None in keys_of_rest:
        return None, addrs
    seen: dict[str | None, int] = {}
    if any(":" not in str(key) for key in keys_of_rest):  # an IPv4 address, mapped: it may be in the chunk
        v4 = np.flatnonzero(firsts["v4"].to_numpy())
        seen = dict(zip(_take(addrs, v4).to_list(), v4.tolist(), strict=True))
    representative = np.arange(len(first), dtype=np.int64)
    for code, key in zip(rest.tolist(), keys_of_rest, strict=True):
        representative[code] = seen.setdefault(key, code)
    kept, ids = np.unique(representative, return_inverse=True)
    return ids.astype(np.int64), _take(addrs.scatter(rest, keys_of_rest), kept)


def _first_rows(codes: npt.NDArray[np.integer[Any]]) -> Ints:
    """The first row holding each code, by code (codes are numbered 0, 1, ... without a gap)."""
    first = np.empty(int(codes.max()) + 1, dtype=np.int64)
    # where a code repeats, the last assignment wins: backwards, that is its first row
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1, dtype=np.int64)
    return first


def _path_flags(raw: pl.DataFrame, path_code: Codes, asset: Asset) -> Flags:
    """Each path code's flags: :data:`_PROBE` for a probe path, :data:`_LOGIN` for a login path of the
    asset (every line's, in the common case; compared in :func:`.aggregate.path_form`). One query
    over the distinct paths."""
    paths = _take(raw["path"], _first_rows(path_code)).alias("p").to_frame()
    p = pl.col("p")
    login = path_form(p).is_in(list(login_forms(asset.login_paths)))
    flags = is_probe(p).cast(pl.UInt8) * _PROBE + login.cast(pl.UInt8) * _LOGIN
    return paths.select(flags.cast(pl.UInt8)).to_series().to_numpy()


def _login_methods(raw: pl.DataFrame, line_flags: Flags, asset: Asset) -> Flags:
    """1 for each line of a login path whose method is a login method of the asset, else 0. Only the
    lines of login paths are read (a few, but for an attack on the login), with no query."""
    chosen = np.zeros(len(line_flags), dtype=np.uint8)
    rows = np.flatnonzero(line_flags & _LOGIN)
    if rows.size:
        allowed = set(asset.login_methods)
        chosen[rows] = [method in allowed for method in _take(raw["method"], rows).to_list()]
    return chosen


def _sample_columns(raw: pl.DataFrame, rows: Ints, ts: pl.Series, status: pl.Series) -> pl.DataFrame:
    """The columns of :data:`.aggregate.SAMPLE` at ``rows`` (the client is the address: no proxy)."""
    columns = raw[["addr", "method", "path", "size", "agent", "query"]].hstack(
        [status.alias("_s"), ts.alias("_t")]
    )
    picked = columns[rows]  # a frame's rows, not a query (see _take)
    return pl.DataFrame(
        {
            "client": picked["addr"],
            "method": picked["method"],
            "path": picked["path"],
            "status": picked["_s"],
            "size": _zero_for_null(picked["size"].cast(pl.Int64, strict=False)),
            "agent": picked["agent"],
            "query": picked["query"],
            "ts": picked["_t"],
        }
    )


def _zero_for_null(column: pl.Series) -> pl.Series:
    """``column.fill_null(0)``, a query, made only where there is a null (a size of ``-``)."""
    return column.fill_null(0) if column.null_count() else column


def _take(column: pl.Series, rows: Ints) -> pl.Series:
    """``column.gather(rows)``. A Series' gather is a Polars query, which waits for the thread pool
    (behind the other parse thread's queries and the engine's); a frame's selection of rows is not."""
    return column.to_frame()[rows].to_series()
