"""Vectorised features: per source over sliding windows, and per asset per bucket.

Per source (``r60``, ``r300``, ``act300``, ``fail300``, ``miss300``, ``probe300``): requests in the last
60 and 300 seconds, buckets active in the last 300 seconds, failed logins, distinct missing paths and
probe hits in the last 300 seconds. Per asset and bucket (``R``, ``F``, ``OK``, ``M``, ``HV``, ``PV``,
...): 60-second sliding sums of requests, failed and successful logins, missing paths and probes, and the
requests of heavy and of persistent sources.

Invariant: features of a bucket depend only on that bucket and the ones before it (causal), so scan and
follow mode see the same values for the same log.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from .aggregate import BUCKET_SECONDS

SHORT_BUCKETS = 60 // BUCKET_SECONDS


@dataclass(frozen=True)
class Tuning:
    """Detector settings. Defaults were fixed on development seeds (see docs/monitor.md)."""

    flood_rpm_floor: float = 120.0  # a source above this per minute is heavy, whatever the baseline
    flood_factor: float = 3.0  # ... or above this times the learned 99th percentile of sources
    persist_active: int = 15  # active buckets of the last 30 for a source to be persistent
    persist_requests: float = 25.0  # and at least this many requests in 300 s
    few_sources: int = 20  # at most this many sources: a flood or brute force, not a distributed one
    dflood_min_sources: int = 10
    dflood_min_rpm: float = 100.0
    dflood_share: float = 0.5  # persistent excess must be half the baseline volume or more
    volume_sigmas: float = 4.0
    suspect_buckets: int = 180  # baselines wait at most this long (30 min) while persistent sources surge
    scan_min: float = 20.0  # missing paths and probes per minute, site-wide
    scan_source_min: int = 15  # one source with this many distinct missing paths in 300 s
    login_min: float = 5.0  # failed logins per minute, site-wide
    login_ratio: float = 0.5
    login_source_min: int = 10  # one source with this many failures in 300 s
    sigmas: float = 6.0
    halflife_s: float = 1800.0
    warmup_buckets: int = 30
    confirm_buckets: int = 2
    gap_buckets: int = 18
    min_total: float = 20.0  # smaller episodes are not reported


LONG_BUCKETS = 300 // BUCKET_SECONDS
# column -> (summed count, or None to count active buckets; window in buckets)
_WINDOWS: dict[str, tuple[str | None, int]] = {
    "r60": ("n", SHORT_BUCKETS),
    "r300": ("n", LONG_BUCKETS),
    "act300": (None, LONG_BUCKETS),
    "fail300": ("fail", LONG_BUCKETS),
    "ok300": ("ok", LONG_BUCKETS),
    "miss300": ("miss", LONG_BUCKETS),
    "probe300": ("probe", LONG_BUCKETS),
}
_SOURCE_COLS = ("r60", "r300", "act300", "fail300", "ok300", "miss300", "probe300")
_COUNTED = ("n", "fail", "ok", "miss", "probe")  # the columns the windows sum


def source_features(rows: pl.DataFrame) -> pl.DataFrame:
    """Add the sliding-window columns per source; ``rows`` are aggregates of consecutive buckets.

    A window (t - w, t] of a source is a contiguous run of its rows once they are ordered by source
    and bucket, so every window sum is a difference of two prefix sums found by binary search on one
    integer key (source group, bucket number). Only that key is sorted (numpy), never the wide rows,
    and the result keeps the input's row order.
    """
    if not rows.height:
        return rows.with_columns([pl.lit(0, dtype=pl.Int64).alias(c) for c in _SOURCE_COLS])
    order, k = _ordered_keys(rows)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))  # sorted position of each row
    # prefix sums of the counted columns in key order, one row per column; window bounds are
    # found in key order and read back in row order, so each window is two gathers and a difference
    # column by column: a Series' numbers are a view, where a frame's to_numpy may wait for Polars' threads
    counts = np.stack([rows[c].to_numpy() for c in _COUNTED]).astype(np.int64)[:, order]
    cumsums = np.zeros((len(_COUNTED), len(k) + 1), dtype=np.int64)
    np.cumsum(counts, axis=1, out=cumsums[:, 1:])
    hi = np.searchsorted(k, k, side="right")[back]  # past the last row of the same bucket (late lines)
    starts: dict[int, npt.NDArray[np.intp]] = {}  # the windows come in two widths only
    out = []
    for name, (col, buckets) in _WINDOWS.items():
        if buckets not in starts:
            starts[buckets] = np.searchsorted(k, k - (buckets - 1), side="left")[back]
        lo = starts[buckets]
        if col is None:
            values = hi - lo
        else:
            sums = cumsums[_COUNTED.index(col)]
            values = sums[hi] - sums[lo]
        out.append(pl.Series(name, values, dtype=pl.Int64))
    # ``rows`` carry no window column yet: added as they are, with no query (each waits in a scan)
    return rows.hstack(out)


def nearest_quantile(values: npt.NDArray[np.int64], q: float) -> float | None:
    """Polars' ``Series.quantile(q)`` (its ``nearest`` method) of ``values`` without a query: the value
    at index ``(n - 1) * q`` of the sorted values, rounded half away from zero as Rust rounds (numpy's
    own ``nearest`` rounds half to even); ``None`` for no values. A property test holds it to Polars."""
    if not len(values):
        return None
    at = (len(values) - 1) * q
    index = math.floor(at)
    index += at - index >= 0.5
    return float(np.partition(values, index)[index])


def _ordered_keys(rows: pl.DataFrame) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """The order of rows by (asset, source, bucket) and, in that order, the key group << 32 | bucket.

    Groups are exact integer codes of (asset, source) (categories made afresh for this call, so they
    are dense, freed with the frame, and no string is sorted or compared); ``bucket`` is the bucket
    number counted from :data:`_MARGIN` before the earliest, so a window reaching back from any bucket
    stays within its group's keys (see :func:`_bucket_numbers`).
    """
    codes = rows.select(_code("asset"), _code("src")).to_numpy().astype(np.int64)
    group = codes[:, 0] * (int(codes[:, 1].max()) + 1) + codes[:, 1]
    if group.max() >= 1 << 31:  # many assets and many sources: number the pairs that occur instead
        group = np.unique(group, return_inverse=True)[1].astype(np.int64)
    key = group * (1 << 32) + _bucket_numbers(rows)
    order = np.argsort(key)
    return order, key[order]


def _code(column: str) -> pl.Expr:
    """Dense integer codes of a string column, one per distinct value and null its own code (0)."""
    fresh = pl.Categorical(pl.Categories.random())
    return pl.col(column).cast(fresh).to_physical().cast(pl.Int64).fill_null(-1) + 1


_MARGIN = LONG_BUCKETS  # no window reaches further back than this many buckets
_PER_SECOND = {"ms": 10**3, "us": 10**6, "ns": 10**9}  # physical units of a Datetime per second


def _bucket_numbers(rows: pl.DataFrame) -> npt.NDArray[np.int64]:
    """Bucket numbers in [_MARGIN, 2**32): equal gaps up to :data:`_MARGIN` buckets, longer ones shortened.

    Only gaps shorter than a window matter to the sums, so a gap of more than :data:`_MARGIN` buckets
    (a line dated years away) may be cut down to :data:`_MARGIN` without changing any window: the
    numbers then fit in 32 bits whatever the dates.
    """
    bucket = rows["bucket"]
    assert isinstance(bucket.dtype, pl.Datetime)
    per_bucket = BUCKET_SECONDS * _PER_SECOND[bucket.dtype.time_unit or "us"]
    # buckets are whole multiples of BUCKET_SECONDS: dividing the physical times is exact
    b: npt.NDArray[np.int64] = bucket.to_physical().to_numpy().astype(np.int64) // per_bucket
    b = b - b.min() + _MARGIN
    if b.max() < 1 << 32:
        return b
    distinct, index = np.unique(b, return_inverse=True)
    shortened = np.zeros(len(distinct), dtype=np.int64)
    np.cumsum(np.minimum(np.diff(distinct), _MARGIN), out=shortened[1:])
    return shortened[index] + _MARGIN


def flag(rows: pl.DataFrame, heavy_rpm: float, t: Tuning) -> pl.DataFrame:
    """Mark each source row heavy, persistent, scanning or failing logins.

    ``rows`` carry the window columns as :func:`source_features` adds them (never null) and no flag
    yet. The comparisons are made in numpy: a Polars query would wait for Polars' threads behind the
    parse threads' work.
    """
    v = {c: rows[c].to_numpy() for c in ("r60", "act300", "r300", "miss300", "probe300", "fail300")}
    return rows.hstack(
        [
            pl.Series("heavy", v["r60"] >= heavy_rpm),
            pl.Series("persistent", (v["act300"] >= t.persist_active) & (v["r300"] >= t.persist_requests)),
            pl.Series("scanning", (v["miss300"] >= 3) | (v["probe300"] >= 1)),
            pl.Series("failing", v["fail300"] >= 1),
        ]
    )


def site_buckets(rows: pl.DataFrame, assets: Sequence[str]) -> pl.DataFrame:
    """Per asset and bucket sums of a flagged frame (one bucket's sources, not yet windowed), sorted
    by asset and bucket; ``assets`` holds every asset name the rows may carry.

    The columns and their types are those of a Polars group-by summing ``n``, ``fail``, ``ok``,
    ``miss + probe`` and the heavy and persistent sources' ``n`` (``R``, ``F``, ``OK``, ``M``, ``HV``,
    ``PV``), counting heavy and persistent sources and rows (``HC``, ``PC``, ``S``, UInt32) and taking
    the largest ``fail300`` and ``miss300`` (``FMAX``, ``MMAX``). Computed in numpy over one group
    number a row: in a scan, a Polars query waits for the parse threads' work on Polars' threads.
    """
    names = sorted(assets)
    groups = _SiteGroups.of(rows, names)
    n = rows["n"].to_numpy()
    heavy, persistent = rows["heavy"].to_numpy(), rows["persistent"].to_numpy()
    sums = {
        "R": n,
        "F": rows["fail"].to_numpy(),
        "OK": rows["ok"].to_numpy(),
        "M": rows["miss"].to_numpy() + rows["probe"].to_numpy(),
        "HV": np.where(heavy, n, 0),
        "HC": heavy.astype(np.uint32),
        "PV": np.where(persistent, n, 0),
        "PC": persistent.astype(np.uint32),
    }
    return pl.DataFrame(
        [
            pl.Series("asset", names, dtype=pl.String).gather(groups.asset),
            pl.Series("bucket", groups.bucket).cast(rows.schema["bucket"]),
            *(pl.Series(name, groups.total(values)) for name, values in sums.items()),
            *(pl.Series(name, groups.most(rows[c].to_numpy())) for name, c in _SITE_MAX.items()),
            pl.Series("S", groups.count.astype(np.uint32)),
        ]
    )


_SITE_MAX = {"FMAX": "fail300", "MMAX": "miss300"}


@dataclass(frozen=True)
class _SiteGroups:
    """Rows grouped by (asset, bucket): each group's asset index and bucket (physical time), in order
    of asset then bucket, and each row's group."""

    asset: npt.NDArray[np.int64]
    bucket: npt.NDArray[np.int64]
    row_group: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]

    @classmethod
    def of(cls, rows: pl.DataFrame, names: list[str]) -> _SiteGroups:
        """Group ``rows``; ``names`` are the sorted asset names (a name not among them is an error)."""
        dtype = rows.schema["bucket"]
        assert isinstance(dtype, pl.Datetime)
        step = BUCKET_SECONDS * _PER_SECOND[dtype.time_unit or "us"]
        rank = rows["asset"].cast(pl.Enum(names)).to_physical().to_numpy().astype(np.int64)
        b = rows["bucket"].to_physical().to_numpy().astype(np.int64)
        if not len(b):
            none = np.zeros(0, dtype=np.int64)
            return cls(none, none, none, none)
        lo = int(b.min())
        offset = (b - lo) // step  # buckets are whole multiples of the step: exact
        span = int(offset.max()) + 1
        key = rank * span + offset
        size = len(names) * span
        if size <= 4 * len(key) + 4096:  # the usual batch: a few hours at most, no sort needed
            present = np.zeros(size, dtype=bool)
            present[key] = True
            kept = np.flatnonzero(present)
            row_group = (np.cumsum(present) - 1)[key]
        else:  # a line dated far from the rest: the buckets in between are never laid out
            kept, row_group = np.unique(key, return_inverse=True)
        count = np.bincount(row_group, minlength=len(kept))
        return cls(kept // span, lo + (kept % span) * step, row_group, count)

    def total(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Each group's sum of ``values`` (in their own integer type)."""
        out = np.zeros(len(self.count), dtype=values.dtype)
        np.add.at(out, self.row_group, values)
        return out

    def most(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Each group's largest value (every group holds a row)."""
        out = np.full(len(self.count), np.iinfo(values.dtype).min, dtype=values.dtype)
        np.maximum.at(out, self.row_group, values)
        return out


def minute_totals(site: pl.DataFrame) -> list[tuple[str, datetime, int]]:
    """``(asset, minute, requests)`` of a :func:`site_buckets` frame (sorted by asset and bucket), one
    per asset and whole UTC minute it holds, in that order. In numpy, as :func:`site_buckets` is."""
    if not site.height:
        return []
    dtype = site.schema["bucket"]
    assert isinstance(dtype, pl.Datetime)
    b = site["bucket"].to_physical().to_numpy().astype(np.int64)
    minute = b - b % (60 * _PER_SECOND[dtype.time_unit or "us"])  # floor, before 1970 too
    asset = site["asset"]
    change = np.ones(len(b), dtype=bool)
    change[1:] = (minute[1:] != minute[:-1]) | (asset[1:] != asset[:-1]).to_numpy()
    starts = np.flatnonzero(change)
    totals = np.add.reduceat(site["R"].to_numpy(), starts)
    minutes = pl.Series(minute[starts]).cast(dtype).to_list()
    return list(zip(asset.gather(starts).to_list(), minutes, totals.tolist(), strict=True))


SITE_SUMS = ("R", "F", "OK", "M", "HV", "PV")


MAX_FILL = 360  # buckets (an hour): a longer silence is not filled in bucket by bucket


def site_windows(buckets: pl.DataFrame) -> pl.DataFrame:
    """60-second sliding sums of :data:`SITE_SUMS`, empty buckets filled with zeros.

    Silences of more than :data:`MAX_FILL` buckets are not filled: the buckets on either side are
    windowed apart (nothing within 60 s of each other), so one line dated years away (a broken clock,
    a forged line) cannot make the scan fill millions of empty buckets in between.

    ``buckets`` holds one row per asset and bucket and no null. The filling and the sums are numpy over
    one dense array per column, each keeping its column's type (a few hundred rows a batch: a Polars
    query for each step cost more than the work).
    """
    if not buckets.height:
        return buckets
    ordered = buckets.sort("asset", "bucket")
    runs = _runs(ordered)
    dense = {c: runs.spread(ordered[c].to_numpy()) for c in ordered.columns if c not in ("asset", "bucket")}
    sums = {f"{c}60": runs.window(dense[c], SHORT_BUCKETS) for c in SITE_SUMS}
    return pl.DataFrame(
        [
            ordered["asset"].gather(runs.rows),
            pl.Series("bucket", runs.buckets).cast(ordered.schema["bucket"]),
            *(pl.Series(name, values) for name, values in (dense | sums).items()),
        ]
    )


@dataclass(frozen=True)
class _Runs:
    """Runs of an asset's buckets with no silence longer than :data:`MAX_FILL`, laid out densely.

    ``starts[r]`` is the offset of run ``r`` in the dense layout (which ends at ``starts[-1]``),
    ``slots`` the dense position of each input row, ``rows`` the input row each dense slot takes its
    asset from, and ``buckets`` the physical time of each slot.
    """

    starts: npt.NDArray[np.int64]
    slots: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int64]
    buckets: npt.NDArray[np.int64]

    def spread(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Input rows' values at their slots, zero in the filled ones."""
        dense = np.zeros(len(self.rows), dtype=values.dtype)
        dense[self.slots] = values
        return dense

    def window(self, dense: npt.NDArray[Any], width: int) -> npt.NDArray[Any]:
        """Sum of each slot and the ``width - 1`` before it within its run (fewer at a run's start)."""
        sums = np.zeros(len(dense) + 1, dtype=np.int64)
        np.cumsum(dense, out=sums[1:])
        run_start = np.repeat(self.starts[:-1], np.diff(self.starts))
        index = np.arange(len(dense))
        return (sums[index + 1] - sums[np.maximum(index - (width - 1), run_start)]).astype(dense.dtype)


def _runs(ordered: pl.DataFrame) -> _Runs:
    """The dense layout of ``ordered`` (sorted by asset and bucket, one row each)."""
    dtype = ordered.schema["bucket"]
    assert isinstance(dtype, pl.Datetime)
    step = BUCKET_SECONDS * _PER_SECOND[dtype.time_unit or "us"]
    b = ordered["bucket"].to_physical().to_numpy().astype(np.int64)
    asset = ordered["asset"].to_numpy()
    first = np.ones(len(b), dtype=bool)
    first[1:] = asset[1:] != asset[:-1]
    first[1:] |= np.diff(b) > step * MAX_FILL
    heads = np.flatnonzero(first)  # the first row of each run
    run = np.cumsum(first) - 1
    # a run spans from its first bucket to the bucket of the row before the next run's first
    lengths = (np.append(b[heads[1:] - 1], b[-1]) - b[heads]) // step + 1
    starts = np.concatenate(([0], np.cumsum(lengths)))
    slots = starts[run] + (b - b[heads][run]) // step
    slot_run = np.repeat(np.arange(len(heads)), lengths)
    buckets = b[heads][slot_run] + step * (np.arange(starts[-1]) - starts[slot_run])
    return _Runs(starts, slots, heads[slot_run], buckets)
