"""The terminal summary (Rich): what was read, what was found, where it came from."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def summary(doc: dict[str, Any], console: Console) -> None:
    """Print an incident document as tables: input counts, incidents, largest origins."""
    inp = doc["input"]
    console.print(
        f"[bold]Read[/] {inp['lines_read']:,} lines: {inp['lines_parsed']:,} parsed, "
        f"{inp['lines_rejected']:,} rejected; log time {inp['first']} to {inp['last']} (UTC)."
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
        origin = f"{top['key']} {top['request_share']:.0%}" if top else "-"
        table.add_row(
            inc["asset"],
            inc["kind"],
            inc["start"],
            inc["end"],
            f"{inc['requests']['total']:,}",
            f"{inc['requests']['peak_per_minute']:,}",
            f"{inc['sources']['distinct']:,}",
            origin,
        )
    console.print(table)
    for inc in doc["incidents"]:
        console.print(f"[bold]{inc['kind']}[/] on {inc['asset']} from {inc['start']}:")
        for reason in inc["reasons"]:
            console.print(f"  - {reason}")
    console.print(f"[dim]Attribution data: {doc['attribution']['note']}[/]")
