"""Scan: inputs -> parse -> aggregate -> engine -> a :class:`ScanResult`.

The scan streams: at most :data:`AHEAD` + 1 chunks of lines are in memory at a time (the engine's and
those being parsed), plus the engine's bounded buffers, so memory does not grow with the log. Buckets
are final once the log has moved :data:`LATENESS` past them (servers write lines in order of
completion, so a slow request can come out a little late).

How far the log has moved is what :data:`REACHED_BY` consecutive lines say, not its latest line: the
log has *reached* a time once that many lines in a row are all dated at or after it. One line dated a
day ahead (a clock set wrong for a moment, a hand-edited line) then moves nothing, where the latest
line's time would have made every line after it "late" and never analysed; in a log in time order it
is the time of the fifth line from the end, a few seconds at most behind the last. A line is *ahead*
when it is dated more than :data:`HORIZON` past what the log reached when it ends and a later line is
dated more than :data:`HORIZON` before it (a clock wrong for a moment): counted and described apart,
never analysed (:meth:`Scanner.finish`). The last lines of a log in order are the log's time however
far they are from the others (a quiet night, a site that gets a few requests a day), and are analysed.

Parsing and aggregating a chunk is pure (bytes in, a :class:`Parsed` out), so the next chunks are
parsed in worker threads while the engine detects over the previous one (Polars releases the GIL):
both cores work. The engine still takes the chunks one at a time and in file order, so the result is
the same as a sequential scan.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from detente.errors import InputError

from .aggregate import BUCKET_SECONDS, aggregate, missed_pairs
from .assets import Asset
from .attribution import Attribution
from .coded import aggregate_coded
from .engine import Engine
from .evidence import Evidence
from .features import Tuning
from .formats import LogFormat
from .incidents import Incident
from .inputs import Span, chunks, open_log, spans
from .parse import TS, Parser, ParseStats, split_raw

LATENESS = timedelta(seconds=60)
REACHED_BY = 5  # consecutive lines that must all be dated at or after a time for the log to reach it
HORIZON = timedelta(hours=6)  # a line this far past what the log reached, when it ends, may be ahead
_HORIZON_MS = HORIZON // timedelta(milliseconds=1)
AHEAD = 2  # chunks parsed ahead of the engine (one per core)
# chunks taken between two detections: the engine's work per batch is mostly fixed (a few dozen
# queries), and its incidents do not depend on where batches fall, so fewer, larger batches cost less
DETECT_EVERY = 2
Progress = Callable[[int], None]
Times = npt.NDArray[np.int64]  # line times, milliseconds since the epoch
_NO_TIMES: Times = np.empty(0, np.int64)


@dataclass
class ScanResult:
    """What a scan found, and what it read."""

    assets: Sequence[Asset]
    incidents: list[tuple[Incident, Evidence]]
    stats: ParseStats
    timeline: dict[str, dict[datetime, int]]
    late: int = 0  # parsed lines dated before what was already final (files out of order): not detected
    ahead: int = 0  # parsed lines dated more than HORIZON past what the log reached: not detected
    ahead_sample: list[str] = field(default_factory=list)  # the first of them, redacted
    first: datetime | None = None
    last: datetime | None = None
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Parsed:
    """One chunk, parsed and aggregated: what the engine takes, and the chunk's counts and span."""

    agg: pl.DataFrame
    stats: ParseStats
    first: datetime | None
    last: datetime | None
    size: int
    missed: pl.DataFrame  # :func:`.aggregate.missed_pairs`
    times: Times = field(default_factory=lambda: _NO_TIMES)  # each parsed line's time, in line order


@dataclass
class Scanner:
    """Feeds chunks of lines through parser and engine; usable for files and for followed input."""

    parser: Parser
    engine: Engine
    stats: ParseStats = field(default_factory=ParseStats)
    first: datetime | None = None
    last: datetime | None = None  # the latest line's time, lines ahead of the log left out
    reached: datetime | None = None  # the log's time: what :data:`REACHED_BY` lines in a row reached
    ahead: int = 0  # requests set aside by :meth:`finish` (dated past the horizon)
    ahead_sample: list[str] = field(default_factory=list)
    _carry: Times = field(default_factory=lambda: _NO_TIMES, repr=False)  # the last lines' times
    # past the horizon when read, and no later line yet dated more than HORIZON before them
    _beyond: Times = field(default_factory=lambda: _NO_TIMES, repr=False)
    # past the horizon when read, and a later line dated more than HORIZON before them: ahead, unless the
    # log comes to them (appended, never concatenated: there can be as many as the log's lines)
    _ahead: list[Times] = field(default_factory=list, repr=False)

    def feed(self, chunk: bytes) -> None:
        """Parse, aggregate and take one chunk of whole lines."""
        self.take(self.prepare(chunk))

    def prepare(self, chunk: bytes) -> Parsed:
        """Parse and aggregate one chunk (no shared state is touched: safe in a worker thread)."""
        return prepare(self.parser, chunk)

    def take(self, parsed: Parsed) -> None:
        """Hand a parsed chunk to the engine (chunks must be taken in log order)."""
        self.stats.add(parsed.stats)
        if parsed.first is None or parsed.last is None:
            return
        self.first = parsed.first if self.first is None else min(self.first, parsed.first)
        self._reach(parsed.times)
        if self._beyond.size:  # the chunk's lines come after them all
            self._judge(ms_of_time(parsed.first))
        horizon = self.horizon()
        if horizon is not None and parsed.last < horizon:  # nearly always: no line is far ahead
            self._keep_last(parsed.last)
        else:
            self._sort_out(parsed.times if parsed.times.size else _ms_array(parsed.last))
        self.engine.feed(parsed.agg, parsed.missed, horizon)

    def _reach(self, times: Times) -> None:
        """Move :attr:`reached` to what the windows of :data:`REACHED_BY` lines ending in ``times`` say."""
        if not times.size:
            return
        found, self._carry = reached_ms(times, self._carry)
        if found is not None and (self.reached is None or found > ms_of_time(self.reached)):
            self.reached = _time(found)

    def horizon(self) -> datetime | None:
        """The start of the first bucket :data:`HORIZON` or more past what the log reached (None before
        it reached anything): a line there is ahead of the log, unless the log comes to it."""
        if self.reached is None:
            return None
        start = self.reached - timedelta(seconds=self.reached.timestamp() % BUCKET_SECONDS)
        return start + HORIZON

    def _keep_last(self, at: datetime) -> None:
        self.last = at if self.last is None else max(self.last, at)

    def _judge(self, later: int) -> None:
        """Move to :attr:`_ahead` the lines of :attr:`_beyond` dated more than :data:`HORIZON` after
        ``later``, the earliest time of lines read after them."""
        ahead = self._beyond > later + _HORIZON_MS
        if ahead.any():
            self._ahead.append(self._beyond[ahead])
            self._beyond = self._beyond[~ahead]

    def _sort_out(self, times: Times) -> None:
        """Keep apart the times at or past the horizon: in :attr:`_ahead` those that a later line of
        ``times`` is dated more than :data:`HORIZON` before, in :attr:`_beyond` the others. The rest
        count for :attr:`last`."""
        horizon = self.horizon()
        ahead = times > _earliest_after(times) + _HORIZON_MS
        if horizon is not None:
            ahead &= times >= ms_of_time(horizon)
        if ahead.any():
            self._ahead.append(times[ahead])
            times = times[~ahead]
        pool = np.concatenate([self._beyond, times]) if self._beyond.size else times
        if horizon is None:
            self._beyond = pool.copy()
            return
        within = pool < ms_of_time(horizon)
        if within.any():
            self._keep_last(_time(int(pool[within].max())))
        self._beyond = pool[~within]

    def far_ahead(self) -> int:
        """Lines read so far that are dated past the horizon (a follower's running count)."""
        horizon = self.horizon()
        if horizon is None:
            return 0
        at = ms_of_time(horizon)
        return int((self._beyond >= at).sum()) + sum(int((a >= at).sum()) for a in self._ahead)

    def advance(self, watermark: datetime | None = None) -> None:
        """Detect over every bucket before ``watermark`` (default: the log's time less lateness)."""
        if watermark is None and self.reached is not None:
            watermark = self.reached - LATENESS
        if watermark is not None:
            self.engine.advance(watermark)

    def finish(self) -> list[tuple[Incident, Evidence]]:
        """End of input: set aside the lines ahead of the log, then detect over everything else.

        Invariant: a bucket is set aside only if it holds a line ahead and no line of the log's own
        time: the lines left in :attr:`_beyond` (no later line far before them: the end of a log in
        order), but those of a clock shown wrong (:func:`_of_wrong_clock`), are the log's time,
        analysed and counted for :attr:`last`.
        """
        if self._ahead:
            wrong = _of_wrong_clock(self._beyond, np.concatenate(self._ahead))
            self._ahead.append(self._beyond[wrong])
            self._beyond = self._beyond[~wrong]
        if self._beyond.size:
            self._keep_last(_time(int(self._beyond.max())))
        if self._ahead:
            ahead = np.concatenate(self._ahead)
            horizon = self.horizon()
            # the log came to them after all; or it reached nothing (fewer lines than a window), and
            # then none can be judged ahead of it
            came = ahead < ms_of_time(horizon) if horizon is not None else np.ones(ahead.size, np.bool_)
            if came.any():
                self._keep_last(_time(int(ahead[came].max())))
            aside = np.setdiff1d(_buckets_ms(ahead[~came]), _buckets_ms(self._beyond))
            self.ahead, self.ahead_sample = self.engine.set_aside(aside)
        return self.engine.finish()


def reached_ms(times: Times, carry: Times) -> tuple[int | None, Times]:
    """The latest time that :data:`REACHED_BY` consecutive lines all reached, among the windows that
    end in ``times`` (``carry``: the times of the lines before them, at most ``REACHED_BY - 1``), and
    the carry for the next lines. None when there are fewer lines than a window."""
    seq = np.concatenate([carry, times]) if carry.size else times
    width = REACHED_BY
    if seq.size < width:
        return None, seq.copy()
    windows = seq.size - width + 1
    low = seq[:windows].copy()
    for j in range(1, width):
        np.minimum(low, seq[j : j + windows], out=low)
    return int(low.max()), seq[windows:].copy()


def _earliest_after(times: Times) -> Times:
    """For each line, the earliest time of the lines after it in ``times`` (the largest int64 for the
    last: no line comes after it)."""
    after = np.empty_like(times)
    if times.size:
        after[-1] = np.iinfo(np.int64).max - _HORIZON_MS  # so that ``after + _HORIZON_MS`` cannot wrap
        after[:-1] = np.minimum.accumulate(times[:0:-1])[::-1]
    return after


def _of_wrong_clock(tail: Times, ahead: Times) -> npt.NDArray[np.bool_]:
    """Which of ``tail`` (lines no later line showed ahead) are dated less than :data:`HORIZON` after
    a line of ``ahead``, or at its time: the same clock, shown wrong by the lines after that one. The
    last line of a log whose lines alternate with a clock days ahead has no line after it, and was once
    analysed as the log's time."""
    known = np.sort(ahead)
    at = np.searchsorted(known, tail, side="right") - 1  # the latest line ahead at or before each
    found = at >= 0
    near = np.zeros(tail.size, np.bool_)
    near[found] = tail[found] - known[at[found]] < _HORIZON_MS
    return near


def _buckets_ms(times: Times) -> Times:
    """The distinct buckets of ``times``, as the engine's bucket starts in milliseconds."""
    step = BUCKET_SECONDS * 1000
    return np.unique(times - times % step)


def ms_of_time(at: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (as the parsed frames hold times)."""
    return round(at.timestamp() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms_array(at: datetime) -> Times:
    return np.array([ms_of_time(at)], dtype=np.int64)


def prepare(parser: Parser, chunk: bytes) -> Parsed:
    """Parse and aggregate one chunk of whole lines with ``parser`` (touches nothing shared)."""
    if not parser.fmt.steps:  # JSON lines
        return _aggregate(parser, *parser.parse(chunk), len(chunk))
    raw = split_raw(chunk, parser.fmt)
    coded = aggregate_coded(raw, parser)  # the common case, counted by integers
    if coded is not None:
        return Parsed(coded.agg, coded.stats, coded.first, coded.last, len(chunk), coded.missed, coded.times)
    return _aggregate(parser, *parser.parse_split(raw), len(chunk))


def _aggregate(parser: Parser, frame: pl.DataFrame, stats: ParseStats, size: int) -> Parsed:
    if not frame.height:
        return Parsed(frame, stats, None, None, size, pl.DataFrame())
    lo, hi = frame["ts"].min(), frame["ts"].max()
    assert isinstance(lo, datetime)
    assert isinstance(hi, datetime)
    times = frame["ts"].cast(TS).to_numpy().view(np.int64)
    return Parsed(aggregate(frame, parser.assets), stats, lo, hi, size, missed_pairs(frame), times)


def scan(
    files: Sequence[Path],
    fmt: LogFormat,
    assets: Sequence[Asset],
    tables: Callable[[], Attribution],
    tuning: Tuning | None = None,
    timezone: str = "UTC",
    progress: Progress | None = None,
) -> ScanResult:
    """Scan log files (oldest first) and return the incidents found.

    ``tables`` (:func:`.attribution.load`, or a cached loader) is called once the first chunks are
    being parsed: the engine needs the tables only for the first chunk's detection, so loading them
    overlaps the parse instead of delaying it.
    """
    parser = Parser(fmt, assets, timezone)
    with _Ahead(parser, files) as ahead:
        scanner = Scanner(parser, Engine(assets, tables(), tuning or Tuning()))
        for taken, parsed in enumerate(ahead, start=1):
            scanner.take(parsed)
            if taken % DETECT_EVERY == 0:
                scanner.advance()
            if progress is not None:
                progress(parsed.size)
    incidents = scanner.finish()
    incidents.sort(key=lambda pair: (pair[0].start, pair[0].asset, pair[0].kind))
    return ScanResult(
        assets=assets,
        incidents=incidents,
        stats=scanner.stats,
        timeline=scanner.engine.timeline,
        late=scanner.engine.late,
        ahead=scanner.ahead,
        ahead_sample=scanner.ahead_sample,
        first=scanner.first,
        last=scanner.last,
        files=[str(p) for p in files],
    )


class _Ahead:
    """Parsed chunks of ``files`` in order, the next :data:`AHEAD` being parsed in worker threads.

    Parsing starts on entry, before the first chunk is asked for. While the engine takes the oldest
    chunk, the :data:`AHEAD` after it are being parsed, one on each core. A plain file's chunks are
    read by the threads that parse them (:class:`.inputs.Span`), so the engine's thread reads
    nothing; a compressed file is read and decompressed by the thread that iterates, in order.
    """

    def __init__(self, parser: Parser, files: Sequence[Path]) -> None:
        self._jobs = _jobs(parser, files)
        self._queue: deque[Future[Parsed]] = deque()
        self._pool = ThreadPoolExecutor(max_workers=AHEAD, thread_name_prefix="parse")

    def __enter__(self) -> _Ahead:
        try:
            self._fill()  # reading a compressed file may fail here, with chunks already submitted
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for pending in self._queue:
            pending.cancel()
        self._pool.shutdown()
        self._jobs.close()  # closes a compressed file left half read

    def __iter__(self) -> Iterator[Parsed]:
        while self._queue:
            parsed = self._queue.popleft().result()
            yield parsed
            self._fill()

    def _fill(self) -> None:
        while len(self._queue) <= AHEAD:
            job = next(self._jobs, None)
            if job is None:
                return
            self._queue.append(self._pool.submit(job))


def _jobs(parser: Parser, files: Sequence[Path]) -> Generator[Callable[[], Parsed], None, None]:
    """One job per chunk of ``files``, in order, each giving the chunk parsed."""
    for path in files:
        found = spans(path)
        if found is not None:
            yield from (partial(_read_and_prepare, parser, span) for span in found)
            continue
        with open_log(path) as stream:
            try:
                yield from (partial(prepare, parser, chunk) for chunk in chunks(stream))
            except InputError as exc:  # damaged compressed data: which file, of all the scan reads
                raise InputError(f"{path}: {exc}") from exc


def _read_and_prepare(parser: Parser, span: Span) -> Parsed:
    return prepare(parser, span.read())
