"""How far an attack's origins stand from the traffic the site had just before it.

A distributed attack shows as a surge in sources, a concentration in some networks, or a shift in the
distribution of requests over territories and networks. The detectors trigger on persistence and
volume; this module measures the shift, so that a person deciding whether to sign a report can see
whether the attack came from where the site's visitors usually come from or from somewhere else.

Pure functions over per-source tables (``requests``, ``country``, ``asn``, as
:func:`.incidents.per_source` makes them). The divergence is Jensen-Shannon's, base 2: 0 when the two
distributions of requests are the same, 1 when they have no origin in common; it is symmetric and
always defined (unlike Kullback-Leibler's, it needs no smoothing for origins seen on one side only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

MIN_BEFORE = 100  # requests before the attack below which no comparison is made
RISE = 0.10  # an origin whose share rose by at least this much is named
MAX_RISING = 3


@dataclass(frozen=True)
class Rise:
    """An origin whose share of requests was higher in the attack than before it."""

    key: str
    name: str
    share_before: float
    share_during: float


@dataclass(frozen=True)
class Shift:
    """The attack's requests by origin against the site's requests in the minutes before it."""

    minutes_before: int
    requests_before: int
    territory_divergence: float
    network_divergence: float
    rising: list[Rise]


def distribution(table: pl.DataFrame, key: str) -> dict[str, float]:
    """Each ``key`` value's share of the table's requests (empty if there are none)."""
    grouped = table.group_by(key).agg(pl.col("requests").sum())
    total = int(grouped["requests"].sum())
    if not total:
        return {}
    return {str(k): int(r) / total for k, r in grouped.iter_rows()}


def js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence, base 2, of two distributions given as shares that sum to 1."""
    total = 0.0
    for key in p.keys() | q.keys():
        a, b = p.get(key, 0.0), q.get(key, 0.0)
        m = (a + b) / 2
        if a:
            total += a * math.log2(a / m)
        if b:
            total += b * math.log2(b / m)
    return min(max(total / 2, 0.0), 1.0)  # rounding can stray just outside [0, 1]


def rising(before: Mapping[str, float], during: Mapping[str, float], names: Mapping[str, str]) -> list[Rise]:
    """The origins whose share rose by at least :data:`RISE`, largest rise first (at most three)."""
    gains = sorted(
        ((during[k] - before.get(k, 0.0), k) for k in during), key=lambda gain: (-gain[0], gain[1])
    )
    return [
        Rise(k, names.get(k, k), round(before.get(k, 0.0), 4), round(during[k], 4))
        for gain, k in gains[:MAX_RISING]
        if gain >= RISE
    ]


def shift(
    attack: pl.DataFrame, before: pl.DataFrame, minutes: float, network_names: Mapping[str, str]
) -> Shift | None:
    """Compare the attack's per-source table with the one of the ``minutes`` before it.

    None when the site had fewer than :data:`MIN_BEFORE` requests before the attack: too little to
    say what its usual origins are.
    """
    requests_before = int(before["requests"].sum()) if before.height else 0
    if requests_before < MIN_BEFORE or not attack.height:
        return None
    countries = distribution(before, "country"), distribution(attack, "country")
    networks = distribution(before, "asn"), distribution(attack, "asn")
    return Shift(
        minutes_before=round(minutes),
        requests_before=requests_before,
        territory_divergence=round(js_divergence(*countries), 4),
        network_divergence=round(js_divergence(*networks), 4),
        rising=rising(*networks, network_names),
    )


def sentences(found: Shift | None) -> list[str]:
    """The shift in plain words, for the reasons of an incident."""
    if found is None:
        return ["Too little traffic before the attack to compare its origins with the usual ones."]
    out = [
        f"Against the site's {found.requests_before} requests in the {found.minutes_before} minute(s) "
        f"before it, the attack's requests by origin diverge by {found.network_divergence:.2f} by network "
        f"and {found.territory_divergence:.2f} by territory (Jensen-Shannon divergence; 0: the same "
        "shares, 1: no origin in common; an attack from few sources is concentrated, so it diverges)."
    ]
    out += [
        f"{_network(r)} carried {r.share_during:.0%} of the attack's requests against "
        f"{r.share_before:.0%} of the site's requests before it."
        for r in found.rising
    ]
    return out


def _network(rise: Rise) -> str:
    # by number only: the organisation behind an ASN is sometimes a private person, and the reasons are
    # prose a reviewer may quote in public (the organisation stays in ``rising[].name`` for the review)
    return "Addresses of no known network" if rise.key == "0" else f"AS{rise.key}"
