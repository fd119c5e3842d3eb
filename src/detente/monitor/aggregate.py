"""Per asset, time bucket and source aggregates of a normalised frame.

A *bucket* is :data:`BUCKET_SECONDS` of log time; detectors look at sliding windows of buckets, so an
attack can be reported well within a minute of its start. Aggregation is associative: aggregating two
frames and merging the results (:func:`merge`) equals aggregating their concatenation, except ``miss``
(distinct missing paths), which is summed: the engine takes a path counted in both chunks off once,
from :func:`missed_pairs`, where two chunks' rows of one key meet.

The engine's frames are mostly in bucket order (a chunk's rows are, and :func:`append` and
:func:`split_final` keep them so): where both are, the seam and the final rows are found by a binary
search and cut out as slices, which copy nothing and are no query. A query waits for Polars' thread
pool, which the parse threads keep busy during a scan: a few filters of each chunk cost the engine's
thread more than the rest of its feeding (docs/monitor.md, fourteenth session). Frames in any other
order are filtered, with the same result.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import polars as pl

from .assets import Asset
from .probes import PROBE_REGEX

BUCKET_SECONDS = 10
BUCKET = f"{BUCKET_SECONDS}s"
KEYS = ("asset", "bucket", "src")
# the sample request of a row, and how telling it is (a probe 4, a failed login 2, a missing path 1)
SAMPLE = ("client", "method", "path", "status", "size", "agent", "query", "ts", "interest")
COUNTS = ("n", "fail", "ok", "miss", "probe", "err")
MISSING_STATUS = (404, 410)  # a request for a path the site does not have (``miss``)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def moment(at: datetime) -> pl.Expr:
    """``pl.lit(at)`` for an aware UTC datetime, built from its whole microseconds since the epoch.

    The same literal (``Datetime("us", "UTC")``, so comparisons with the millisecond columns are
    unchanged), at a thirtieth of the cost: Polars reads a Python datetime slowly, and the engine
    compares with one in every filter of every batch.
    """
    return pl.lit((at - _EPOCH) // timedelta(microseconds=1)).cast(pl.Datetime("us", "UTC"))


# RFC 3986 section 2.3: a percent-encoded unreserved character is the character itself
_UNRESERVED = {f"%{ord(c):02X}": c for c in string.ascii_letters + string.digits + "-._~"}


def _escapes() -> dict[str, str]:
    """What :func:`probe_decoded` replaces: each printable ASCII character percent-encoded (RFC 3986 section
    2.1); ``.``, ``/`` and ``\\`` also in UTF-8 too long by one or two bytes (``%C0%AE`` and
    ``%E0%80%AE`` are ``.``, as old decoders read them) and as IIS's ``%u002E``; and a backslash however
    it is written (``\\``, ``%5C``, and ``\\x5C`` as nginx logs one; Apache's ``\\\\`` becomes ``//``,
    the same to the patterns) a ``/``, a separator to Windows servers. Upper case: they are matched
    without regard to case. Control characters stay encoded: no probe pattern holds one."""
    out = {"\\X5C": "/", "\\": "/"}  # the longer first: of two matches at one place the first is taken
    for code in range(0x20, 0x7F):
        out[f"%{code:02X}"] = chr(code)
    for c in "./\\":
        code = ord(c)
        low = 0x80 | code & 0x3F
        out[f"%{0xC0 | code >> 6:02X}%{low:02X}"] = c
        out[f"%E0%{0x80 | code >> 6:02X}%{low:02X}"] = c
        out[f"%U00{code:02X}"] = c
    return {k: "/" if v == "\\" else v for k, v in out.items()}


_ESCAPES = _escapes()

# a path that path_form may change otherwise than by a trailing slash: not absolute (a target in
# absolute form, RFC 9112 section 3.2.2), or holding a parameter, an escape, an empty or a dot segment
_ODD_PATH = r"^(?:[^/]|$)|[;%]|//|/\.\.?(?:/|$)"


def path_form(path: pl.Expr) -> pl.Expr:
    """The form in which a request path is compared with an asset's login paths: one handler answers
    many spellings of a path, and an attacker picks the one a plain comparison misses.

    The scheme and host of a target in absolute form are dropped; percent-encoded unreserved
    characters decoded (``%6C`` is ``l``; ``%2F`` stays); each segment's parameters (``;jsessionid=1``)
    dropped; empty segments (``//``, a trailing slash) and ``.`` dropped; ``..`` takes off the segment
    before it (RFC 3986 section 5.2.4, none past the root). Case is kept: paths are case-sensitive. So
    ``/login/``, ``//login``, ``/login;jsessionid=1``, ``/a/../login``, ``/%6Cogin`` and
    ``http://host/login`` are all ``/login``.

    Cheap for the usual path, which needs at most its trailing slash taken off: the segments are split
    and rebuilt only for a path of :data:`_ODD_PATH` (a few microseconds each; the others are null there).
    """
    odd = pl.when(path.str.contains(_ODD_PATH)).then(path)
    target = odd.str.replace(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/]*", "")
    decoded = target.str.replace_many(_UNRESERVED, ascii_case_insensitive=True, leftmost=True)
    segment = pl.element()
    segments = decoded.str.split("/").list.eval(segment.str.replace(r"(?s);.*", ""))
    segments = segments.list.eval(segment.filter((segment != "") & (segment != ".")))
    # a segment stays unless a later ``..`` takes it off: unless the depth (+1 a segment, -1 a ``..``)
    # falls below its own after it (a ``..`` past the root takes off nothing, and no segment after it)
    depth = pl.when(segment == "..").then(-1).otherwise(1).cum_sum()
    stays = (segment != "..") & (depth.reverse().cum_min().reverse() >= depth)
    rebuilt = pl.lit("/") + segments.list.eval(segment.filter(stays)).list.join("/")
    usual = pl.when(path.str.len_bytes() > 1).then(path.str.strip_suffix("/")).otherwise(path)
    return pl.coalesce(rebuilt, usual)


@lru_cache(maxsize=64)
def login_forms(paths: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`path_form` of an asset's login paths (computed once per asset)."""
    forms = pl.Series("p", paths, dtype=pl.String).to_frame().select(path_form(pl.col("p")))
    return tuple(forms.to_series().to_list())


def login_paths(paths: pl.Series, asset: Asset) -> pl.Series:
    """The distinct paths among ``paths`` that are login paths of ``asset`` in :func:`path_form`.

    Read once per distinct path, as :func:`probe_paths` is: a chunk repeats its paths.
    """
    distinct = paths.drop_nulls().unique()
    form = distinct.to_frame("p").select(path_form(pl.col("p")).is_in(list(login_forms(asset.login_paths))))
    return distinct.filter(form.to_series())


def _login_flags(frame: pl.DataFrame, assets: Sequence[Asset]) -> tuple[pl.Expr, pl.Expr]:
    """Expressions for a failed and a successful login, each asset with its own paths and codes."""
    fail: pl.Expr = pl.lit(False)
    ok: pl.Expr = pl.lit(False)
    for a in assets:
        login = (
            (pl.col("asset") == a.name)
            & pl.col("path").is_in(login_paths(frame["path"], a).implode())
            & pl.col("method").is_in(list(a.login_methods))
        )
        failed = pl.col("status").is_in(list(a.login_failure_status))
        fail = fail | (login & failed)
        ok = ok | (login & ~failed & (pl.col("status") < 400))
    return fail, ok


def probe_decoded(path: pl.Expr) -> pl.Expr:
    """A path holding ``%`` or ``\\`` as a server or the application behind it may read it, for
    :func:`is_probe` (null for any other path): :data:`_ESCAPES` replaced twice, in any case, so that
    ``%252e`` and ``%%32%65`` are ``.`` too (one level of double encoding), and a backslash is a ``/``;
    then cut at an encoded null byte (``%00``), where a server or application written in C ends the
    path it opens: ``/.env%00.jpg`` asks for ``/.env`` past a check on its extension. Not
    :func:`path_form`, which keeps ``%2F`` for the login comparison. An escape that is not one (``%``,
    ``%4``, ``%zz``) stays as it is."""
    odd = pl.when(path.str.contains(r"[%\\]")).then(path)
    once = odd.str.replace_many(_ESCAPES, ascii_case_insensitive=True, leftmost=True)
    twice = once.str.replace_many(_ESCAPES, ascii_case_insensitive=True, leftmost=True)
    return twice.str.replace(r"(?s)%00.*", "")


def is_probe(path: pl.Expr) -> pl.Expr:
    """Whether a path is a probe (:data:`.probes.PROBE_REGEX`), as written or in :func:`path_form`: a
    scanner asking for ``/.env;x`` or ``//.git/config`` reaches the same files. So is a path whose
    :func:`probe_decoded` form, or that form's :func:`path_form`, is one: ``/%2e%2e/%2e%2e/win.ini``,
    ``/..%2f..%2fetc/passwd``, ``/%252e%252e/``, ``/..%5c..%5cwin.ini`` and ``/.env%3bx`` are the
    traversals and files they spell. A path without ``%`` or a backslash is null in that form, and
    costs no more than before (but the form's fixed cost, about 2 ms a query)."""
    decoded = probe_decoded(path)
    written = path.str.contains(PROBE_REGEX) | path_form(path).str.contains(PROBE_REGEX)
    spelt = decoded.str.contains(PROBE_REGEX) | path_form(decoded).str.contains(PROBE_REGEX)
    return written | spelt.fill_null(False)


def probe_paths(paths: pl.Series) -> pl.Series:
    """The distinct paths among ``paths`` that are probes (:func:`is_probe`).

    A log repeats its paths (a chunk of 41k generated lines has about 150), and the regex costs more
    per line than hashing each line's path twice; so it reads each distinct path once.
    """
    distinct = paths.drop_nulls().unique()
    return distinct.filter(distinct.to_frame("p").select(is_probe(pl.col("p"))).to_series())


def aggregate(frame: pl.DataFrame, assets: Sequence[Asset]) -> pl.DataFrame:
    """Aggregate a normalised frame (allowlisted rows excluded) into one row per asset, bucket, source.

    Each row keeps one *sample* request (the most telling one: a probe, a failed login or a missing
    path before an ordinary hit; the first of them on a tie) for the evidence file, with its
    ``interest``, so that the rows of one key from two chunks keep the same sample as one chunk would.
    """
    fail, ok = _login_flags(frame, assets)
    missing = pl.col("status").is_in(MISSING_STATUS)
    probe = pl.col("path").is_in(probe_paths(frame["path"]).implode())
    interest = probe.cast(pl.Int8) * 4 + fail.cast(pl.Int8) * 2 + missing.cast(pl.Int8)
    rows = frame.lazy().with_row_index("_row").filter(~pl.col("allowed"))
    rows = rows.with_columns(
        pl.col("ts").dt.truncate(BUCKET).alias("bucket"),
        fail.alias("_fail"),
        ok.alias("_ok"),
        missing.alias("_miss"),
        probe.alias("_probe"),
        interest.alias("_interest"),
    )
    agg = (
        rows.group_by(KEYS)
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("_fail").sum().cast(pl.Int64).alias("fail"),
            pl.col("_ok").sum().cast(pl.Int64).alias("ok"),
            pl.col("path").filter(pl.col("_miss")).n_unique().cast(pl.Int64).alias("miss"),
            pl.col("_probe").sum().cast(pl.Int64).alias("probe"),
            (pl.col("status") >= 400).sum().cast(pl.Int64).alias("err"),
            pl.col("_row").get(pl.col("_interest").arg_max()).alias("_sample"),
            pl.col("_interest").max().cast(pl.Int8).alias("interest"),
        )
        .collect()
    )
    # one gather of the sample columns by row, not one per column per group
    sample = frame.select(SAMPLE[:-1])[agg["_sample"]]
    return pl.concat([agg.drop("_sample", "interest"), sample, agg.select("interest")], how="horizontal")


def missed_pairs(frame: pl.DataFrame) -> pl.DataFrame:
    """The distinct (asset, bucket, source, path) of a normalised frame's missing-path lines, allowlisted
    ones excluded: what ``miss`` counts, one row per path of a key."""
    missing = pl.col("status").is_in(MISSING_STATUS) & ~pl.col("allowed")
    bucket = pl.col("ts").dt.truncate(BUCKET).alias("bucket")
    return frame.lazy().filter(missing).select("asset", bucket, "src", "path").unique().collect()


def merge(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Merge aggregate frames whose keys may repeat (the same bucket seen in two chunks)."""
    nonempty = [p for p in parts if p.height]
    if not nonempty:
        return parts[0] if parts else pl.DataFrame()
    whole = pl.concat(nonempty)
    if whole.select(pl.struct(KEYS).is_unique().all()).item():
        return whole
    return _combine(whole)


def _combine(whole: pl.DataFrame) -> pl.DataFrame:
    """Rows of one key summed; the sample is the most telling, the first of them on a tie."""
    return _combined(whole.lazy(), whole.columns).collect()


def _combined(whole: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """:func:`_combine` as a query, for a frame of ``columns``."""
    best = pl.col("interest").arg_max()  # the first of the largest
    return whole.group_by(KEYS).agg(
        *[pl.col(c).sum() for c in COUNTS],
        *[pl.col(c).get(best) for c in SAMPLE if c in columns],  # the engine's frames have none
    )


def append(older: pl.DataFrame, newer: pl.DataFrame) -> pl.DataFrame:
    """``merge([older, newer])`` for frames of consecutive chunks, regrouping only where they overlap.

    Chunks of a log overlap in a few buckets at their seam (lines come out a little out of order), so
    only the rows of buckets present in both frames are grouped again; the rest is concatenated. Two
    frames in bucket order give one in bucket order.
    """
    if not older.height or not newer.height:
        return newer if newer.height else older
    lo, hi = newer["bucket"].min(), older["bucket"].max()
    assert isinstance(lo, datetime)
    assert isinstance(hi, datetime)
    if hi < lo:
        return pl.concat([older, newer])
    old_buckets, new_buckets = _ascending_ms(older), _ascending_ms(newer)
    if old_buckets is not None and new_buckets is not None:
        cut_old = int(np.searchsorted(old_buckets, ms_of(lo), side="left"))
        cut_new = int(np.searchsorted(new_buckets, ms_of(hi), side="right"))
        # both parts hold a row (older's last bucket, newer's first), and a seam's keys nearly always
        # repeat: summed with no test of uniqueness first (as merge makes)
        parts = (older.slice(cut_old), newer.slice(0, cut_new))
        if set(older.columns) <= {*KEYS, *COUNTS}:  # the engine's frames: a few dozen rows
            seam = _summed_rows(parts, older.schema)
        else:
            both = pl.concat(parts)
            seam = _combined(both.lazy(), both.columns).sort("bucket").collect()[older.columns]
        return pl.concat([older.slice(0, cut_old), seam, newer.slice(cut_new)])
    seam_old = pl.col("bucket") >= moment(lo)
    seam_new = pl.col("bucket") <= moment(hi)
    seam = merge([older.filter(seam_old), newer.filter(seam_new)])
    return pl.concat([older.filter(~seam_old), seam.select(older.columns), newer.filter(~seam_new)])


def stacked(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """``pl.concat(parts, how="diagonal_relaxed")``, as a plain vertical concatenation where every part
    has the same columns in the same order with the same types (the usual case): that one is no query,
    where the diagonal one is, and waits for Polars' threads behind the parse threads' work."""
    first = list(parts[0].schema.items())
    if all(list(p.schema.items()) == first for p in parts[1:]):
        return pl.concat(parts)
    return pl.concat(parts, how="diagonal_relaxed")


def _summed_rows(parts: Sequence[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    """:func:`_combine` of frames of :data:`KEYS` and counts (``schema``, buckets in UTC milliseconds),
    sorted by bucket, in Python and without a query.

    For a seam's few dozen rows: a query of them took the engine's thread 8 ms on average in a scan,
    waiting for Polars' threads behind the parse threads' work, and building a frame from Python
    datetimes is a query too (the buckets go in as integers, then are cast). As in the query, a null
    count is summed as 0, and the rows of one bucket come in no particular order.
    """
    counts = [c for c in schema.names() if c not in KEYS]
    sums: dict[tuple[object, int, object], list[int]] = {}
    for part in parts:
        keys = zip(part["asset"].to_list(), bucket_ms(part).tolist(), part["src"].to_list(), strict=True)
        for key, row in zip(keys, part[counts].iter_rows(), strict=True):  # by name: no query
            held = sums.setdefault(key, [0] * len(counts))
            for i, value in enumerate(row):
                held[i] += value or 0
    rows = sorted(sums.items(), key=lambda item: item[0][1])
    values = dict(
        zip([*KEYS, *counts], zip(*[(*key, *held) for key, held in rows], strict=True), strict=True)
    )
    columns = [
        pl.Series(name, values[name], dtype=pl.Int64).cast(_MS)
        if name == "bucket"
        else pl.Series(name, values[name], dtype=schema[name])
        for name in schema.names()
    ]
    return pl.DataFrame(columns)


def pairs_seen(newer: pl.DataFrame, older: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``newer`` whose key and path are those of a row of ``older``: the semi join of two
    :func:`missed_pairs` frames (nulls equal), in ``newer``'s order, found without a query.

    Only a row of ``newer`` whose bucket is at or before ``older``'s last can repeat one of its pairs,
    and of consecutive chunks only those at their seam are: those few are looked up in a set of
    ``older``'s pairs. A join would wait for Polars' threads behind the parse threads' work.
    """
    if not newer.height or not older.height:
        return newer.clear()
    old_ms, new_ms = bucket_ms(older), bucket_ms(newer)
    near = np.flatnonzero(new_ms <= old_ms.max())
    if not near.size:
        return newer.clear()
    seen = set(_pairs(older, old_ms))
    candidates = newer[near]  # a frame's rows: no query
    pairs = _pairs(candidates, new_ms[near])
    return candidates[[i for i, pair in enumerate(pairs) if pair in seen]]


def _pairs(frame: pl.DataFrame, ms: npt.NDArray[np.int64]) -> Iterator[tuple[object, ...]]:
    """Each row's asset, bucket (``ms``, its milliseconds), source and path."""
    columns = (frame["asset"].to_list(), ms.tolist(), frame["src"].to_list(), frame["path"].to_list())
    return zip(*columns, strict=True)


_MS = pl.Datetime("ms", "UTC")  # the engine's buckets


def _ascending_ms(frame: pl.DataFrame) -> npt.NDArray[np.int64] | None:
    """:func:`bucket_ms` if the ``bucket`` column is the engine's (UTC milliseconds) and in ascending
    order, else ``None``; no query (a flag, or one pass in Polars, and a view)."""
    bucket = frame["bucket"]
    return bucket_ms(frame) if bucket.dtype == _MS and bucket.is_sorted() else None


def bucket_ms(frame: pl.DataFrame) -> npt.NDArray[np.int64]:
    """The ``bucket`` column in milliseconds since the epoch (a view where it is the engine's)."""
    bucket = frame["bucket"]
    if bucket.dtype != _MS:
        bucket = bucket.cast(_MS)  # a cast, not a query
    values: npt.NDArray[np.int64] = bucket.to_numpy().view(np.int64)
    return values


def ms_of(at: datetime) -> int:
    """``at`` in milliseconds since the epoch, rounded down: a bucket starts at or before ``at`` exactly
    when its value is at or below this."""
    return (at - _EPOCH) // timedelta(milliseconds=1)


def bucket_range(
    frame: pl.DataFrame, since: datetime | None = None, before: datetime | None = None, *, after: bool = False
) -> pl.DataFrame:
    """The rows whose bucket is at or after ``since`` (after it, if ``after``) and before ``before``.

    A slice where the frame is in bucket order (found by binary search: no query), else a filter. The
    bounds are compared in whole milliseconds, rounded down, as Polars compares a literal with the
    engine's millisecond buckets (the engine's bounds are whole milliseconds anyway): either way, the
    same rows.
    """
    buckets = _ascending_ms(frame)
    if buckets is None:
        keep = pl.lit(value=True)
        if since is not None:
            keep &= pl.col("bucket") > moment(since) if after else pl.col("bucket") >= moment(since)
        if before is not None:
            keep &= pl.col("bucket") < moment(before)
        return frame.filter(keep)
    start, end = 0, frame.height
    if since is not None:
        start = int(np.searchsorted(buckets, ms_of(since), side="right" if after else "left"))
    if before is not None:
        end = int(np.searchsorted(buckets, ms_of(before), side="left"))
    return frame.slice(start, max(end - start, 0))


def split_final(pending: pl.DataFrame, watermark: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split aggregates into buckets that are final (end before ``watermark``) and those still open."""
    if not pending.height:
        return pending, pending
    last_final = watermark - timedelta(seconds=BUCKET_SECONDS)  # a bucket ends BUCKET_SECONDS after it starts
    buckets = _ascending_ms(pending)
    if buckets is not None:
        cut = int(np.searchsorted(buckets, ms_of(last_final), side="right"))
        return pending.slice(0, cut), pending.slice(cut)
    done = (pl.col("bucket") + pl.duration(seconds=BUCKET_SECONDS)) <= moment(watermark)
    return pending.filter(done), pending.filter(~done)
