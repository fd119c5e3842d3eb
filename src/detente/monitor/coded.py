"""Aggregates counted straight from the C splitter's columns, with integers instead of strings.

:func:`aggregate_coded` gives what ``aggregate(parser.parse(chunk)[0], assets)`` gives (the same rows,
in another order) for a chunk in the common case, and ``None`` for any other chunk, which then takes
the general path. The common case: every line of the chunk parses; no asset trusts a proxy or allows
anyone; and every line belongs to the default asset (no asset names a host, or the format has none).

Why: the general path normalises every line and hashes its strings twice in Polars (a group by asset,
bucket and source, and distinct missing paths per group). Here the splitter has already numbered each
distinct address and path of the chunk (``addr_code``, ``path_code``) and read the times; Polars reads
only the distinct values (the source key of each address, whether each path is a probe or a login
path), and numpy counts by integer keys: a third to a half of the cost a line (docs/performance.md),
on two cores that the engine shares. ``tests/monitor/test_coded.py`` holds the two paths equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import polars as pl

from .addr import source_key
from .aggregate import BUCKET_SECONDS, KEYS, MISSING_STATUS
from .parse import EARLIEST, LATEST, TS, Parser, ParseStats
from .probes import PROBE_REGEX

_BUCKET_MS = BUCKET_SECONDS * 1000
_ROW_BITS = 32  # a chunk holds fewer than 2**31 lines (the splitter's limit)

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Coded:
    """One chunk's aggregates and counts, as :class:`.pipeline.Parsed` holds them."""

    agg: pl.DataFrame
    stats: ParseStats
    first: datetime
    last: datetime
    missed: pl.DataFrame  # :func:`.aggregate.missed_pairs` of the chunk


def aggregate_coded(raw: pl.DataFrame, parser: Parser) -> Coded | None:
    """The aggregates of a chunk split by :func:`.parse.split_raw`, or ``None`` outside the common case."""
    if not raw.height or not _common(raw, parser):
        return None
    ts = parser.times(raw)
    status = raw["status"].cast(pl.Int16, strict=False)
    addr_code = raw["addr_code"].to_numpy().astype(np.int64)
    path_code = raw["path_code"].to_numpy().astype(np.int64)
    if (
        ts.null_count()
        or status.null_count()
        or raw["method"].null_count()
        or addr_code.min() < 0  # no address: the line did not match the format
        or path_code.min() < 0
        or not ts.is_between(EARLIEST, LATEST).all()
    ):
        return None  # a rejected line: the general path counts it and keeps a sample
    src_of_addr, sources = _source_ids(raw, addr_code)
    if src_of_addr is None:
        return None
    ms = ts.to_numpy().view(np.int64)  # TS is in milliseconds
    group, bucket, src = _groups(ms // _BUCKET_MS, src_of_addr[addr_code], len(sources))
    agg = _counts(raw, parser, group, status.to_numpy().astype(np.int64), path_code)
    keys = pl.DataFrame(
        {
            "asset": _repeated(parser.assets[0].name, len(bucket)),
            "bucket": pl.Series(bucket * _BUCKET_MS).cast(TS),
            "src": _take(sources, src),
        }
    )
    missed_rows = agg.pop("_missed")  # a line of each distinct (group, missing path)
    missed = pl.DataFrame(
        {
            "asset": _repeated(parser.assets[0].name, len(missed_rows)),
            "bucket": pl.Series(ms[missed_rows] // _BUCKET_MS * _BUCKET_MS).cast(TS),
            "src": _take(sources, src_of_addr[addr_code[missed_rows]]),
            "path": _take(raw["path"], missed_rows),
        }
    )
    interest = agg.pop("_interest")
    rows = _samples(interest, group)
    sample = _sample_columns(raw, rows, ts, status)
    sample = sample.hstack([pl.Series("interest", interest[rows], dtype=pl.Int8)])
    frame = pl.concat([keys[list(KEYS)], pl.DataFrame(agg), sample], how="horizontal")  # by name: no query
    lo, hi = ts.min(), ts.max()
    assert isinstance(lo, datetime)
    assert isinstance(hi, datetime)
    return Coded(frame, ParseStats(read=raw.height, parsed=raw.height), lo, hi, missed)


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


def _source_ids(raw: pl.DataFrame, addr_code: Ints) -> tuple[Ints | None, pl.Series]:
    """Each address code's source number, and the source keys by number (``None`` if one has none).

    Addresses are read once each (by the row where each first appears). An IPv4 address the splitter
    found is its own key; any other is read by :func:`.addr.source_key` (cached across chunks: a log
    repeats its addresses, and a few hundred of them cost less one by one than in a Polars query). Two
    addresses may share a source (two IPv6 addresses of one /64).
    """
    first = _first_rows(addr_code)
    firsts = raw[["addr", "v4"]][first]  # a frame's rows, not a query (see _take)
    addrs = firsts["addr"]
    rest = np.flatnonzero(~firsts["v4"].to_numpy())
    if not rest.size:
        return np.arange(len(first), dtype=np.int64), addrs
    keys = addrs.scatter(rest, [source_key(a) for a in _take(addrs, rest).to_list()])
    if keys.null_count():
        return None, keys
    ids = keys.to_frame("k").select(pl.col("k").rank("dense").cast(pl.Int64) - 1).to_series().to_numpy()
    return ids, _take(keys, _first_rows(ids))


def _first_rows(codes: Ints) -> Ints:
    """The first row holding each code, by code (codes are numbered 0, 1, ... without a gap)."""
    first = np.empty(int(codes.max()) + 1, dtype=np.int64)
    # where a code repeats, the last assignment wins: backwards, that is its first row
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1, dtype=np.int64)
    return first


def _groups(buckets: Ints, src: Ints, sources: int) -> tuple[Ints, Ints, Ints]:
    """The group of each line by (bucket, source), and each group's bucket number and source number.

    The key of a line is its bucket's rank times the number of sources plus its source: under 2**62
    for any chunk. The rank is the bucket less the first one where the chunk spans fewer buckets than
    it has lines (a log in order), else the bucket's place among those that occur (a line dated years
    away: no gap is counted across).
    """
    low = int(buckets.min())
    if int(buckets.max()) - low < len(buckets):
        rank, numbers = buckets - low, None
    else:
        numbers, rank = np.unique(buckets, return_inverse=True)
    keys, group = np.unique(rank * sources + src, return_inverse=True)
    bucket = keys // sources
    return group.astype(np.int64), bucket + low if numbers is None else numbers[bucket], keys % sources


def _counts(raw: pl.DataFrame, parser: Parser, group: Ints, status: Ints, path_code: Ints) -> dict[str, Ints]:
    """The counts of :func:`.aggregate.aggregate` per group, each line's interest for the sample, and a
    line of each distinct (group, missing path)."""
    first_path = _first_rows(path_code)
    paths = _take(raw["path"], first_path)
    probe = paths.str.contains(PROBE_REGEX).to_numpy()[path_code]
    asset = parser.assets[0]  # every line's (names are unique)
    login_path = paths.is_in(list(asset.login_paths)).to_numpy()[path_code]
    login = login_path & raw["method"].is_in(list(asset.login_methods)).to_numpy()
    failed = np.isin(status, asset.login_failure_status)
    fail = login & failed
    ok = login & ~failed & (status < 400)
    missing = np.isin(status, MISSING_STATUS)
    size = int(group.max()) + 1

    def per_group(flags: npt.NDArray[np.bool_]) -> Ints:
        return np.bincount(group[flags], minlength=size).astype(np.int64)

    lines = np.flatnonzero(missing)
    distinct_missing, first = np.unique(group[lines] * len(first_path) + path_code[lines], return_index=True)
    return {
        "n": np.bincount(group, minlength=size).astype(np.int64),
        "fail": per_group(fail),
        "ok": per_group(ok),
        "miss": np.bincount(distinct_missing // len(first_path), minlength=size).astype(np.int64),
        "probe": per_group(probe),
        "err": per_group(status >= 400),
        "_interest": probe * 4 + fail * 2 + missing.astype(np.int64),
        "_missed": lines[first],
    }


def _samples(interest: Ints, group: Ints) -> Ints:
    """Each group's sample row: its most interesting line, the first of them on a tie (arg max)."""
    rows = np.arange(len(group), dtype=np.int64)
    # one integer orders the lines as the choice does: interest first, then the earlier row
    rank = (interest << _ROW_BITS) | ((1 << _ROW_BITS) - 1 - rows)
    best = np.full(int(group.max()) + 1, -1, dtype=np.int64)
    np.maximum.at(best, group, rank)
    return (1 << _ROW_BITS) - 1 - (best & ((1 << _ROW_BITS) - 1))


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
            "size": picked["size"].cast(pl.Int64, strict=False).fill_null(0),
            "agent": picked["agent"],
            "query": picked["query"],
            "ts": picked["_t"],
        }
    )


def _take(column: pl.Series, rows: Ints) -> pl.Series:
    """``column.gather(rows)``. A Series' gather is a Polars query, which waits for the thread pool
    (behind the other parse thread's queries and the engine's); a frame's selection of rows is not."""
    return column.to_frame()[rows].to_series()
