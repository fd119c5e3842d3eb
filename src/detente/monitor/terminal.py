"""The terminal summary (Rich): what was read, what was found, where it came from."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def summary(doc: dict[str, Any], console: Console) -> None:
    """Print an incident document as tables: input counts, incidents, largest origins."""
    inp = doc["input"]
    console.print(
        f"[bold]Read[/] {inp['lines_read']:,} lines: {inp['lines_parsed']:,} parsed, "
        f"{inp['lines_rejected']:,} rejected; log time {escape(str(inp['first']))} to "
        f"{escape(str(inp['last']))} (UTC)."
    )
    if inp.get("lines_late"):
        console.print(
            f"[yellow]{inp['lines_late']:,} requests were dated before what had already been analysed[/] "
            "(files out of date order?): counted, not analysed again."
        )
    if inp.get("lines_ahead"):
        console.print(
            f"[yellow]{inp['lines_ahead']:,} request(s) dated hours past where the log ended[/] "
            "(a clock set wrong?): counted and described in the evidence file, not analysed."
        )
    table = Table(title=f"{len(doc['incidents'])} incident(s)")
    for col in (
        "asset",
        "kind",
        "start (UTC)",
        "end (UTC)",
        "requests",
        "peak/min",
        "sources",
        "largest origin",
    ):
        table.add_column(col)
    for inc in doc["incidents"]:
        top = inc["origins"]["countries"][0] if inc["origins"]["countries"] else None
        origin = f"{escape(str(top['key']))} {top['request_share']:.0%}" if top else "-"
        table.add_row(  # a document read by `report` may come from elsewhere: no markup from it
            escape(str(inc["asset"])),
            escape(str(inc["kind"])),
            escape(str(inc["start"])),
            escape(str(inc["end"])),
            f"{inc['requests']['total']:,}",
            f"{inc['requests']['peak_per_minute']:,}",
            f"{inc['sources']['distinct']:,}",
            origin,
        )
    console.print(table)
    for inc in doc["incidents"]:
        kind, asset, start = (escape(str(inc[k])) for k in ("kind", "asset", "start"))
        console.print(f"[bold]{kind}[/] on {asset} from {start}:")
        for reason in inc["reasons"]:
            console.print(f"  - {escape(str(reason))}")
    console.print(f"[dim]Attribution data: {escape(str(doc['attribution']['note']))}[/]")
