"""Pages of the registry: home (parties, the matrix in force, the checkpoint), parties, exchanges with
their letters, declarations, protests and incidents. Server-rendered and readable without JavaScript.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from detente.errors import DetenteError
from detente.registry import views
from detente.registry.bundle import MAX_BUNDLE
from detente.registry.core import Registry
from detente.registry.entry import MAX_ENTRY, LogEntry
from detente.service.core import RegistryService
from detente.statements.canonical import format_time
from detente.statements.dsse import MAX_SIGNATURES
from detente.statements.kinds import KINDS, header_schema, payload_type
from detente.statements.schema import PATTERN_MESSAGES, TIME
from detente.statements.statement import MAX_PAYLOAD
from detente.tlog.note import split_note
from detente.web.render import page

Party = Annotated[str, Path(pattern=r"^[A-Z]{2}$")]
Id = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
CLAIMS_FOR_PHASE = {"concluded": "concluded", "resolved": "concluded", "refused": "refused"}


def summarize(entry: bytes) -> str:
    """A one-line summary of a log entry for the log pages: who did what, to whom."""
    try:
        st = LogEntry.decode(entry).statement
    except DetenteError:  # a summary never breaks a page; the entry page shows the bytes
        return "(not a statement)"
    to = st.body.get("to")
    ref = st.body.get("xid") or st.body.get("did") or st.body.get("pid") or st.body.get("iid") or ""
    outcome = f" {st.body['outcome']}" if st.kind == "decision" else ""
    return f"{st.party} {st.kind}{outcome}{f' to {to}' if to else ''} {ref}".strip()


def bundle_rules() -> dict[str, Any]:
    """The rules by which ``detente verify`` reads a bundle's statements and entries, for the verify page's
    verifier (static/bundle.js): the size limits, the time pattern, and each payloadType's payload schema
    (docs/formats.md prints the same). Taken from the code itself, so the browser's copy cannot drift."""
    return {
        "maxBundle": MAX_BUNDLE,
        "maxEntry": MAX_ENTRY,
        "maxPayload": MAX_PAYLOAD,
        "maxSignatures": MAX_SIGNATURES,
        "time": TIME,
        "patternMessages": PATTERN_MESSAGES,
        "payloads": {payload_type(kind): header_schema(kind) for kind in KINDS},
    }


def _checkpoint_view(note: str) -> dict[str, Any]:
    text, sigs = split_note(note)
    lines = text.splitlines()
    return {"origin": lines[0], "size": int(lines[1]), "signers": [s.name for s in sigs], "note": note}


def _home(reg: Registry, service: RegistryService) -> dict[str, Any]:
    now = reg.clock()
    proj = reg.projection
    return {
        "matrix": views.matrix(reg, now),
        "parties": [views.party_json(reg, p) for p in sorted(proj.keysets)],
        "recent": [views.act_json(a) for a in reversed(proj.acts[-12:])],
        "exchanges": [views.exchange_json(e) for e in proj.exchanges.values()],
        "now": format_time(now),
    }


def _letters_html(letter: dict[str, Any]) -> list[str]:
    """The paragraphs of a letter's agreed text (escaped by the template)."""
    return [p for p in str(letter["text"]).split("\n\n") if p.strip()]


def registry_pages(service: RegistryService) -> APIRouter:
    """The registry's pages."""
    router = APIRouter(include_in_schema=False)
    read = service.read

    @router.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        ctx = read(lambda reg: _home(reg, service))
        checkpoint = _checkpoint_view(service.shared.checkpoint())
        return page("home.html", checkpoint=checkpoint, problems=service.witness_problems(), **ctx)

    @router.get("/parties/{party}", response_class=HTMLResponse)
    def party(party: Party) -> HTMLResponse:
        def get(reg: Registry) -> HTMLResponse:
            info = views.party_json(reg, party)
            acts = [views.act_json(a) for a in views.concerning(reg, party)]
            others = [p for p in sorted(reg.projection.keysets) if p != party]
            return page("party.html", party=info, acts=acts, others=others)

        return read(get)

    @router.get("/exchanges/{xid}", response_class=HTMLResponse)
    def exchange(xid: Id) -> HTMLResponse:
        def get(reg: Registry) -> HTMLResponse:
            detail = views.exchange_detail(reg, xid)
            found = views.letters(reg, reg.projection.exchanges[xid])
            letters = [{**letter, "paragraphs": _letters_html(letter)} for letter in found]
            claims = ["offered"] + ([c] if (c := CLAIMS_FOR_PHASE.get(detail["phase"])) else [])
            return page("exchange.html", ex=detail, letters=letters, claims=claims)

        return read(get)

    @router.get("/between/{a}/{b}", response_class=HTMLResponse)
    def between(a: Party, b: Party) -> HTMLResponse:
        return read(lambda reg: page("between.html", state=views.between(reg, a, b, reg.clock())))

    @router.get("/declarations", response_class=HTMLResponse)
    def declarations() -> HTMLResponse:
        def get(reg: Registry) -> HTMLResponse:
            now = reg.clock()
            rows = [views.declaration_json(d, now) for d in reg.projection.declarations.values()]
            return page("declarations.html", rows=rows, texts=_texts(reg, "declaration"))

        return read(get)

    @router.get("/protests", response_class=HTMLResponse)
    def protests() -> HTMLResponse:
        def get(reg: Registry) -> HTMLResponse:
            rows = [views.protest_json(p) for p in reg.projection.protests.values()]
            return page("protests.html", rows=rows, texts=_texts(reg, "protest", "reply"))

        return read(get)

    @router.get("/incidents", response_class=HTMLResponse)
    def incidents() -> HTMLResponse:
        def get(reg: Registry) -> HTMLResponse:
            rows = [views.incident_json(i) for i in reg.projection.incidents.values()]
            return page("incidents.html", rows=rows, texts=_texts(reg, "incident", "incident-reply"))

        return read(get)

    return router


def _texts(reg: Registry, *kinds: str) -> dict[str, dict[str, Any]]:
    """Per statement id of the given kinds: its summary, position and text (from its blob, if any)."""
    sids = [a.sid for a in reg.projection.acts if a.kind in kinds]
    out: dict[str, dict[str, Any]] = {}
    for index, entry in reg.statements_by_sid(sids):
        body = entry.statement.body
        digest = body.get("text")
        blob = reg.blobs.get(digest) if isinstance(digest, str) else None
        out[entry.statement.sid] = {
            "index": index,
            "issued": entry.statement.issued,
            "received": format_time(entry.received),
            "summary": body.get("summary", ""),
            "position": body.get("position"),
            "text": blob.decode("utf-8", errors="replace") if blob is not None else None,
            "body": json.dumps(dict(body), indent=2, ensure_ascii=False),
            "chart": incident_chart(body) if entry.statement.kind == "incident" else None,
        }
    return out


def incident_chart(body: Any) -> dict[str, Any]:
    """Bars for an incident's chart: the origin's and each network's share of the requests (percent)."""
    total = max(int(body["requests"]), 1)
    origin = body["origin"]
    bars = [(f"from {origin['country']} (all networks)", int(origin["requests"]))]
    bars += [(f"AS{n['asn']} {n['name']}"[:60], int(n["requests"])) for n in body["networks"]]
    return {
        "asset": body["asset"]["name"],
        "attack": body["attack"],
        "start": body["start"],
        "end": body["end"],
        "requests": int(body["requests"]),
        "peak": int(body["peak_per_minute"]),
        "sources": int(body["sources"]),
        "bars": [{"label": label, "requests": n, "pct": round(100 * n / total, 1)} for label, n in bars],
    }
