"""The stateful shell around the detector kernel: buffers, baselines, episodes, incidents.

Feed it aggregates (:func:`.aggregate.aggregate`) in any order within the lateness allowance and tell it
how far log time has surely advanced (``advance(watermark)``); it finalises the buckets before the
watermark, runs the kernel over them in time order and builds an incident for every episode that
closes, once the log has passed its trail (:data:`TRAIL`). Memory is bounded by the history window
(:data:`HISTORY`), the open buckets and the rows of open and trailing episodes, never by the length of
the log.

An incident depends on the log alone, not on where it was cut into chunks or files: each is built from
a window of its sources' rows fixed in log time (:meth:`Engine._build`), and the episodes keep, batch by
batch, every row such a window can need.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from . import detect
from .aggregate import (
    BUCKET_SECONDS,
    COUNTS,
    KEYS,
    SAMPLE,
    append,
    bucket_ms,
    bucket_range,
    moment,
    ms_of,
    pairs_seen,
    split_final,
    stacked,
)
from .assets import Asset
from .attribution import Attribution
from .detect import AssetState, Event
from .evidence import Evidence
from .features import (
    Tuning,
    flag,
    minute_totals,
    nearest_quantile,
    site_buckets,
    site_windows,
    source_features,
)
from .incidents import (
    FLAG,
    ISO_UTC,
    KIND_OF_FAMILY,
    METRIC,
    Incident,
    asn_names,
    busiest_per_source,
    incident_id,
    iso,
    per_source,
    prefixes,
    refine,
    sample_lines,
    shares,
)
from .parse import MAX_SAMPLES
from .reasons import reasons
from .redact import redacted_line
from .shift import Shift, sentences, shift

HISTORY = timedelta(minutes=30)
LONG = timedelta(seconds=300)
# an attributed source's rows count in its incident from this long before its first flagged bucket in
# the episode (a ramp is traced back from where it crossed the bar): always within the history kept
LOOKBACK = HISTORY - LONG
# ... and until this long after the episode's last triggering bucket (a slow attack's tail under the
# bar): the incident is built once the log has passed that time
TRAIL = timedelta(minutes=30)
# the heavy-rate bar is learned at each whole half hour of log time (UTC), from the half hour before
BAR_PERIOD = HISTORY


@dataclass
class OpenEpisode:
    """Rows kept for an open episode: the history of the batch it opened in, then every row of each
    source flagged in it so far (``suspects``; a source flagged for the first time brings its rows of
    the history too), so that its incident holds the same rows wherever the batches begin and end."""

    family: str
    asset: str
    start: datetime
    before: pl.DataFrame
    during: list[pl.DataFrame] = field(default_factory=list)
    suspects: pl.Series = field(default_factory=lambda: pl.Series("src", [], dtype=pl.String))

    @property
    def floor(self) -> datetime:
        """The earliest bucket its rows can hold (their samples are kept back to here)."""
        first = self.before["bucket"].min() if self.before.height else None
        return min(first, self.start) if isinstance(first, datetime) else self.start


_END = datetime.max.replace(tzinfo=UTC)  # after every bucket: what brings every row back


def _taken_off(rows: pl.DataFrame, twice: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with each key's ``miss`` less its ``twice`` (paths counted missing in two chunks)."""
    counted = rows.join(twice, on=KEYS, how="inner", nulls_equal=True).select(
        *KEYS, pl.col("miss") - pl.col("twice")
    )
    return rows.update(counted, on=list(KEYS))


@dataclass
class Engine:
    """Runs detection over aggregates for a set of assets."""

    assets: Sequence[Asset]
    geo: Attribution
    tuning: Tuning = field(default_factory=Tuning)
    bar: float = 0.0  # the heavy rate in force (requests a minute in 60 s; the floor until learned)
    pending: pl.DataFrame = field(default_factory=pl.DataFrame)
    missed: pl.DataFrame = field(default_factory=pl.DataFrame)  # the pending rows' missing paths
    # rows at or past the horizon when fed (lines dated far ahead), summed as ``pending`` is but apart
    # from it: among the pending rows they were summed again with every chunk (each chunk's first
    # bucket is before them). Back into ``pending`` once the horizon or a watermark passes them.
    beyond: pl.DataFrame = field(default_factory=pl.DataFrame)
    history: pl.DataFrame = field(default_factory=pl.DataFrame)
    site_tail: pl.DataFrame = field(default_factory=pl.DataFrame)
    states: dict[str, AssetState] = field(default_factory=dict)
    open: dict[tuple[str, str], OpenEpisode] = field(default_factory=dict)
    # closed episodes, in order of closing, with their last bucket: their rows are still gathered
    # until :data:`TRAIL` after it, then their incidents are built
    trailing: deque[tuple[tuple[str, str], OpenEpisode, datetime]] = field(default_factory=deque)
    incidents: list[tuple[Incident, Evidence]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    timeline: dict[str, dict[datetime, int]] = field(default_factory=dict)
    built: dict[tuple[str, str], tuple[OpenEpisode, datetime, tuple[Incident, Evidence]]] = field(
        default_factory=dict
    )
    samples: list[tuple[datetime, pl.DataFrame]] = field(default_factory=list)
    final_before: datetime | None = None  # buckets ending at or before this are final and detected
    late: int = 0  # requests that arrived for buckets already final: counted, not detected again

    def __post_init__(self) -> None:
        self.bar = self.tuning.flood_rpm_floor
        for a in self.assets:
            self.states[a.name] = detect.initial(a.expect.requests_per_minute)

    def feed(self, agg: pl.DataFrame, missed: pl.DataFrame, horizon: datetime | None = None) -> None:
        """Add aggregates of newly parsed lines, and their :func:`.aggregate.missed_pairs`.

        The sample request of each row is kept apart, in the order fed: detection never reads it, and
        the narrow rows are cheaper to carry through every window; only an incident's evidence joins
        its rows' samples back (the one :func:`.aggregate.merge` would keep: see :meth:`_sampled`).
        Rows at or past ``horizon`` (lines dated far ahead of the log) keep their samples apart, so that
        one such line does not keep its whole chunk's samples for the rest of the scan.
        """
        if self.final_before is not None and agg.height and self._any_late(agg, self.final_before):
            # lines older than what is already final (a log file out of date order, a very late
            # line): counting them again would double the timeline and re-open closed episodes
            on_time = (pl.col("bucket") + pl.duration(seconds=BUCKET_SECONDS)) > moment(self.final_before)
            self.late += int(agg.filter(~on_time)["n"].sum())
            agg, missed = agg.filter(on_time), missed.filter(on_time)
        if not agg.height:
            return
        last = agg["bucket"].max()
        assert isinstance(last, datetime)
        if horizon is not None and last >= horizon:
            far = pl.col("bucket") >= moment(horizon)
            self.samples.append((last, agg.filter(far)[[*KEYS, *SAMPLE]]))
            near = agg.filter(~far)["bucket"].max()
            if isinstance(near, datetime):
                self.samples.append((near, agg.filter(~far)[[*KEYS, *SAMPLE]]))
        else:
            # projections by name, not queries: no work, and a query would wait for the parser's threads
            self.samples.append((last, agg[[*KEYS, *SAMPLE]]))
        rows = agg[[*KEYS, *COUNTS]]
        if horizon is not None:
            self._bring_back(horizon)
            if last >= horizon:
                rows, ahead = split_final(rows, horizon)  # before the horizon, and at or past it
                self.beyond = append(self.beyond, ahead)
        self.pending = append(self.pending, rows)
        self._add_missed(missed)

    def _bring_back(self, before: datetime) -> None:
        """Move the rows of :attr:`beyond` dated before ``before`` into :attr:`pending`."""
        if not self.beyond.height:
            return
        first = self.beyond["bucket"].min()
        assert isinstance(first, datetime)
        if first < before:
            back, self.beyond = split_final(self.beyond, before)
            self.pending = append(self.pending, back)

    def _add_missed(self, missed: pl.DataFrame) -> None:
        """Add a chunk's :func:`.aggregate.missed_pairs`, each pending (key, path) kept once.

        Invariant: ``missed`` holds each pending key's missing paths once each, and the key's ``miss``
        is their number. A key whose lines fall in two chunks has its two counts of distinct paths
        summed by :func:`.aggregate.append`; a path missed in both chunks is then counted twice, and
        is taken off once here: so ``miss`` does not depend on where the log was cut. A pair seen
        before is found among the pending pairs alone (a few hundred, :func:`.aggregate.pairs_seen`);
        the pending rows are touched only when one is found.
        """
        if not missed.height:
            return
        if not self.missed.height:
            self.missed = missed
            return
        pair = [*KEYS, "path"]
        again = pairs_seen(missed, self.missed)
        if again.height:
            twice = again.group_by(KEYS).agg(pl.len().cast(pl.Int64).alias("twice"))
            self.pending = _taken_off(self.pending, twice)
            if self.beyond.height:
                self.beyond = _taken_off(self.beyond, twice)
            missed = missed.join(again, on=pair, how="anti", nulls_equal=True)
        self.missed = stacked([self.missed, missed])

    @staticmethod
    def _any_late(agg: pl.DataFrame, final_before: datetime) -> bool:
        """Whether any row's bucket ended at or before ``final_before`` (one minimum, not a filter)."""
        first = agg["bucket"].min()
        assert isinstance(first, datetime)
        return first + timedelta(seconds=BUCKET_SECONDS) <= final_before

    def advance(self, watermark: datetime) -> None:
        """Finalise and detect every bucket that ends at or before ``watermark``."""
        self._bring_back(watermark)
        final, self.pending = split_final(self.pending, watermark)
        self.missed = split_final(self.missed, watermark)[1]  # final rows meet no other
        if final.height:
            self._batch(final)
        if self.final_before is None or watermark > self.final_before:
            self.final_before = watermark

    def set_aside(self, buckets: npt.NDArray[np.int64]) -> tuple[int, list[str]]:
        """Take the pending rows of ``buckets`` (their starts in milliseconds) out of detection (lines
        dated far ahead of the log, which it never reached): their number of requests and the first of
        them, redacted as evidence lines are (by time, then source)."""
        self._bring_back(_END)
        if not self.pending.height or not buckets.size:
            return 0, []
        far = pl.Series(np.isin(bucket_ms(self.pending), buckets))
        rows = self.pending.filter(far)
        if not rows.height:
            return 0, []
        self.pending = self.pending.filter(~far)
        if self.missed.height:
            self.missed = self.missed.filter(~pl.Series(np.isin(bucket_ms(self.missed), buckets)))
        first = rows.sort(["bucket", "src", "asset"]).head(MAX_SAMPLES)
        picked = self._sampled(first).sort(["bucket", "src", "asset"])
        return int(rows["n"].sum()), [redacted_line(r) for r in picked.iter_rows(named=True)]

    def finish(self) -> list[tuple[Incident, Evidence]]:
        """End of input: finalise everything and close all episodes."""
        self._bring_back(_END)
        if self.pending.height:
            self._batch(self.pending)
            self.pending = self.pending.clear()
        for name, state in list(self.states.items()):
            self.states[name], events = detect.flush(state)
            self._events(name, events)
        self._build_trailed(None)
        return self.incidents

    def _bars(self, rows: pl.DataFrame) -> list[tuple[datetime, float]]:
        """The heavy rate each whole :data:`BAR_PERIOD` holding rows of ``rows`` would bring, were it learned.

        That is the floor, or the factor times the 99th percentile of the rate of sources under the
        floor over the half hour before (rows, not one small batch: a flood, even a slow ramp, cannot
        raise its own bar); with no such row, the bar in force.
        """
        t = self.tuning
        first, last = rows["bucket"].min(), rows["bucket"].max()
        assert isinstance(first, datetime)
        assert isinstance(last, datetime)
        step = int(BAR_PERIOD.total_seconds())
        at = datetime.fromtimestamp(-(-int(first.timestamp()) // step) * step, first.tzinfo)  # from ``first``
        if at > last:
            return []
        parts = [p for p in (self.history, rows) if p.height]  # no history yet: no columns either
        buckets = np.concatenate([bucket_ms(p) for p in parts])
        rates = np.concatenate([p["r60"].to_numpy() for p in parts])
        below = rates < t.flood_rpm_floor
        buckets, rates = buckets[below], rates[below]
        if np.any(buckets[1:] < buckets[:-1]):  # the history and the batch are each in bucket order
            order = np.argsort(buckets, kind="stable")
            buckets, rates = buckets[order], rates[order]
        # Only the half hours that hold rows of this batch: a half hour without any would start a segment
        # of no rows, and skipping it cuts the rows the same way. Walking every half hour instead let one
        # line dated in the year 9000 make a scan walk 122 million of them.
        step_ms, history_ms, first_ms = step * 1000, HISTORY // timedelta(milliseconds=1), ms_of(at)
        halves = bucket_ms(rows) // step_ms  # in bucket order, as the batch comes: no sort needed
        if np.any(halves[1:] < halves[:-1]):
            halves = np.sort(halves)
        wanted = halves[np.concatenate(([True], halves[1:] != halves[:-1]))] * step_ms
        bars = []
        for boundary in (int(b) for b in wanted[wanted >= first_ms]):
            # the rows of the HISTORY before the boundary (as bucket_range takes them)
            start, end = np.searchsorted(buckets, [boundary - history_ms, boundary], side="left")
            q = nearest_quantile(rates[start:end], 0.99)
            when = at + timedelta(milliseconds=boundary - first_ms)
            bars.append((when, self.bar if q is None else max(t.flood_rpm_floor, t.flood_factor * q)))
        return bars

    def _batch(self, final: pl.DataFrame) -> None:
        """Detect over final buckets: their features, then one segment at a time, the batch cut only
        where the heavy rate changes (at a whole :data:`BAR_PERIOD`, when no episode is open then).

        The bar is thus learned at fixed times of the log, and the kernel's state decides at each of
        them as it would in any other batching: the flags do not depend on where the chunks fall.
        """
        first = final["bucket"].min()
        assert isinstance(first, datetime)
        self._forget(first)
        self._forget_samples(first)
        tail = self._tail(first - LONG)
        both = source_features(stacked([tail, final]))
        feats = bucket_range(both, first)
        start = first
        for at, bar in self._bars(feats):
            if bar == self.bar:  # no change, frozen or not: no cut
                continue
            self._segment(bucket_range(feats, start, at))
            start = at
            if not self.open:  # frozen while an episode is open
                self.bar = bar
        self._segment(bucket_range(feats, start) if start > first else feats)

    def _segment(self, rows: pl.DataFrame) -> None:
        """Flag final buckets' rows with the bar in force, detect over them and build what is due."""
        if not rows.height:
            return
        first, through = rows["bucket"].min(), rows["bucket"].max()
        assert isinstance(first, datetime)
        assert isinstance(through, datetime)
        feats = flag(rows, self.bar, self.tuning)
        self._remember(feats)
        site = site_buckets(feats, [a.name for a in self.assets])
        self._note_timeline(site)
        windows = self._windows(site, first)
        # windows are sorted by asset: its parts come in that order (one split, no query per asset)
        for part in windows.partition_by("asset", maintain_order=True):
            self._run(part["asset"][0], part, feats)
        self._build_trailed(through)

    def _build_trailed(self, through: datetime | None) -> None:
        """Build, in order of closing, the incidents whose rows are all in (every one if ``None``)."""
        while self.trailing and (through is None or self.trailing[0][2] + TRAIL <= through):
            self._close(*self.trailing.popleft())

    def _forget(self, first: datetime) -> None:
        """Drop closed episodes that no later one can merge with (memory stays flat over long logs).

        An episode opened in this batch or later starts at ``first - HISTORY`` or after (its rows are
        the history it opened in), so it cannot overlap an incident that ended before then.
        """
        horizon = iso(first - HISTORY)
        self.built = {k: v for k, v in self.built.items() if v[2][0].end >= horizon}

    def _forget_samples(self, first: datetime) -> None:
        """Drop samples that no row of history, of an open episode or of a mergeable incident holds."""
        floors = [first - HISTORY - LONG]
        floors += [ep.floor for ep in self.open.values()]
        floors += [ep.floor for ep, _, _ in self.built.values()]
        floors += [ep.floor for _, ep, _ in self.trailing]
        horizon = min(floors)
        self.samples = [(last, frame) for last, frame in self.samples if last >= horizon]

    def _sampled(self, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` with the sample request of each: the most telling fed for its key, the first fed of
        them on a tie (so the choice is the one a single chunk would make: it does not depend on where
        the log was cut into chunks)."""
        kept = pl.concat([frame for _, frame in self.samples]).join(rows.select(KEYS), on=KEYS, how="semi")
        best = kept.sort("interest", descending=True, maintain_order=True)
        return rows.join(best.unique(KEYS, keep="first", maintain_order=True), on=KEYS, how="left")

    def _tail(self, since: datetime) -> pl.DataFrame:
        if not self.history.height:
            return self.history
        # the projection by name is no query, nor is the slice of rows in bucket order
        return bucket_range(self.history[self._base_columns()], since)

    def _base_columns(self) -> list[str]:
        return [c for c in self.history.columns if c not in _DERIVED]

    def _remember(self, feats: pl.DataFrame) -> None:
        """Keep the current batch and :data:`HISTORY` before it (an episode may open anywhere in it)."""
        first = feats["bucket"].min()
        assert isinstance(first, datetime)
        parts = [p for p in (self.history, feats) if p.height]
        self.history = stacked(parts)
        self.history = bucket_range(self.history, first - HISTORY, after=True)

    def _note_timeline(self, site: pl.DataFrame) -> None:
        for asset, at, n in minute_totals(site):
            line = self.timeline.setdefault(asset, {})
            line[at] = line.get(at, 0) + n

    def _windows(self, site: pl.DataFrame, first: datetime) -> pl.DataFrame:
        parts = [p for p in (self.site_tail, site) if p.height]
        combined = stacked(parts)  # site_windows sorts it
        # slices where the rows are in bucket order (one asset), else filters: the same rows
        self.site_tail = bucket_range(combined, first - timedelta(seconds=60), after=True)
        return bucket_range(site_windows(combined), first)

    def _run(self, name: str, windows: pl.DataFrame, feats: pl.DataFrame) -> None:
        state = self.states[name]
        t = self.tuning
        # episodes opened in this batch already hold it in ``before`` (history includes the batch)
        earlier = [ep for (asset, _), ep in self.open.items() if asset == name]
        trailing = [ep for (asset, _), ep, _ in self.trailing if asset == name]
        if earlier or trailing:
            mine = feats.filter(pl.col("asset") == name)
            for ep in earlier:
                self._keep(ep, mine)
            for ep in trailing:  # closed: its sources are known, its rows still come
                ep.during.append(mine.filter(pl.col("src").is_in(ep.suspects.implode())))
        # only what the kernel reads: a dict a bucket is built for every row
        for row in windows[["bucket", *detect.INPUTS]].iter_rows(named=True):
            state, events = detect.step(state, row["bucket"], row, t)
            if events:
                self.states[name] = state
                self._events(name, events)
        self.states[name] = state

    def _keep(self, ep: OpenEpisode, mine: pl.DataFrame) -> None:
        """Keep an open episode's rows of a batch (``mine``: the batch's rows of its asset)."""
        flagged = mine.filter(pl.col(FLAG[ep.family]))["src"].unique()
        new = flagged.filter(~flagged.is_in(ep.suspects.implode()))
        if new.len():
            ep.suspects = pl.concat([ep.suspects, new])
            first, held = mine["bucket"].min(), ep.before["bucket"].max()
            assert isinstance(first, datetime)
            assert isinstance(held, datetime)
            # their rows of the batches between the one it opened in (``before`` holds those) and this
            # one, from the history: it reaches :data:`LOOKBACK` before any bucket of this batch
            between = (pl.col("bucket") < moment(first)) & (pl.col("bucket") > moment(held))
            earlier = (pl.col("asset") == ep.asset) & pl.col("src").is_in(new.implode())
            ep.during.append(self.history.filter(earlier & between))
        ep.during.append(mine.filter(pl.col("src").is_in(ep.suspects.implode())))

    def _events(self, name: str, events: list[Event]) -> None:
        for ev in events:
            key = (name, ev.family)
            if ev.action == "open":
                before = self.history.filter(pl.col("asset") == name)
                flagged = pl.col(FLAG[ev.family]) & (pl.col("bucket") >= moment(ev.start))
                suspects = before.filter(flagged)["src"].unique()
                self.open[key] = OpenEpisode(ev.family, name, ev.start, before, suspects=suspects)
                self.alerts.append({"asset": name, "family": ev.family, "start": iso(ev.start)})
            elif key in self.open and ev.end is not None:
                self.trailing.append((key, self.open.pop(key), ev.end))

    def _close(self, key: tuple[str, str], episode: OpenEpisode, last: datetime) -> None:
        """Build the incident; a slow attack seen as two episodes that overlap becomes one."""
        built = self._build(episode, last)
        if built is None:
            return
        prev = self.built.get(key)
        if prev is not None and built[0].start <= prev[2][0].end and prev[2] in self.incidents:
            # each holds its own history, and the earlier one its trail: rows they share count once
            parts = [prev[0].before, *prev[0].during, episode.before, *episode.during]
            rows = pl.concat(parts, how="diagonal_relaxed").unique(KEYS, keep="first", maintain_order=True)
            merged = OpenEpisode(episode.family, episode.asset, prev[0].start, rows)
            again = self._build(merged, last)
            if again is not None:
                self.incidents.remove(prev[2])
                built, episode = again, merged
        self.built[key] = (episode, last, built)
        self.incidents.append(built)

    def _build(self, ep: OpenEpisode, last: datetime) -> tuple[Incident, Evidence] | None:
        """The incident of a closed episode, from its rows alone.

        Its sources are those flagged in it (for logins, those failing more than succeeding); its rows
        are every row of each of them from :data:`LOOKBACK` before the source's first flagged bucket
        to :data:`TRAIL` after the episode's last: rows that every batching of the log holds, so the
        incident does not depend on where the chunks fall.
        """
        flag = FLAG[ep.family]
        # only the columns an incident reads, taken from each part before they are put together (a
        # projection of a frame copies nothing; an episode of a large distributed attack holds many
        # rows, each with its window features: the peak memory of a scan is set here)
        parts = [p.select(*KEYS, *_INCIDENT_COUNTS, flag) for p in (ep.before, *ep.during)]
        episode = (pl.col("bucket") >= moment(ep.start)) & (pl.col("bucket") <= moment(last))
        # each flagged source's first flagged bucket (no row is in two parts: see :meth:`_keep`, and
        # :meth:`_close` for a merged episode)
        firsts = (
            pl.concat([p.lazy() for p in parts], how="diagonal_relaxed")
            .filter(pl.col(flag) & episode)
            .group_by("src")
            .agg(pl.col("bucket").min().alias("_first"), pl.col("fail").sum(), pl.col("ok").sum())
            .collect()
        )
        if ep.family == "login":
            firsts = firsts.filter(pl.col("fail") > pl.col("ok"))
        if not firsts.height:
            return None
        # the attributed sources' rows: the inner join keeps no other source's
        rows = (
            pl.concat([p.lazy() for p in parts], how="diagonal_relaxed")
            .join(firsts.lazy().select("src", "_first"), on="src", how="inner", maintain_order="left")
            .filter(
                (pl.col("bucket") > pl.col("_first") - pl.duration(seconds=LOOKBACK.total_seconds()))
                & (pl.col("bucket") <= moment(last + TRAIL))
            )
            .drop("_first", flag)
            .collect()
        )
        metric = METRIC[ep.family]
        value = pl.col(metric) + (pl.col("probe") if ep.family == "scan" else 0)
        series = rows.group_by("bucket").agg(value.sum().alias("v"))
        start, end = refine(series, ep.start, last)
        rows = rows.filter((pl.col("bucket") >= moment(start)) & (pl.col("bucket") < moment(end)))
        return self._incident(ep, rows, start, end)

    def _incident(
        self, ep: OpenEpisode, rows: pl.DataFrame, start: datetime, end: datetime
    ) -> tuple[Incident, Evidence] | None:
        asset = next(a for a in self.assets if a.name == ep.asset)
        table = per_source(rows, self.geo)
        total = int(table["requests"].sum())
        metric_total = int(rows[METRIC[ep.family]].sum()) + (
            int(rows["probe"].sum()) if ep.family == "scan" else 0
        )
        if metric_total < self.tuning.min_total or not table.height:
            return None
        few, many = KIND_OF_FAMILY[ep.family]
        kind = few if table.height <= self.tuning.few_sources else many
        per_minute = rows.group_by(pl.col("bucket").dt.truncate("1m")).agg(pl.col("n").sum())
        peak = int(per_minute["n"].cast(pl.Int64).max() or 0)  # type: ignore[arg-type]
        ident = incident_id(asset.name, kind, iso(start))
        evidence = Evidence(
            incident=ident,
            sources=_sources_json(table),
            sample=sample_lines(self._sampled(busiest_per_source(rows))),
        )
        names = asn_names(self.geo, table["asn"].unique().to_list())
        countries = shares(table, "country", {})
        networks = shares(table, "asn", names)
        found = self._shift(ep, table, start, names)
        incident = Incident(
            id=ident,
            asset=asset.name,
            party=asset.party,
            asset_kind=asset.kind,
            kind=kind,
            start=iso(start),
            end=iso(end),
            requests_total=total,
            requests_peak_per_minute=peak,
            sources_distinct=table.height,
            countries=countries,
            networks=networks,
            top_prefixes=prefixes(table),
            reasons=[*reasons(kind, table, rows, end - start), *sentences(found)],
            evidence_sha256=evidence.digest(),
            shift=found,
        )
        return incident, evidence

    def _shift(
        self, ep: OpenEpisode, table: pl.DataFrame, start: datetime, names: dict[str, str]
    ) -> Shift | None:
        """The attack's origins against every source's requests to the asset in the history before it."""
        # the history is taken from a fixed time before the episode, not from where its batch began
        since = moment(ep.start - LOOKBACK)
        window = (pl.col("bucket") > since) & (pl.col("bucket") < moment(start))
        before = ep.before.select(*KEYS, *_INCIDENT_COUNTS).filter(window)
        if not before.height:
            return None
        first = before["bucket"].min()
        assert isinstance(first, datetime)
        minutes = (start - first).total_seconds() / 60
        return shift(table, per_source(before, self.geo), minutes, names)


_INCIDENT_COUNTS = ("n", "fail", "ok", "miss", "probe")  # what an incident reads of its rows

_DERIVED = (
    "r60",
    "r300",
    "act300",
    "fail300",
    "ok300",
    "miss300",
    "probe300",
    "heavy",
    "persistent",
    "scanning",
    "failing",
)


def _sources_json(table: pl.DataFrame) -> list[dict[str, Any]]:
    """The evidence file's entry for each source of :func:`.incidents.per_source`'s table, in its order.

    Written by Polars column by column (an attack's thousands of sources, each with two times to write),
    then read out as dicts: the same JSON as one dict built per row.
    """
    return table.select(
        pl.col("src").alias("source"),
        "country",
        pl.col("asn").cast(pl.Int64, strict=False).fill_null(0).alias("asn"),
        pl.col("requests").cast(pl.Int64),
        pl.col("failed_logins").cast(pl.Int64),
        pl.col("missing_paths").cast(pl.Int64),
        pl.col("first").dt.strftime(ISO_UTC).alias("first_seen"),
        (pl.col("last") + pl.duration(seconds=BUCKET_SECONDS)).dt.strftime(ISO_UTC).alias("last_seen"),
    ).to_dicts()
