"""An Atom feed (RFC 4287) of the statements concerning a party, so an addressee learns of an offer early.

Built by hand from escaped strings (no XML parser is fed untrusted input); each entry links to the log
entry page, whose proof anyone can check.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from detente.accords.records import Act
from detente.statements.canonical import format_time

ATOM = "application/atom+xml"


def _title(act: Act) -> str:
    to = f" to {act.counterparty}" if act.counterparty else ""
    ref = f" ({act.ref})" if act.ref else ""
    return f"{act.party}: {act.kind}{to}{ref}"


def atom_feed(base: str, party: str, acts: list[Act], origin: str) -> str:
    """The feed document for ``party``: ``acts`` newest first."""
    updated = format_time(acts[0].received) if acts else "1970-01-01T00:00:00Z"
    self_url = f"{base}/v1/parties/{party}/feed.atom"
    entries = "".join(
        f"<entry><id>urn:detente:statement:{a.sid}</id><title>{escape(_title(a))}</title>"
        f"<updated>{format_time(a.received)}</updated>"
        f'<link rel="alternate" type="text/html" href={quoteattr(f"{base}/log/entry?index={a.index}")}/>'
        f"<summary>{escape(_title(a))}; issued {escape(a.issued)}; log entry {a.index}</summary>"
        f"<author><name>{escape(a.party)}</name></author></entry>"
        for a in acts
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:detente:{escape(origin)}:party:{party}</id>"
        f"<title>Statements concerning {party} in {escape(origin)}</title>"
        f"<updated>{updated}</updated>"
        f'<link rel="self" type="{ATOM}" href={quoteattr(self_url)}/>'
        f"{entries}</feed>\n"
    )
