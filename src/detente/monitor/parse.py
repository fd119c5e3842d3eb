"""Columnar parse of a chunk of log lines (the C splitter for line formats, Polars): bytes in, a normalised
frame out.

The normalised frame has one row per well-formed line and the columns of :data:`COLUMNS`:
``asset``, ``ts`` (UTC, milliseconds), ``src`` (source key, see :mod:`.addr`), ``client`` (the address
after X-Forwarded-For resolution), ``method``, ``path`` (without the query string; :data:`.formats.NO_TARGET`
where the request holds no target), ``query`` (whether one was present), ``status``, ``size``,
``referer``, ``agent``, ``allowed``.

Invariants: every input line is either a row of the frame or counted in ``rejected`` (never both, never
neither, blank lines aside), and parsing never raises on line content. A line is rejected only when its
address, time or status cannot be read: a request that cannot be read (nginx's ``"-"``, raw TLS bytes)
is still a request of its source, and a flood of them an attack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from . import _split
from .addr import client_from_forwarded, source_keys
from .assets import Asset
from .formats import FIELDS, NO_TARGET, LogFormat, steps_program
from .redact import rejected_line

COLUMNS = (
    "asset",
    "ts",
    "src",
    "client",
    "method",
    "path",
    "query",
    "status",
    "size",
    "referer",
    "agent",
    "allowed",
)
LOCAL_TIME = "%d/%b/%Y:%H:%M:%S %z"
ISO_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
)
NAIVE_FORMATS = (
    "%d/%b/%Y:%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",  # RFC 3339 allows a space for the T (Python's str(datetime), SQL)
    "%Y-%m-%d %H:%M:%S%.f",
)
# a number of seconds since the epoch reaches 1e11 only in the year 5138: a larger one counts
# milliseconds (JavaScript's Date.now(), Java's currentTimeMillis()), and from 1e14 microseconds
EPOCH_MS_FROM, EPOCH_US_FROM = 1e11, 1e14
MAX_SAMPLES = 20
# the string fields :func:`split_fields` gives, in the order of ``_split.c``: the user is not read, the
# request is split into the method and the target, and the target into the path (and the query flag)
SPLIT_COLUMNS = tuple("path" if f == "target" else f for f in FIELDS if f not in ("user", "request"))
# the splitter's numbers of each distinct address and path of a chunk (read by :mod:`.coded` only)
CODES = ("addr_code", "path_code")
TS = pl.Datetime("ms", "UTC")
# log times outside these are malformed (year 1 or 9999 would overflow the engine's date arithmetic)
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


@dataclass
class ParseStats:
    """Counts of lines read, parsed and rejected, and what the evidence may show of the first rejected
    lines (:func:`.redact.rejected_line`: never their text)."""

    read: int = 0
    parsed: int = 0
    rejected: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, other: ParseStats) -> None:
        """Fold another chunk's counts in; the sample stays at most :data:`MAX_SAMPLES` lines."""
        self.read += other.read
        self.parsed += other.parsed
        self.rejected += other.rejected
        room = MAX_SAMPLES - len(self.samples)
        self.samples.extend(other.samples[: max(room, 0)])


@dataclass(frozen=True)
class Parser:
    """Parses chunks of one input format for a set of assets (the first is the default)."""

    fmt: LogFormat
    assets: Sequence[Asset]
    timezone: str = "UTC"

    def lines(self, chunk: bytes) -> pl.Series:
        """Split a chunk of whole lines into a string column (invalid UTF-8 replaced, not fatal)."""
        if not chunk or chunk.isspace():  # no copy, unlike strip()
            return pl.Series("line", [], dtype=pl.String)
        frame = pl.read_csv(
            chunk,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"line": pl.String},
            truncate_ragged_lines=True,
            extra_columns="ignore",  # a stray \x1f cuts the line short; it is then rejected or read
            encoding="utf8-lossy",
        )
        return frame["line"].fill_null("")

    def parse(self, chunk: bytes) -> tuple[pl.DataFrame, ParseStats]:
        """Parse one chunk of whole lines; return the normalised frame and the chunk's counts."""
        if self.fmt.steps:  # every line format: split in C
            return self.parse_split(split_raw(chunk, self.fmt))
        split = self.lines(chunk)  # JSON lines
        split = split.filter(split.str.contains(r"\S"))
        return self._finish(self._json_fields(split), lambda: split)

    def parse_split(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, ParseStats]:
        """:meth:`parse` of a chunk of a line format already split by :func:`split_raw`."""
        frame = complete_fields(raw, self.fmt)
        return self._finish(_with_all_fields(frame.drop("line")), lambda: frame["line"])

    def _finish(self, raw: pl.DataFrame, lines: Callable[[], pl.Series]) -> tuple[pl.DataFrame, ParseStats]:
        """Normalise the fields of the lines; count them, with a sample of the rejected ones."""
        frame = self._normalise(raw)
        ok = frame["ok"]
        stats = ParseStats(read=frame.height, parsed=int(ok.sum()))
        stats.rejected = stats.read - stats.parsed
        if stats.rejected:
            stats.samples = _rejected(frame.filter(~ok).head(MAX_SAMPLES), lines().filter(~ok))
        return frame.filter(ok).select(COLUMNS), stats

    def _json_fields(self, lines: pl.Series) -> pl.DataFrame:
        col = pl.col("line")
        exprs = [
            pl.coalesce([col.str.json_path_match(f"$['{k}']") for k in keys]).alias(name)
            for name, keys in self.fmt.json_keys
        ]
        return _with_all_fields(lines.to_frame("line").select(exprs))

    def _normalise(self, raw: pl.DataFrame) -> pl.DataFrame:
        if "path" not in raw.columns:  # the log splitter has not split the requests
            raw = _request_fields(raw)
        lazy = (
            raw.with_columns(self.times(raw))
            .lazy()
            .select(
                pl.col("ts"),
                pl.col("v4") if "v4" in raw.columns else pl.lit(False).alias("v4"),
                pl.coalesce(pl.col("host"), pl.lit("")).str.to_lowercase().alias("host"),
                pl.col("addr"),
                pl.col("xff"),
                pl.col("method"),
                pl.col("path").fill_null(NO_TARGET),
                pl.col("query"),
                pl.col("status").cast(pl.Int16, strict=False),
                pl.col("size").cast(pl.Int64, strict=False).fill_null(0),
                pl.col("referer"),
                pl.col("agent"),
            )
        )
        frame = self._clients(lazy.with_columns(self._asset_expr().alias("asset")).collect())
        ok = (
            pl.col("src").is_not_null()
            & pl.col("ts").is_between(EARLIEST, LATEST)  # null, or a date no server wrote: malformed
            & pl.col("status").is_not_null()
        ).fill_null(False)  # a time not read is null, and so would the verdict be: rejected, and sampled
        return frame.with_columns(ok.alias("ok"))

    def times(self, raw: pl.DataFrame) -> pl.Series:
        """UTC times: the usual format first; the other formats only for lines it did not read.

        Trying every format on every line would cost more than the rest of the parse together. The C
        splitter's ``time_ms``, where it gives one, is what the usual format reads (``_split.c``), so
        the lines it read are not read again.
        """
        if "time_ms" in raw.columns and not raw["time_ms"].null_count():
            # every line's time read by the splitter: a cast, no query (each waits on Polars' pool)
            return raw["time_ms"].cast(TS).alias("ts")
        local = pl.col("time")
        iso = pl.col("time_iso").str.replace(r"Z$", "+00:00")
        tries = [pl.col("time_ms").cast(TS)] if "time_ms" in raw.columns else []
        tries.append(local.str.strptime(TS, LOCAL_TIME, strict=False))
        tries += [iso.str.strptime(TS, f, strict=False) for f in ISO_FORMATS]
        tries.append(pl.col("time_iso").str.strptime(TS, LOCAL_TIME, strict=False))  # JSON `time_local`
        number = pl.col("time_iso").cast(pl.Float64, strict=False)
        epoch = (
            pl.when(number.abs() >= EPOCH_US_FROM)
            .then(number / 1000)
            .when(number.abs() >= EPOCH_MS_FROM)
            .then(number)
            .otherwise(number * 1000)
        )
        tries.append(epoch.cast(pl.Int64, strict=False).cast(TS))
        for source in (local, iso):
            for f in NAIVE_FORMATS:
                naive = source.str.strptime(pl.Datetime("ms"), f, strict=False)
                zoned = naive.dt.replace_time_zone(self.timezone, ambiguous="earliest", non_existent="null")
                tries.append(zoned.dt.convert_time_zone("UTC"))
        given = pl.col("time").is_not_null() | pl.col("time_iso").is_not_null()
        out = raw.select(tries[0].alias("ts"), given.alias("given"))
        for attempt in tries[1:]:
            todo = out["ts"].is_null() & out["given"]
            if not todo.any():
                break
            fill = raw.filter(todo).select(attempt.alias("ts"))["ts"]
            ts = out["ts"].scatter(todo.arg_true(), fill)
            out = out.with_columns(ts)
        return out["ts"]

    def _asset_expr(self) -> pl.Expr:
        host = pl.col("host").str.replace(r":\d+$", "")
        by_host = {h: a.name for a in self.assets for h in a.hosts}
        default = self.assets[0].name
        if not by_host:
            return pl.lit(default)
        return host.replace_strict(by_host, default=default, return_dtype=pl.String)

    def _clients(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Resolve X-Forwarded-For behind trusted proxies, then source keys, then allowlists."""
        client = pl.col("addr")
        proxied = [a for a in self.assets if a.trusted_proxies]
        if proxied:
            pairs = frame.select("asset", "addr", "xff").unique().drop_nulls(["addr"])
            mapping = {
                (asset, addr, xff): _resolve(self._asset(asset), addr, xff)
                for asset, addr, xff in pairs.iter_rows()
            }
            keys = pl.concat_str(["asset", "addr", pl.col("xff").fill_null("")], separator="\x00")
            flat = {f"{a}\x00{p}\x00{x or ''}": c for (a, p, x), c in mapping.items()}
            client = keys.replace_strict(flat, default=pl.col("addr"), return_dtype=pl.String)
        frame = frame.with_columns(client.alias("client"))
        own = frame["v4"] if not proxied else None  # with no proxy, the client is the address
        frame = frame.with_columns(source_keys(frame["client"], own).alias("src"))
        return frame.with_columns(self._allowed(frame).alias("allowed"))

    def _allowed(self, frame: pl.DataFrame) -> pl.Expr:
        allowing = [a for a in self.assets if a.allow]
        if not allowing:
            return pl.lit(False)
        pairs = frame.select("asset", "client").unique().drop_nulls().iter_rows()
        hits = [f"{asset}\x00{c}" for asset, c in pairs if c in self._asset(asset).allow]
        return pl.concat_str(["asset", "client"], separator="\x00").is_in(hits).fill_null(False)

    def _asset(self, name: str) -> Asset:
        return next(a for a in self.assets if a.name == name)


def _rejected(rows: pl.DataFrame, lines: pl.Series) -> list[str]:
    """:func:`.redact.rejected_line` of each rejected row, with its line's length: the client and time
    only where they were read (a time out of bounds may not even be a Python datetime)."""
    read = rows.select(
        "addr",
        pl.when(pl.col("src").is_not_null()).then(pl.col("client")).alias("client"),
        pl.when(pl.col("ts").is_between(EARLIEST, LATEST)).then(pl.col("ts")).alias("ts"),
        "method",
        "path",
        "query",
        "status",
        "size",
        "agent",
    )
    lengths = lines.head(rows.height).str.len_chars().to_list()
    return [rejected_line(row, n) for row, n in zip(read.iter_rows(named=True), lengths, strict=True)]


def _resolve(asset: Asset, addr: str, xff: str | None) -> str:
    hops = xff.split(",") if xff else []
    return client_from_forwarded(addr, hops, asset.trusted_proxies)


def _with_all_fields(out: pl.DataFrame) -> pl.DataFrame:
    missing = [pl.lit(None, dtype=pl.String).alias(f) for f in FIELDS if f not in out.columns]
    return out.with_columns(missing)


class _Capsules:
    """The Arrow PyCapsules of :func:`_split.split`, as the object Polars imports them from."""

    def __init__(self, capsules: tuple[object, object]) -> None:
        self.capsules = capsules

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        return self.capsules


def split_raw(chunk: bytes, fmt: LogFormat) -> pl.DataFrame:
    """The columns of :mod:`detente.monitor._split` for ``chunk`` as they come: the fields, ``defer``,
    ``v4``, ``query``, ``addr_code``, ``path_code`` and ``time_ms`` (see ``_split.c``). Invalid UTF-8
    is replaced, as the other formats' line reader does."""
    if not chunk.isascii():
        chunk = chunk.decode("utf-8", "replace").encode()
    return pl.Series(_Capsules(_split.split(chunk, steps_program(fmt.steps)))).struct.unnest()


def split_fields(chunk: bytes, fmt: LogFormat) -> pl.DataFrame:
    """:func:`complete_fields` of :func:`split_raw`, without ``time_ms``: what the regex captures."""
    return complete_fields(split_raw(chunk, fmt), fmt).drop("time_ms")


def complete_fields(raw: pl.DataFrame, fmt: LogFormat) -> pl.DataFrame:
    r"""The fields of every line of a chunk that is not blank, in the line format ``fmt``, from what
    :func:`split_raw` gave for it.

    The columns are ``line``; the fields of :data:`SPLIT_COLUMNS`, each what ``fmt.regex`` captures
    in its group of that name (null where the format has none), but for ``method``, ``path`` and
    ``query``, which are taken from the method, target and request groups (:func:`_request_fields`);
    ``v4``: whether ``addr`` is an IPv4 address as :mod:`ipaddress` writes it (:data:`.addr.IPV4`),
    so is its own source key; and the splitter's ``time_ms`` (null on a deferred line).
    :mod:`detente.monitor._split` (C, one pass, no copy of the strings) runs the format's steps on
    lines of ASCII; a line with any other byte is left to the regex itself (Rust's ``\s`` and ``\d``
    are Unicode classes), its ``v4`` false. ``tests/monitor/test_fast.py`` holds both to the regexes
    on awkward lines and formats.
    """
    assert fmt.regex is not None
    deferred = raw["defer"].arg_true()
    frame = raw.drop("defer", *CODES)
    if not deferred.len():
        return frame
    lines = frame["line"].gather(deferred)
    groups = lines.to_frame().select(pl.col("line").str.extract_groups(fmt.regex).alias("g")).unnest("g")
    groups = _request_fields(_with_all_fields(groups))
    fields = [c for c in frame.columns if c not in ("line", "v4", "time_ms")]
    frame = frame.with_columns(frame[c].scatter(deferred, groups[c]) for c in fields)
    blank = deferred.filter(~lines.str.contains(r"\S"))  # white space beyond ASCII only
    return frame.filter(pl.repeat(True, frame.height, eager=True).scatter(blank, False))


def _request_fields(groups: pl.DataFrame) -> pl.DataFrame:
    """``method``, ``path`` and ``query`` from a format's groups: the method and target groups, else the
    request's first two fields between spaces; the path is the target up to its first "?" (split once:
    the query is whatever follows it)."""
    request = pl.col("request").str.split_exact(" ", 2).struct
    target = pl.coalesce(pl.col("target"), request.field("field_1")).str.split_exact("?", 1).struct
    return groups.with_columns(
        pl.coalesce(pl.col("method"), request.field("field_0")).alias("method"),
        target.field("field_0").alias("path"),
        target.field("field_1").is_not_null().alias("query"),
    )
