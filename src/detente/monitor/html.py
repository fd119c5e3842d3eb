"""A self-contained HTML report: inline SVG charts and CSS, no external resource of any kind.

Charts: requests per minute over time with each incident's window shaded, origins by country (share of
requests) and top networks, per incident. Every text is escaped; the report carries the attribution
data's source, licence and date.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

W, H, PAD = 900, 220, 40
COLOURS = {
    "flood": "#d62728",
    "distributed-flood": "#ff7f0e",
    "scan": "#9467bd",
    "brute-force": "#8c564b",
    "credential-stuffing": "#e377c2",
}


def _t(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp()


def timeline_svg(points: list[list[Any]], incidents: list[dict[str, Any]]) -> str:
    """Requests per minute as a line, incident windows as shaded bands."""
    if not points:
        return "<p>No traffic.</p>"
    xs = [_t(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    x0, x1 = min(xs), max(xs) + 60
    top = max(ys) or 1.0

    def sx(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0) * (W - 2 * PAD)

    def sy(y: float) -> float:
        return H - PAD - y / top * (H - 2 * PAD)

    bands = "".join(
        f'<rect x="{sx(_t(i["start"])):.1f}" y="{PAD}" '
        f'width="{max(sx(_t(i["end"])) - sx(_t(i["start"])), 1):.1f}" height="{H - 2 * PAD}" '
        f'fill="{COLOURS.get(i["kind"], "#999")}" opacity="0.25"><title>{escape(i["kind"])} '
        f"{escape(i['start'])}</title></rect>"
        for i in incidents
    )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys, strict=True))
    labels = (
        f'<text x="{PAD}" y="{H - 10}">{escape(points[0][0])}</text>'
        f'<text x="{W - PAD}" y="{H - 10}" text-anchor="end">{escape(points[-1][0])}</text>'
        f'<text x="{PAD}" y="{PAD - 8}">{int(top):,} requests/min</text>'
    )
    return (
        f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="requests per minute">'
        f'{bands}<polyline fill="none" stroke="#1f77b4" stroke-width="1.2" points="{path}"/>'
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#444"/>{labels}</svg>'
    )


def bars_svg(rows: list[dict[str, Any]], label: str) -> str:
    """Horizontal bars of ``request_share`` per origin."""
    if not rows:
        return ""
    height = 22 * len(rows) + 10
    bars = []
    for i, r in enumerate(rows):
        width = max(r["request_share"] * 500, 1)
        name = escape(f"{r['key']} {r['name']}" if r["name"] != r["key"] else r["key"])
        y = 5 + 22 * i
        bars.append(
            f'<text x="0" y="{y + 14}">{name[:40]}</text>'
            f'<rect x="300" y="{y}" width="{width:.1f}" height="16" fill="#1f77b4"/>'
            f'<text x="{305 + width:.1f}" y="{y + 14}">{r["request_share"]:.1%}</text>'
        )
    return (
        f'<svg viewBox="0 0 900 {height}" width="100%" role="img" aria-label="{escape(label)}">'
        + "".join(bars)
        + "</svg>"
    )


def _incident(inc: dict[str, Any]) -> str:
    reasons = "".join(f"<li>{escape(r)}</li>" for r in inc["reasons"])
    prefixes = "".join(
        f"<tr><td>{escape(str(p['prefix']))}</td><td>{escape(str(p['country']))}</td>"
        f"<td>{p['requests']:,}</td><td>{p['sources']:,}</td></tr>"
        for p in inc["top_prefixes"]
    )
    return (
        f"<section><h2>{escape(inc['kind'])} on {escape(inc['asset'])}</h2>"
        f"<p>{escape(inc['start'])} to {escape(inc['end'])} UTC &middot; "
        f"{inc['requests']['total']:,} requests (peak {inc['requests']['peak_per_minute']:,}/min)"
        f" &middot; {inc['sources']['distinct']:,} sources</p><ul>{reasons}</ul>"
        f"<h3>Origins by country</h3>{bars_svg(inc['origins']['countries'], 'countries')}"
        f"<h3>Networks</h3>{bars_svg(inc['origins']['networks'], 'networks')}"
        f"<h3>Top prefixes</h3><table><tr><th>prefix</th><th>country</th><th>requests</th>"
        f"<th>sources</th></tr>{prefixes}</table>"
        f"<p class=dim>Evidence SHA-256: {escape(inc['evidence']['sha256'])}</p></section>"
    )


def report(doc: dict[str, Any]) -> str:
    """The whole report as one HTML string."""
    inp = doc["input"]
    charts = "".join(
        f"<h2>Requests per minute: {escape(asset)}</h2>"
        + timeline_svg(points, [i for i in doc["incidents"] if i["asset"] == asset])
        for asset, points in doc.get("timeline", {}).items()
    )
    body = "".join(_incident(i) for i in doc["incidents"]) or "<p>No incident.</p>"
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<title>detente monitor report</title><style>body{font:14px sans-serif;max-width:960px;"
        "margin:auto;padding:1em}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:"
        "1px solid #ddd}svg text{font:11px sans-serif}.dim{color:#666}</style>"
        f"<h1>Interference monitor report</h1><p>{inp['lines_read']:,} lines read, "
        f"{inp['lines_parsed']:,} parsed, {inp['lines_rejected']:,} rejected; "
        f"{len(doc['incidents'])} incident(s). Origins are territories and networks where the "
        "addresses are registered; no actor is named.</p>"
        f"{charts}{body}<p class=dim>Attribution data: {escape(doc['attribution']['note'])}</p>"
        "</html>\n"
    )
