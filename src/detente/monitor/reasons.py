"""The detector's reasons, in plain words, for a person who must decide whether to sign."""

from __future__ import annotations

from datetime import timedelta

import polars as pl


def reasons(kind: str, table: pl.DataFrame, rows: pl.DataFrame, span: timedelta) -> list[str]:
    """Sentences that say what was seen; numbers only, no actor is named or implied."""
    minutes = max(span.total_seconds() / 60, 1 / 6)
    total = int(table["requests"].sum())
    n = table.height
    out = [f"{n} source(s) sent {total} requests in {minutes:.0f} minute(s) ({total / minutes:.0f}/min)."]
    top = table.head(1).row(0, named=True)
    if kind == "flood":
        out.append(
            f"The busiest source sent {top['requests']} requests, "
            "far above every ordinary visitor of this site."
        )
    elif kind == "distributed-flood":
        out.append(
            "Many sources each kept up a steady rate for minutes on end, unlike visitors, who come "
            "in bursts; site traffic rose far above its learned baseline."
        )
    elif kind == "scan":
        missing = int(rows["miss"].sum())
        probes = int(rows["probe"].sum())
        out.append(
            f"{missing} requests for distinct missing paths, and {probes} requests for known probe "
            "paths (configuration files, admin consoles; a probe that was missing counts in both), far "
            "above this site's normal rate."
        )
    else:
        fails = int(rows["fail"].sum())
        ok = int(rows["ok"].sum())
        out.append(
            f"{fails} failed and {ok} successful logins from these sources; "
            + (
                "few sources, many tries each (brute force)."
                if kind == "brute-force"
                else "many sources, few tries each (credential stuffing)."
            )
        )
    countries = table.group_by("country").agg(pl.col("requests").sum()).sort("requests", descending=True)
    lead = countries.row(0)
    out.append(
        f"Largest origin by territory: {lead[0]} ({lead[1] / max(total, 1):.0%} of requests). "
        "Territory is where the addresses are registered, not who controls them."
    )
    return out
