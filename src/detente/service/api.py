"""The registry's JSON API: submit a statement, read what the log says.

Writes are authenticated by the statements' own signatures (checked by the registry inside the single
writer); there are no passwords. A submission waits for its batch to be integrated, at most
``Settings.wait`` seconds: then it answers 201 with the entry's index, the reception time, the notary's
decision if it asked for one, and an inclusion proof against a signed checkpoint; past the wait it
answers 202 with the statement id to look up later (``GET /v1/statements/{sid}``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from detente.errors import MalformedError, NotFoundError
from detente.http.media import JSON_ONLY, NOT_JSON
from detente.http.params import At, Int
from detente.registry import views
from detente.registry.bundle import build_bundle
from detente.registry.claims import CLAIM_TYPES
from detente.registry.core import Receipt, Registry, Request
from detente.service.core import RecentRefusals, RegistryService
from detente.statements.canonical import b64d, b64e, format_time, parse_time, sha256_hex
from detente.statements.dsse import Envelope
from detente.tlog.proof import format_tlog_proof

V = TypeVar("V")

PARTY = r"^[A-Z]{2}$"
ID = r"^[0-9a-f]{32}$"
HASH = r"^[0-9a-f]{64}$"
IMMUTABLE = "public, max-age=31536000, immutable"
Party = Annotated[str, Path(pattern=PARTY, description="ISO 3166-1 alpha-2 code (or a reserved code)")]
Id = Annotated[str, Path(pattern=ID, description="32 lower-case hex digits")]
Hash = Annotated[str, Path(pattern=HASH, description="SHA-256, 64 lower-case hex digits")]
MAX_BLOBS = 16


class Submission(BaseModel):
    """A statement to log: its DSSE envelope and the blobs it cites (base64).

    Closed, as the statements are: an unknown field is refused (422, naming it), so that a misspelling
    (``blob`` for ``blobs``) is told as one, not as a blob missing from the submission.
    """

    model_config = ConfigDict(extra="forbid")
    envelope: dict[str, Any] = Field(description="The DSSE envelope as JSON (docs/formats.md, 2.1)")
    blobs: list[str] = Field(default=[], max_length=MAX_BLOBS, description="Cited blobs, base64")


class Logged(BaseModel):
    """A statement in the log, with a proof that it is there."""

    status: str = Field(description="'integrated'")
    sid: str
    index: int
    kind: str
    party: str
    received: str = Field(description="When the registry received the statement (RFC 3339 UTC)")
    decision: str | None = Field(description="The notary's decision, for an abort or resolve")
    checkpoint: str = Field(description="The signed checkpoint the proof is against")
    tlog_proof: str = Field(description="C2SP tlog-proof@v1 of the entry")
    entry: str = Field(description="The log entry bytes, base64")


class Pending(BaseModel):
    """A submission still waiting for its batch: look it up by its statement id."""

    status: str = Field(description="'pending'")
    sid: str
    location: str


def pending(sid: str) -> JSONResponse:
    """202: the statement is queued but its batch took longer than the service waits; ask by ``sid``."""
    answer = Pending(status="pending", sid=sid, location=f"/v1/statements/{sid}")
    return JSONResponse(answer.model_dump(), status_code=202, headers={"Location": answer.location})


def logged(registry: Registry, index: int, decision: str | None = None) -> Logged:
    """The answer for the entry at ``index``, proven against the newest checkpoint."""
    log = registry.log
    data = log.entries(index, index + 1)[0]
    entry = registry.entry(index)
    note = log.signed_checkpoint
    proof = format_tlog_proof(index, log.inclusion_proof(index, log.size), note)
    st = entry.statement
    if decision is None and st.kind in ("abort", "resolve"):
        decision = _decision_after(registry, index)
    return Logged(
        status="integrated", sid=st.sid, index=index, kind=st.kind, party=st.party,
        received=format_time(entry.received), decision=decision, checkpoint=note, tlog_proof=proof,
        entry=b64e(data),
    )  # fmt: skip


def _decision_after(registry: Registry, index: int) -> str | None:
    if index + 1 >= registry.log.size:
        return None
    nxt = registry.entry(index + 1).statement
    return str(nxt.body["outcome"]) if nxt.kind == "decision" else None


def _request(sub: Submission) -> tuple[Request, str]:
    envelope = Envelope.from_json(sub.envelope)
    blobs = tuple(b64d(b, f"blob {n}") for n, b in enumerate(sub.blobs))
    return Request(envelope.encode(), blobs), sha256_hex(envelope.payload)


def _found(registry: Registry, sid: str, refusals: RecentRefusals) -> int:
    """The index of statement ``sid``; if it is not in the log, the refusal of a submission of it answered
    202 earlier, or NotFoundError."""
    index = registry.projection.sids.get(sid)
    if index is None:
        raise refusals.get(sid) or NotFoundError(f"no statement {sid} in the log (yet)")
    return index


def _one(table: Mapping[str, V], key: str, what: str) -> V:
    """The record ``key`` of a projection table, or NotFoundError."""
    found = table.get(key)
    if found is None:
        raise NotFoundError(f"no {what} {key} in the log")
    return found


def _at(at: str | None, registry: Registry) -> datetime:
    return registry.clock() if at is None else parse_time(at)


def api_router(service: RegistryService) -> APIRouter:
    """The JSON API routes."""
    router = APIRouter(prefix="/v1", tags=["registry"])
    read = service.read

    @router.post(
        "/statements",
        status_code=201,
        response_model=Logged,
        responses={
            202: {"model": Pending, "description": "Not yet integrated; ask again by sid"},
            **NOT_JSON,
        },
        dependencies=JSON_ONLY,
    )
    async def submit(submission: Submission) -> Any:
        """Submit a signed statement; wait (bounded) for it to be integrated and proven."""
        request, sid = _request(submission)
        queued = service.submit(request)
        future = asyncio.wrap_future(queued)
        try:
            done = await asyncio.wait_for(asyncio.shield(future), service.settings.wait)
        except TimeoutError:
            service.refusals.watch(sid, queued)
            return pending(sid)
        assert isinstance(done, Receipt)
        return await run_in_threadpool(read, lambda reg: logged(reg, done.index, done.decision))

    @router.get("/statements/{sid}")
    def statement(sid: Hash) -> Logged:
        """A logged statement by its id (SHA-256 of its payload), with its proof."""
        return read(lambda reg: logged(reg, _found(reg, sid, service.refusals)))

    @router.get("/entries/{index}")
    def entry(index: Annotated[Int, Path(ge=0, le=2**62)]) -> Logged:
        """The entry at ``index``, decoded, with its proof."""

        def get(reg: Registry) -> Logged:
            if index >= reg.log.size:
                raise NotFoundError(f"the log has {reg.log.size} entries")
            return logged(reg, index)

        return read(get)

    @router.get("/registry")
    def registry() -> dict[str, Any]:
        """This registry: the notary key id offers must name, the log's size, the registry's clock."""
        return read(views.registry_json)

    @router.get("/parties")
    def parties() -> list[dict[str, Any]]:
        """Every registered party with its keyset in force."""
        return read(lambda reg: [views.party_json(reg, p) for p in sorted(reg.projection.keysets)])

    @router.get("/parties/{party}")
    def party(party: Party) -> dict[str, Any]:
        """One party: its keyset in force and its keyset history."""
        return read(lambda reg: views.party_json(reg, party))

    @router.get("/parties/{party}/acts")
    def party_acts(party: Party, limit: Annotated[Int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        """The newest statements by or addressed to a party, newest first."""
        return read(lambda reg: [views.act_json(a) for a in views.concerning(reg, party, limit)])

    @router.get("/parties/{party}/offers")
    def party_offers(party: Party) -> list[dict[str, Any]]:
        """Every offer, counter-offer and refusal made by a party, in log order."""
        return read(lambda reg: [views.act_json(a) for a in reg.projection.offers_and_refusals(party)])

    @router.get("/exchanges")
    def exchanges(party: Annotated[str | None, Query(pattern=PARTY)] = None) -> list[dict[str, Any]]:
        """Every exchange (of a party, if given), in order of opening."""

        def get(reg: Registry) -> list[dict[str, Any]]:
            found = reg.projection.exchanges.values()
            chosen = [e for e in found if party is None or party in (e.originator, e.responder)]
            return [views.exchange_json(e) for e in chosen]

        return read(get)

    @router.get("/exchanges/{xid}")
    def exchange(xid: Id) -> dict[str, Any]:
        """An exchange with its timeline."""
        return read(lambda reg: views.exchange_detail(reg, xid))

    @router.get("/declarations")
    def declarations(at: At = None) -> list[dict[str, Any]]:
        """Every unilateral declaration, with whether it is in force now (or at ``at``)."""
        return read(
            lambda reg: [
                views.declaration_json(d, _at(at, reg)) for d in reg.projection.declarations.values()
            ]
        )

    @router.get("/declarations/{did}")
    def declaration(did: Id) -> dict[str, Any]:
        """One declaration."""

        return read(
            lambda reg: views.declaration_json(
                _one(reg.projection.declarations, did, "declaration"), reg.clock()
            )
        )

    @router.get("/protests")
    def protests() -> list[dict[str, Any]]:
        """Every protest and whether it was answered."""
        return read(lambda reg: [views.protest_json(p) for p in reg.projection.protests.values()])

    @router.get("/protests/{pid}")
    def protest(pid: Id) -> dict[str, Any]:
        """One protest."""

        return read(lambda reg: views.protest_json(_one(reg.projection.protests, pid, "protest")))

    @router.get("/incidents")
    def incidents() -> list[dict[str, Any]]:
        """Every incident report."""
        return read(lambda reg: [views.incident_json(i) for i in reg.projection.incidents.values()])

    @router.get("/incidents/{iid}")
    def incident(iid: Id) -> dict[str, Any]:
        """One incident report."""

        return read(lambda reg: views.incident_json(_one(reg.projection.incidents, iid, "incident")))

    @router.get("/between/{a}/{b}")
    def between(a: Party, b: Party, at: At = None) -> dict[str, Any]:
        """What is in force between two parties (now, or at ``at``), and every act between them."""
        return read(lambda reg: views.between(reg, a, b, _at(at, reg)))

    @router.get("/bundles/{claim}/{ref}", response_class=Response)
    def bundle(claim: str, ref: Id) -> Response:
        """The evidence bundle for a claim about an id, as of the newest checkpoint (verify it offline)."""
        if claim not in CLAIM_TYPES:
            raise MalformedError(f"unknown claim {claim!r}; one of {', '.join(CLAIM_TYPES)}")
        data = read(lambda reg: build_bundle(reg, claim, ref))
        filename = f"{claim}-{ref}.bundle.json"
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return Response(data, media_type="application/json", headers=disposition)

    @router.get("/blobs/{digest}", response_class=Response)
    def blob(digest: Hash) -> Response:
        """A blob the log cites (terms documents, texts), by its SHA-256."""
        data = read(lambda reg: reg.blobs.get(digest))
        if data is None:
            raise NotFoundError(f"no blob {digest}")
        return Response(data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE})

    return router
