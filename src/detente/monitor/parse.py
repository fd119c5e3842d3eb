"""Columnar parse of a chunk of log lines (Polars): bytes in, a normalised frame out.

The normalised frame has one row per well-formed line and the columns of :data:`COLUMNS`:
``asset``, ``ts`` (UTC, milliseconds), ``src`` (source key, see :mod:`.addr`), ``client`` (the address
after X-Forwarded-For resolution), ``method``, ``path`` (without the query string), ``query`` (whether
one was present), ``status``, ``size``, ``referer``, ``agent``, ``allowed``.

Invariants: every input line is either a row of the frame or counted in ``rejected`` (never both, never
neither, blank lines aside), and parsing never raises on line content.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from .addr import client_from_forwarded, source_keys
from .assets import Asset
from .formats import COMBINED, COMMON, FIELDS, LogFormat

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
ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%z")
NAIVE_FORMATS = ("%d/%b/%Y:%H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f")
MAX_SAMPLES = 20
TS = pl.Datetime("ms", "UTC")
# log times outside these are malformed (year 1 or 9999 would overflow the engine's date arithmetic)
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


@dataclass
class ParseStats:
    """Counts of lines read, parsed and rejected, and a short sample of rejected lines."""

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
        regex = self.fmt.regex
        pieces = read_pieces(chunk) if regex in (COMBINED, COMMON) else None
        if pieces is not None and regex is not None:
            kept = _not_blank(pieces)
            lines = _LazyLines(self, chunk, kept)
            try:
                return self._finish(_with_all_fields(quoted_fields(pieces.filter(kept), regex, lines)), lines)
            except _MisalignedError:
                pass  # read again from the lines
        split = self.lines(chunk)
        split = split.filter(split.str.contains(r"\S"))
        return self._finish(self._fields(split), lambda: split)

    def _finish(self, raw: pl.DataFrame, lines: Callable[[], pl.Series]) -> tuple[pl.DataFrame, ParseStats]:
        """Normalise the fields of the lines; count them, with a sample of the rejected ones."""
        frame = self._normalise(raw)
        ok = frame["ok"]
        stats = ParseStats(read=frame.height, parsed=int(ok.sum()))
        stats.rejected = stats.read - stats.parsed
        if stats.rejected:
            bad = lines().filter(~ok).head(MAX_SAMPLES)
            stats.samples = [line[:300] for line in bad.to_list()]
        return frame.filter(ok).select(COLUMNS), stats

    def _fields(self, lines: pl.Series) -> pl.DataFrame:
        col = pl.col("line")
        frame = lines.to_frame("line")
        if self.fmt.regex in (COMBINED, COMMON):
            out = quoted_fields(split_pieces(lines), self.fmt.regex, lambda: lines)
        elif self.fmt.regex is not None:
            out = frame.select(col.str.extract_groups(self.fmt.regex).alias("g")).unnest("g")
        else:
            exprs = [
                pl.coalesce([col.str.json_path_match(f"$['{k}']") for k in keys]).alias(name)
                for name, keys in self.fmt.json_keys
            ]
            out = frame.select(exprs)
        return _with_all_fields(out)

    def _normalise(self, raw: pl.DataFrame) -> pl.DataFrame:
        request = pl.col("request").str.split_exact(" ", 2)
        # split once: a target's query is whatever follows its first "?", so a second piece means one
        target = pl.coalesce(pl.col("target"), pl.col("_request").struct.field("field_1"))
        lazy = (
            raw.with_columns(self._time(raw))
            .lazy()
            .with_columns(request.alias("_request"))
            .with_columns(target.str.split_exact("?", 1).alias("_target"))
            .select(
                pl.col("ts"),
                pl.coalesce(pl.col("host"), pl.lit("")).str.to_lowercase().alias("host"),
                pl.col("addr"),
                pl.col("xff"),
                pl.coalesce(pl.col("method"), pl.col("_request").struct.field("field_0")).alias("method"),
                pl.col("_target").struct.field("field_0").alias("path"),
                pl.col("_target").struct.field("field_1").is_not_null().alias("query"),
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
            & pl.col("path").is_not_null()
        )
        return frame.with_columns(ok.alias("ok"))

    def _time(self, raw: pl.DataFrame) -> pl.Series:
        """UTC times: the usual format first; the other formats only for lines it did not read.

        Trying every format on every line would cost more than the rest of the parse together.
        """
        local = pl.col("time")
        iso = pl.col("time_iso").str.replace(r"Z$", "+00:00")
        tries = [local.str.strptime(TS, LOCAL_TIME, strict=False)]
        tries += [iso.str.strptime(TS, f, strict=False) for f in ISO_FORMATS]
        tries.append(pl.col("time_iso").str.strptime(TS, LOCAL_TIME, strict=False))  # JSON `time_local`
        epoch = pl.col("time_iso").cast(pl.Float64, strict=False) * 1000
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
        frame = frame.with_columns(source_keys(frame["client"]).alias("src"))
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


def _resolve(asset: Asset, addr: str, xff: str | None) -> str:
    hops = xff.split(",") if xff else []
    return client_from_forwarded(addr, hops, asset.trusted_proxies)


class _MisalignedError(Exception):
    """The quote reader and the line reader split a chunk differently: parse it from its lines."""


class _LazyLines:
    """The kept lines of a chunk, read only if a line must go to the regex or be shown as a sample."""

    def __init__(self, parser: Parser, chunk: bytes, kept: pl.Series) -> None:
        self.parser, self.chunk, self.kept = parser, chunk, kept
        self.lines: pl.Series | None = None

    def __call__(self) -> pl.Series:
        if self.lines is None:
            lines = self.parser.lines(self.chunk)
            if lines.len() != self.kept.len():  # the two readers split lines alike; checked, not assumed
                raise _MisalignedError
            self.lines = lines.filter(self.kept)
        return self.lines


def _not_blank(pieces: pl.DataFrame) -> pl.Series:
    """Which lines are not blank: only the few without a quote are searched for text."""
    bare = (pieces["field_1"] == SENTINEL).arg_true()
    blank = bare.filter(~pieces["field_0"].gather(bare).str.contains(r"\S"))
    return pl.repeat(True, pieces.height, eager=True).scatter(blank, False)


def _with_all_fields(out: pl.DataFrame) -> pl.DataFrame:
    missing = [pl.lit(None, dtype=pl.String).alias(f) for f in FIELDS if f not in out.columns]
    return out.with_columns(missing)


_HEAD = r"^(?P<addr>\S+) \S+ \S+ \[(?P<time>[^\]]*)\] $"  # the user is not read: nothing uses it
_STATUS_SIZE = r"^ (?P<status>\d{3}) (?P<size>\S+)"
# Appended to every line (after a quote) before it is split at its quotes, so the piece that holds it
# tells how many quotes the line had: a line with q quotes has pieces 0..q, then the sentinel.
SENTINEL = "\x1e"
PIECES = 8


def read_pieces(chunk: bytes) -> pl.DataFrame | None:
    """Split every line of ``chunk`` at its double quotes in one pass of the CSV reader.

    The pieces are ``field_0`` to ``field_7``, empty strings past the end of a line; the sentinel marks
    the end (see :data:`SENTINEL`). ``None`` when the chunk holds a carriage return or the sentinel
    itself: :func:`split_pieces` then splits its lines, which the reader has already cleaned.
    """
    if not chunk or chunk.isspace() or b"\r" in chunk or SENTINEL.encode() in chunk:
        return None
    if not chunk.endswith(b"\n"):
        chunk += b"\n"
    marked = chunk.replace(b"\n", b'"' + SENTINEL.encode() + b"\n")
    return pl.read_csv(
        marked,
        has_header=False,
        separator='"',
        quote_char=None,
        schema={f"field_{i}": pl.String for i in range(PIECES)},
        missing_columns="insert",
        extra_columns="ignore",
        truncate_ragged_lines=True,
        empty_string_is_null=False,
        encoding="utf8-lossy",
    )


def split_pieces(lines: pl.Series) -> pl.DataFrame:
    """The pieces of :func:`read_pieces` for lines already split (a line holding the sentinel has none)."""
    line = pl.col("line")
    marked = (
        pl.when(line.str.contains(SENTINEL, literal=True))
        .then(pl.lit(None, pl.String))
        .otherwise(line + '"' + SENTINEL)
        .str.split_exact('"', PIECES - 1)
    )
    frame = lines.to_frame("line").select(marked.alias("p")).unnest("p")
    return frame.with_columns(pl.all().fill_null(""))


def quoted_fields(pieces: pl.DataFrame, regex: str, lines: Callable[[], pl.Series]) -> pl.DataFrame:
    """The groups of the common or combined ``regex`` for every line, three times faster than it.

    ``pieces`` are the lines split at their double quotes (:func:`read_pieces`), and only the short
    pieces are matched. A line is read this way only when its pieces have exactly the layout that forces
    the regex's own reading (the first piece is ``addr ident user [time] ``, the status piece ends before
    a quote only where the regex's size would end too, and, for combined, referer and agent follow as
    ``"..." "..."``); every other line goes through ``regex`` itself, on ``lines()`` (called only then).
    The result is thus the regex's, line for line (``tests/monitor/test_fast.py`` checks it on awkward
    lines), less the ``user`` group, which nothing reads.
    """
    f = [pl.col(f"field_{i}") for i in range(PIECES)]
    combined = regex == COMBINED
    if combined:
        tail = f[2].str.extract_groups(_STATUS_SIZE + " $")
        shaped = (f[4] == " ") & (f[5] != SENTINEL) & (f[6] != SENTINEL)
    else:
        tail = f[2].str.extract_groups(_STATUS_SIZE + "(?: |$)")
        shaped = f[2].str.contains(r"^ \d{3} \S+ ") | (f[3] == SENTINEL)
    head = f[0].str.extract_groups(_HEAD)
    names = [n for n in re.compile(regex).groupindex if n != "user"]
    extra = [f[3].alias("referer"), f[5].alias("agent")] if combined else []
    fast = (
        pieces.lazy()
        .select(head.alias("h"), f[1].alias("request"), tail.alias("t"), *extra, shaped.alias("_shaped"))
        .unnest("h", "t")
        .collect()
    )
    ok = fast["_shaped"].fill_null(False) & fast["addr"].is_not_null() & fast["status"].is_not_null()
    fast = fast.select(names)
    if ok.all():
        return fast
    bad = (~ok).arg_true()
    slow = lines().gather(bad).to_frame("line").select(pl.col("line").str.extract_groups(regex).alias("g"))
    slow = slow.unnest("g")
    nulls = pl.lit(None, dtype=pl.String)
    fast = fast.with_columns(pl.when(ok).then(pl.col(n)).otherwise(nulls) for n in names)
    return fast.with_columns(fast[n].scatter(bad, slow[n]) for n in names)
