"""Output documents: the public incident JSON, the private evidence JSON, and CSV.

Schemas are versioned (:data:`detente.monitor.SCHEMA`); a reader must refuse a schema it does not know.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import EVIDENCE_SCHEMA, SCHEMA
from .attribution import Attribution, attribution_note
from .documents import read_document
from .incidents import iso
from .pipeline import ScanResult

GENERATOR = "detente-monitor/0.1.0"


def incident_document(result: ScanResult, geo: Attribution, now: datetime) -> dict[str, Any]:
    """The public summary: aggregates only, no address and no raw line."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "generator": GENERATOR,
        "generated": iso(now.astimezone(UTC)),
        "attribution": {"tables": geo.sources, "note": attribution_note(geo.sources)},
        "input": {
            "files": len(result.files),
            "lines_read": result.stats.read,
            "lines_parsed": result.stats.parsed,
            "lines_rejected": result.stats.rejected,
            "lines_late": result.late,
            "first": iso(result.first) if result.first else None,
            "last": iso(result.last) if result.last else None,
        },
        "assets": [
            {"name": a.name, "party": a.party, "kind": a.kind, "hosts": list(a.hosts)} for a in result.assets
        ],
        "incidents": [inc.to_json() for inc, _ in result.incidents],
        "timeline": {
            asset: [[iso(at), n] for at, n in sorted(line.items())] for asset, line in result.timeline.items()
        },
    }
    if result.ahead:  # added within version 1, only when a line was ahead: absent is none
        doc["input"] = {**doc["input"], "lines_ahead": result.ahead}
    return doc


def evidence_document(result: ScanResult, now: datetime) -> dict[str, Any]:
    """The private evidence: per incident, every source and a redacted sample of lines."""
    doc: dict[str, Any] = {
        "schema": EVIDENCE_SCHEMA,
        "generated": iso(now.astimezone(UTC)),
        "rejected_sample": result.stats.samples,
        "incidents": [
            {"incident": ev.incident, "sha256": ev.digest(), "sources": ev.sources, "sample": ev.sample}
            for _, ev in result.incidents
        ],
    }
    if result.ahead_sample:  # added within version 1, as ``lines_ahead``
        doc["ahead_sample"] = result.ahead_sample
    return doc


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write a document as indented UTF-8 JSON."""
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_incidents(path: Path) -> dict[str, Any]:
    """Read an incident document, refusing unknown schemas."""
    return read_document(path, SCHEMA)


CSV_FIELDS = (
    "id",
    "asset",
    "kind",
    "start",
    "end",
    "requests_total",
    "peak_per_minute",
    "sources",
    "top_country",
    "top_country_share",
    "top_asn",
    "evidence_sha256",
)


def incidents_csv(doc: dict[str, Any]) -> str:
    """One CSV row per incident, the largest origin of each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for inc in doc["incidents"]:
        countries = inc["origins"]["countries"]
        networks = inc["origins"]["networks"]
        writer.writerow(
            [
                inc["id"],
                inc["asset"],
                inc["kind"],
                inc["start"],
                inc["end"],
                inc["requests"]["total"],
                inc["requests"]["peak_per_minute"],
                inc["sources"]["distinct"],
                countries[0]["key"] if countries else "",
                countries[0]["request_share"] if countries else "",
                networks[0]["key"] if networks else "",
                inc["evidence"]["sha256"],
            ]
        )
    return out.getvalue()
