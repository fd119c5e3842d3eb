"""The monitor's incident JSON (``detente.monitor.incidents/1``, docs/formats-incident.md) into signed
``incident`` statements, one per origin state, citing the clauses in force between the two parties.

Only the aggregates and the SHA-256 of the evidence go into the public statement; the evidence itself
is handed to the counterparty, which checks it against the digest. The origin is a territory; the
``attributed_actor`` field is always null, because the monitor never names an actor. Networks are named
by number only: the organisation a registry holds for an ASN is sometimes a private person ("Mr ...",
"... trading as ..."), and a signed statement is permanent, so each network's ``name`` is empty
(docs/formats.md, section 3; the organisation stays in the party's own ``incidents.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from detente.accords.acts import Authority
from detente.accords.projection import Projection
from detente.errors import MalformedError, VerificationError
from detente.monitor import EVIDENCE_SCHEMA, SCHEMA
from detente.monitor.evidence import Evidence
from detente.statements.canonical import format_time
from detente.statements.statement import Statement


def _origins(incident: dict[str, Any], reporter: str) -> list[dict[str, Any]]:
    countries = incident.get("origins", {}).get("countries", [])
    return [c for c in countries if isinstance(c, dict) and c.get("key") not in ("unknown", reporter, None)]


def _networks(incident: dict[str, Any]) -> list[dict[str, Any]]:
    """The incident's networks by ASN: never the organisation's name, which may be a person's."""
    nets = incident.get("origins", {}).get("networks", [])[:10]
    return [{"asn": int(n["key"]), "name": "", "requests": int(n["requests"])} for n in nets]


def incident_statements(
    document: dict[str, Any],
    approved: Iterable[str] | None,
    by: Authority,
    projection: Projection,
    now: datetime,
    random: Callable[[int], bytes],
) -> list[Statement]:
    """Sign one statement per origin state of each approved incident (``approved=None``: all).

    Raises:
        MalformedError: the document is not a monitor incidents document this version can read.
    """
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise MalformedError(f"not a {SCHEMA} document")
    incidents = document.get("incidents", [])
    if not isinstance(incidents, list) or not all(isinstance(i, dict) for i in incidents):
        raise MalformedError("the document's incidents must be a list of objects")
    ids = [str(i.get("id")) for i in incidents]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise MalformedError(f"incident {twice[0]} appears twice in the document; nothing was signed")
    wanted = None if approved is None else set(approved)
    unknown = sorted((wanted or set()) - set(ids))
    if unknown:
        raise MalformedError(f"no incident {unknown[0]} in the document (a mistyped id?); nothing was signed")
    out = []
    for incident in incidents:
        if wanted is not None and incident.get("id") not in wanted:
            continue
        if incident.get("party") != by.party:
            raise MalformedError(
                f"incident {incident.get('id')} protects {incident.get('party')}, not {by.party}"
            )
        try:
            out += [
                _statement(incident, o, by, projection, now, random) for o in _origins(incident, by.party)
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a document edited by hand
            raise MalformedError(
                f"incident {incident.get('id')} cannot be read ({type(exc).__name__}: {exc})"
            ) from None
    return out


def _statement(
    incident: dict[str, Any], origin: dict[str, Any], by: Authority, projection: Projection, now: datetime,
    random: Callable[[int], bytes],
) -> Statement:  # fmt: skip
    country = str(origin["key"])
    body = {
        "iid": random(16).hex(),
        "to": country,
        "monitor_id": incident["id"],
        "asset": {"name": incident["asset"], "kind": incident["asset_kind"]},
        "attack": incident["kind"],
        "start": incident["start"],
        "end": incident["end"],
        "requests": int(incident["requests"]["total"]),
        "peak_per_minute": int(incident["requests"]["peak_per_minute"]),
        "sources": int(incident["sources"]["distinct"]),
        "origin": {
            "country": country,
            "requests": int(origin["requests"]),
            "sources": int(origin["sources"]),
        },
        "networks": _networks(incident),
        "clauses": projection.clauses_in_force(by.party, country, now),
        "evidence": incident["evidence"]["sha256"],
        "attributed_actor": None,
    }
    return by.sign("incident", format_time(now), body)


def check_evidence(incident: Statement, evidence_document: Any) -> dict[str, Any]:
    """Find the entry of the monitor's evidence file whose digest the public ``incident`` carries.

    The digest is recomputed from the entry itself (``detente.monitor.evidence.Evidence.digest``), so an
    evidence file edited after the report was signed matches nothing.

    Returns:
        The matching evidence entry (sources and redacted sample lines).

    Raises:
        MalformedError: the statement is not an incident or the file is not a monitor evidence file.
        VerificationError: no entry of the file hashes to the digest in the signed statement.
    """
    if incident.kind != "incident":
        raise MalformedError(f"statement {incident.sid[:16]}... is a {incident.kind}, not an incident")
    if not isinstance(evidence_document, dict) or evidence_document.get("schema") != EVIDENCE_SCHEMA:
        raise MalformedError(f"the evidence file is not a {EVIDENCE_SCHEMA} document")
    want = incident.body["evidence"]
    entries = evidence_document.get("incidents", [])
    if not isinstance(entries, list):
        raise MalformedError("the evidence file's incidents must be a list")
    for entry in entries:
        try:
            found = Evidence(str(entry["incident"]), list(entry["sources"]), list(entry["sample"]))
            digest = found.digest()
        except (KeyError, TypeError, ValueError) as exc:  # missing fields, wrong types, unencodable text
            raise MalformedError(f"an evidence entry cannot be read ({type(exc).__name__}: {exc})") from None
        if digest == want:
            return dict(entry)
    raise VerificationError(
        f"no entry of the evidence file hashes to {want[:16]}..., the digest {incident.party} signed"
    )
