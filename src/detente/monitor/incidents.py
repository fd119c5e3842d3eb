"""Incidents: built from the rows of one closed episode, written as versioned JSON.

An :class:`Incident` is the public summary (aggregates only: counts, countries, networks, /24 and /48
prefixes, reasons) plus, kept apart, its :class:`.evidence.Evidence` (source addresses and redacted
sample lines), whose SHA-256 the summary carries so the counterparty can check what it receives.

Origins are territories and networks. The monitor never names an actor, and no field can hold one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from .addr import networks48
from .aggregate import BUCKET_SECONDS, moment
from .attribution import Attribution
from .redact import redacted_line
from .shift import Shift

KIND_OF_FAMILY = {
    "flood": ("flood", "distributed-flood"),
    "dflood": ("flood", "distributed-flood"),
    "login": ("brute-force", "credential-stuffing"),
    "scan": ("scan", "scan"),
}
METRIC = {"flood": "n", "dflood": "n", "login": "fail", "scan": "miss"}
FLAG = {"flood": "heavy", "dflood": "persistent", "login": "failing", "scan": "scanning"}


@dataclass(frozen=True)
class Share:
    """One origin (a country or a network): requests and sources, counts and shares."""

    key: str
    name: str
    requests: int
    request_share: float
    sources: int
    source_share: float


@dataclass(frozen=True)
class Incident:
    """The public summary of one detected attack on one asset."""

    id: str
    asset: str
    party: str
    asset_kind: str
    kind: str
    start: str
    end: str
    requests_total: int
    requests_peak_per_minute: int
    sources_distinct: int
    countries: list[Share]
    networks: list[Share]
    top_prefixes: list[dict[str, Any]]
    reasons: list[str]
    evidence_sha256: str
    shift: Shift | None = None

    def to_json(self) -> dict[str, Any]:
        """The incident as in the schema ``detente.monitor.incidents/1``."""
        doc = asdict(self)
        doc["requests"] = {
            "total": doc.pop("requests_total"),
            "peak_per_minute": doc.pop("requests_peak_per_minute"),
        }
        doc["sources"] = {"distinct": doc.pop("sources_distinct")}
        doc["origins"] = {"countries": doc.pop("countries"), "networks": doc.pop("networks")}
        doc["evidence"] = {"sha256": doc.pop("evidence_sha256")}
        return doc


def refine(series: pl.DataFrame, start: datetime, last: datetime) -> tuple[datetime, datetime]:
    """Attack start and end from the attributed sources' per-bucket metric ``v``.

    Start is the first bucket, in the run of activity (gaps under two minutes) around the episode,
    whose 60-second sum reaches a tenth of the peak; end is the last such bucket's end. A ramp over ten
    minutes is thus dated from where it leaves the noise, not from where it crossed the alarm bar.
    """
    if not series.height:
        return start, last + timedelta(seconds=BUCKET_SECONDS)
    full = series.sort("bucket").upsample("bucket", every=f"{BUCKET_SECONDS}s").fill_null(0)
    full = full.with_columns(pl.col("v").rolling_sum(6, min_samples=1).alias("w"))
    peak = float(full["w"].cast(pl.Float64).max() or 0.0)  # type: ignore[arg-type]
    active = full.filter(pl.col("w") >= max(peak * 0.1, 1.0))["bucket"].to_list()
    runs: list[list[datetime]] = []
    for b in active:
        if runs and (b - runs[-1][-1]).total_seconds() < 120:
            runs[-1].append(b)
        else:
            runs.append([b])
    hit = [r for r in runs if r[0] <= last and r[-1] >= start] or runs
    lo, hi = hit[0][0], hit[-1][-1]
    # the 60 s window reaches the bar up to a minute after the first request of the run
    first = full.filter(
        (pl.col("bucket") <= moment(lo)) & (pl.col("bucket") > moment(lo - timedelta(seconds=60)))
    )
    first = first.filter(pl.col("v") > 0)
    lo = first["bucket"].min() if first.height else lo  # type: ignore[assignment]
    return lo, hi + timedelta(seconds=BUCKET_SECONDS)


def shares(table: pl.DataFrame, key: str, names: dict[str, str], limit: int = 10) -> list[Share]:
    """Requests and distinct sources per ``key`` (country or ASN), largest first."""
    total_r = int(table["requests"].sum())
    total_s = table.height
    grouped = (
        table.group_by(key)
        .agg(pl.col("requests").sum(), pl.len().alias("sources"))
        .sort(["requests", key], descending=[True, False])
        .head(limit)
    )
    return [
        Share(
            key=str(k),
            name=names.get(str(k), str(k)),
            requests=int(r),
            request_share=round(r / total_r, 4) if total_r else 0.0,
            sources=int(s),
            source_share=round(s / total_s, 4) if total_s else 0.0,
        )
        for k, r, s in grouped.iter_rows()
    ]


def per_source(rows: pl.DataFrame, geo: Attribution) -> pl.DataFrame:
    """One row per source: requests, failures, misses, first and last bucket, country and ASN."""
    table = rows.group_by("src").agg(
        pl.col("n").sum().alias("requests"),
        pl.col("fail").sum().alias("failed_logins"),
        pl.col("miss").sum().alias("missing_paths"),
        pl.col("bucket").min().alias("first"),
        pl.col("bucket").max().alias("last"),
    )
    return table.with_columns(*geo.attribute(table["src"])).sort(
        ["requests", "src"], descending=[True, False]
    )


def busiest_per_source(rows: pl.DataFrame) -> pl.DataFrame:
    """Each source's busiest row: the rows whose samples :func:`sample_lines` may show.

    Picking again from the picked rows gives them back, so samples may be joined to these alone.
    """
    # only a row at its source's largest ``n`` (never null: a count) can be picked, and dropping the
    # others keeps the order of the rest: the sort, by a string among its keys, then sees far fewer rows
    top = rows.filter(pl.col("n") == pl.col("n").max().over("src"))
    # a total order (a row's key is its asset, bucket and source): ties on ``n`` (common) must not leave
    # the choice, and so the digest, to chance
    order = top.sort(["n", "src", "bucket", "asset"], descending=[True, False, False, False])
    return order.unique("src", keep="first", maintain_order=True)


def sample_lines(rows: pl.DataFrame, limit: int = 40) -> list[str]:
    """Redacted request lines (:func:`.redact.redacted_line`), rebuilt in combined format from the
    sample of each source and bucket."""
    picked = busiest_per_source(rows).sort(["ts", "src"]).head(limit)
    return [redacted_line(r) for r in picked.iter_rows(named=True)]


def prefixes(table: pl.DataFrame, limit: int = 10) -> list[dict[str, Any]]:
    """Top /24 (IPv4) and /48 (IPv6) networks by requests: the public stand-in for addresses."""
    src = pl.col("src")
    is6 = src.str.contains(":", literal=True)
    six = networks48(table.filter(is6)["src"].unique())
    v4 = src.str.replace(r"\.\d+$", ".0/24")  # IPv4 keys are dotted quads already checked
    v6 = src.replace_strict(six, default=None, return_dtype=pl.String) if six else pl.lit(None, pl.String)
    nets = table.with_columns(pl.when(is6).then(v6).otherwise(v4).alias("prefix"))
    grouped = (
        nets.group_by("prefix")
        .agg(pl.col("requests").sum(), pl.len().alias("sources"), pl.col("country").first())
        .sort(["requests", "prefix"], descending=[True, False])
        .head(limit)
    )
    return [dict(zip(grouped.columns, row, strict=True)) for row in grouped.iter_rows()]


def incident_id(asset: str, kind: str, start: str) -> str:
    """Stable id: the same log gives the same ids."""
    return hashlib.sha256(f"{asset}|{kind}|{start}".encode()).hexdigest()[:16]


def asn_names(geo: Attribution, keys: Sequence[str]) -> dict[str, str]:
    """Organisation names of ASNs given as strings (``"0"`` is unknown)."""
    numbers = [int(k) if k.isdigit() else 0 for k in keys]
    return dict(zip(keys, geo.org_names(numbers), strict=True))


ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"  # RFC 3339 in UTC, to the second: every time the monitor writes


def iso(ts: datetime) -> str:
    """RFC 3339 UTC of an aware or UTC-naive datetime."""
    return ts.strftime(ISO_UTC)
