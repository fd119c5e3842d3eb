"""The projection as JSON values, shared by the API and the web pages (pure: values in, values out).

Every function takes the registry (read under the service's lock by the caller) and returns plain JSON
values; times are RFC 3339 UTC to the second, as in the log.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from detente.accords.exchange import Exchange
from detente.accords.records import Act, Declaration, Incident, Protest
from detente.errors import MalformedError, NotFoundError
from detente.registry.core import Registry
from detente.statements.canonical import format_time
from detente.statements.keysets import Keyset


def act_json(act: Act) -> dict[str, Any]:
    """One logged act, as the timeline shows it."""
    return {
        "index": act.index,
        "received": format_time(act.received),
        "issued": act.issued,
        "kind": act.kind,
        "party": act.party,
        "counterparty": act.counterparty,
        "ref": act.ref,
        "sid": act.sid,
    }


def exchange_json(ex: Exchange) -> dict[str, Any]:
    """The state of one exchange."""
    return {
        "xid": ex.xid,
        "phase": ex.phase.value,
        "in_force": ex.in_force,
        "originator": ex.originator,
        "responder": ex.responder,
        "offer": ex.offer,
        "accept": ex.accept,
        "answers": ex.answers,
        "dated": ex.dated,
        "opened": format_time(ex.opened),
        "deadline": format_time(ex.deadline),
        "concluded": format_time(ex.concluded) if ex.concluded else None,
        "terms": ex.terms,
        "clauses": list(ex.clauses),
        "notice_days": ex.notice_days,
        "decision": ex.decision.value if ex.decision else None,
    }


def declaration_json(d: Declaration, now: datetime) -> dict[str, Any]:
    """One unilateral declaration."""
    return {
        "did": d.did,
        "party": d.party,
        "to": d.to,
        "clauses": list(d.clauses),
        "effective": format_time(d.effective),
        "notice_days": d.notice_days,
        "terminated": format_time(d.terminated) if d.terminated else None,
        "in_force": d.in_force(now),
        "sid": d.sid,
    }


def protest_json(p: Protest) -> dict[str, Any]:
    """One protest and whether it has a reply."""
    return {
        "pid": p.pid,
        "party": p.party,
        "to": p.to,
        "ref": p.ref,
        "clauses": list(p.clauses),
        "sid": p.sid,
        "reply": p.reply,
    }


def incident_json(i: Incident) -> dict[str, Any]:
    """One incident report (aggregates only; the evidence file stays with the parties)."""
    return {
        "iid": i.iid,
        "party": i.party,
        "to": i.to,
        "clauses": list(i.clauses),
        "evidence": i.evidence,
        "sid": i.sid,
        "reply": i.reply,
    }


def registry_json(registry: Registry) -> dict[str, Any]:
    """What a client needs: the notary's key id and public key, the log's size, the registry's clock.

    The notary's public key lets an auditor rebuild and check the projections (``detente audit
    --notary-key``); compare it with one obtained independently, as the log's key.
    """
    return {
        "notary": registry.notary_keyid(),
        "notary_key": registry.notary.public.b64,
        "size": registry.log.size,
        "now": format_time(registry.clock()),
    }


def keyset_json(k: Keyset) -> dict[str, Any]:
    """A keyset version: public keys and roles (thresholds)."""
    return {
        "party": k.party,
        "version": k.version,
        "previous": k.previous,
        "sid": k.sid,
        "keys": {kid: key.b64 for kid, key in sorted(k.keys.items())},
        "roles": {
            name: {"keys": sorted(role.keys), "threshold": role.threshold}
            for name, role in sorted(k.roles.items())
        },
    }


def party_json(registry: Registry, party: str) -> dict[str, Any]:
    """A party: its keyset in force and the log indexes of every version."""
    proj = registry.projection
    if party not in proj.keysets:
        raise NotFoundError(f"party {party} is not registered")
    return {
        "party": party,
        "keyset": keyset_json(proj.keysets[party]),
        "versions": [{"index": i, "version": k.version} for i, k in proj.keyset_history[party]],
    }


def exchange_detail(registry: Registry, xid: str) -> dict[str, Any]:
    """An exchange with its timeline (every act citing it, in log order)."""
    ex = registry.projection.exchanges.get(xid)
    if ex is None:
        raise NotFoundError(f"no exchange {xid} in the log")
    timeline = [act_json(a) for a in registry.projection.acts if a.ref == xid]
    countered_by = [x for x, other in registry.projection.exchanges.items() if other.answers == xid]
    return {**exchange_json(ex), "timeline": timeline, "countered_by": countered_by}


def letters(registry: Registry, ex: Exchange) -> list[dict[str, Any]]:
    """The two letters of an exchange, read from its terms blob (the words the parties agreed)."""
    blob = registry.blobs.get(ex.terms)
    if blob is None:
        return []
    try:
        value = json.loads(blob)
        found = [
            {
                "author": letter["author"],
                "addressee": letter["addressee"],
                "place": letter["place"],
                "date": letter["date"],
                "clauses": letter.get("clauses", []),
                "text": letter["text"],
            }
            for letter in value["letters"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedError(f"the terms blob of {ex.xid} is not a terms document") from exc
    return found


def between(registry: Registry, a: str, b: str, at: datetime) -> dict[str, Any]:
    """The state between two parties at a time: instruments and clauses in force, and the timeline.

    Raises:
        MalformedError: one party named as both (the API and the page answer 400, the CLI exits 65).
    """
    if a == b:
        raise MalformedError("name two different parties")
    proj = registry.projection
    return {
        "parties": [a, b],
        "at": format_time(at),
        "in_force": proj.in_force_between(a, b, at),
        "clauses": proj.clauses_in_force(a, b, at),
        "timeline": [act_json(act) for act in proj.timeline(a, b)],
    }


def concerning(registry: Registry, party: str, limit: int = 100) -> list[Act]:
    """The newest acts by or addressed to ``party`` (declarations to all, and their revocations,
    included), newest first."""
    found = [
        act
        for act in reversed(registry.projection.acts)
        if act.party == party
        or act.counterparty == party
        or (act.kind in ("declaration", "termination") and act.counterparty is None)
        or (act.kind == "decision" and _decision_concerns(registry, act, party))
    ]
    return found[:limit]


def _decision_concerns(registry: Registry, act: Act, party: str) -> bool:
    ex = registry.projection.exchanges.get(act.ref or "")
    return ex is not None and party in (ex.originator, ex.responder)


def matrix(registry: Registry, at: datetime) -> dict[str, Any]:
    """The instruments in force between every pair of registered parties."""
    parties = sorted(registry.projection.keysets)
    cells = {
        a: {b: registry.projection.in_force_between(a, b, at) if a != b else [] for b in parties}
        for a in parties
    }
    return {"parties": parties, "at": format_time(at), "in_force": cells}
