"""The baseline the detectors are scored beside: a plain per-address rate limit (fail2ban-like).

A source is reported when, in any minute, it exceeds ``rpm`` requests (flood), ``fails`` failed logins
in ten minutes (brute force) or ``misses`` missing pages in ten minutes (scan). Each reported source
becomes one incident spanning its offending minutes, in the same documents as the monitor's, so the
scorer treats both alike. It knows nothing of baselines, networks or distributed attacks, on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from . import EVIDENCE_SCHEMA, SCHEMA
from .incidents import incident_id, iso


def rate_limit(
    frame: pl.DataFrame,
    login_paths: Sequence[str] = ("/login",),
    rpm: int = 120,
    fails: int = 10,
    misses: int = 20,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the rate limit over a normalised frame; return (incident document, evidence document)."""
    minute = frame.with_columns(
        pl.col("ts").dt.truncate("1m").alias("m"),
        (pl.col("path").is_in(list(login_paths)) & (pl.col("status") == 401)).alias("f"),
        (pl.col("status") == 404).alias("x"),
    )
    per = minute.group_by("src", "m").agg(pl.len().alias("n"), pl.col("f").sum(), pl.col("x").sum())
    per = per.sort("src", "m").with_columns(
        pl.col("f").rolling_sum_by("m", window_size="10m").over("src").alias("f10"),
        pl.col("x").rolling_sum_by("m", window_size="10m").over("src").alias("x10"),
    )
    incidents: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    for kind, cond in (
        ("flood", pl.col("n") > rpm),
        ("brute-force", pl.col("f10") >= fails),
        ("scan", pl.col("x10") >= misses),
    ):
        hits = (
            per.filter(cond).group_by("src").agg(pl.col("m").min().alias("a"), pl.col("m").max().alias("b"))
        )
        for src, a, b in hits.sort("a", "src").iter_rows():
            ident = incident_id(str(src), kind, iso(a))
            incidents.append(
                {
                    "id": ident,
                    "kind": kind,
                    "start": iso(a),
                    "end": iso(b + timedelta(minutes=1)),
                    "source": src,
                }
            )
            evidence.append({"incident": ident, "sources": [{"source": src}], "sample": []})
    return {"schema": SCHEMA, "incidents": incidents}, {"schema": EVIDENCE_SCHEMA, "incidents": evidence}
