"""The log's read endpoints: C2SP ``/checkpoint`` and ``/tile/...``, and JSON proofs and entries.

Tiles (full and partial) never change once served, so they are cacheable forever by any CDN; only
``/checkpoint`` changes. Every answer comes from :class:`~detente.tlog.log.Log`'s checked reads. HEAD is
answered beside every GET by :class:`~detente.http.head.HeadAsGet` around the app.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from detente.errors import MalformedError, NotFoundError
from detente.http.params import Int, MaybeInt
from detente.tlog.log import Log
from detente.tlog.proof import format_tlog_proof
from detente.tlog.tiles import TileRef, parse_tile_path

T = TypeVar("T")
IMMUTABLE = "public, max-age=31536000, immutable"
MAX_ENTRIES = 256


class SharedLog:
    """A read-only log shared by request threads: one lock, moved to the newest checkpoint on use."""

    def __init__(self, log: Log, checkpoint_text: Callable[[str], str] | None = None) -> None:
        self._log = log
        self._lock = threading.RLock()  # pages read the checkpoint inside a read
        self._decorate = checkpoint_text

    def read(self, fn: Callable[[Log], T]) -> T:
        """Run ``fn`` on the log, refreshed to the newest checkpoint, under the lock."""
        with self._lock:
            self._log.refresh()
            return fn(self._log)

    def checkpoint(self) -> str:
        """The newest signed checkpoint, with any witness cosignatures gathered for it."""
        note = self.read(lambda log: log.signed_checkpoint)
        return self._decorate(note) if self._decorate else note


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class InclusionProof(BaseModel):
    """An inclusion proof; in the current tree also with its signed checkpoint, as a C2SP tlog-proof@v1."""

    index: int
    size: int
    hashes: list[str] = Field(description="The proof's hashes, base64 (RFC 9162, section 2.1.3)")
    checkpoint: str | None = Field(
        description="The signed checkpoint of the current tree; null for an older size (the registry keeps "
        "its newest checkpoint only: check the hashes against the root of your own checkpoint of that size)"
    )
    tlog_proof: str | None = Field(description="C2SP tlog-proof@v1 against `checkpoint`; null with it")


class ConsistencyProof(BaseModel):
    """A consistency proof between two tree sizes."""

    old: int
    new: int
    hashes: list[str]


class Entries(BaseModel):
    """Entries of the log, base64-encoded."""

    start: int
    entries: list[str]


def log_router(shared: SharedLog) -> APIRouter:
    """The log's routes."""
    router = APIRouter(tags=["log"])

    @router.get("/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> PlainTextResponse:
        """The newest signed checkpoint (C2SP tlog-checkpoint), with witness cosignatures."""
        return PlainTextResponse(shared.checkpoint(), headers={"Cache-Control": "no-cache"})

    @router.get("/tile/{path:path}")
    def tile(path: str) -> Response:
        """A C2SP hash tile or entry bundle."""
        level, index, width = parse_tile_path(f"tile/{path}")
        if level is None:
            data = shared.read(lambda log: log.entry_bundle(index, width))
        else:
            data = shared.read(lambda log: log.tile(TileRef(level, index, width)))
        return Response(data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE})

    @router.get("/v1/log/inclusion")
    def inclusion(
        index: Annotated[Int, Query(ge=0, le=2**62)],
        size: Annotated[MaybeInt, Query(ge=1, le=2**62)] = None,
    ) -> InclusionProof:
        """The inclusion proof of entry ``index`` in the tree of ``size`` entries (default: the current tree).

        For the current tree the answer carries the signed checkpoint and a C2SP tlog-proof; for an older
        size the hashes alone, to check against the root of a checkpoint of that size the client holds.
        """
        return shared.read(lambda log: _inclusion(log, index, log.size if size is None else size))

    @router.get("/v1/log/consistency")
    def consistency(
        old: Annotated[Int, Query(ge=1, le=2**62)], new: Annotated[MaybeInt, Query(ge=1, le=2**62)] = None
    ) -> ConsistencyProof:
        """The consistency proof from an older tree size to a newer one (default: current)."""

        def prove(log: Log) -> ConsistencyProof:
            target = log.size if new is None else new
            return ConsistencyProof(
                old=old, new=target, hashes=[_b64(h) for h in log.consistency_proof(old, target)]
            )

        return shared.read(prove)

    @router.get("/v1/log/entries")
    def entries(
        start: Annotated[Int, Query(ge=0, le=2**62)], stop: Annotated[Int, Query(ge=0, le=2**62)]
    ) -> Entries:
        """Up to 256 entries ``[start, stop)``, checked against the tree (a stop past its end is cut)."""
        if not 0 <= stop - start <= MAX_ENTRIES:
            raise MalformedError(f"ask for 0 to {MAX_ENTRIES} entries at a time (start <= stop)")
        found = shared.read(lambda log: log.entries(*_within(log, start, stop)))
        return Entries(start=start, entries=[_b64(e) for e in found])

    return router


def _inclusion(log: Log, index: int, size: int) -> InclusionProof:
    """The proof of ``index`` in the tree of ``size``; NotFoundError if either is past the log's end.

    Only the current tree has a signed checkpoint here (older ones are not kept), so only its proof comes
    with one; an older size's proof is the same RFC 9162 path, against a root the client already has.
    """
    hashes = log.inclusion_proof(index, size)
    encoded = [_b64(h) for h in hashes]
    if size != log.size:
        return InclusionProof(index=index, size=size, hashes=encoded, checkpoint=None, tlog_proof=None)
    note = log.signed_checkpoint
    text = format_tlog_proof(index, hashes, note)
    return InclusionProof(index=index, size=size, hashes=encoded, checkpoint=note, tlog_proof=text)


def _within(log: Log, start: int, stop: int) -> tuple[int, int]:
    """``[start, stop)`` cut at the log's end; NotFoundError, naming the range asked for, if it starts past
    the end. A start at the end is an empty answer, not an error: a follower polls from there."""
    if start > log.size:
        raise NotFoundError(
            f"entries {start}..{stop} are outside the log of size {log.size}: start at {log.size} or below"
        )
    return start, min(stop, log.size)
