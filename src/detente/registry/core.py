"""The registry: accepts statements, checks them inside the single writer, appends, and acts as notary.

Invariants:
- :meth:`Registry.submit_batch` is the one write path. It checks each request in sequence order against
  the projection *as changed by the requests before it in the same batch*, then appends every accepted
  entry as one log batch. So two conflicting statements in one batch (an abort and a resolve of one
  exchange) can never both pass, and a refused request appends nothing.
- The notary's decision on an abort or resolve request is appended immediately after the request, in
  the same batch: the first decision per exchange is final, and it is public.
- The projection is exactly the replay of the log: if an append fails, the projection is rebuilt from
  the log, so no check ever sees a statement that is not in the log.
- ``received`` never goes backwards, whatever the clock says.
- A request may arrive pre-verified (:mod:`detente.registry.precheck`): its stateless checks already made
  and some signature outcomes remembered. Which keys count (the keyset in force at reception, role,
  threshold) is still decided here, in sequence order; a signature no one checked yet is checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec

from detente.accords.exchange import Phase
from detente.accords.projection import BlobLookup, Projection
from detente.errors import ConflictError, DetenteError, InputError, NotFoundError, TamperError
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.keys import SigningKey
from detente.statements.statement import Statement, read_statement, sign_statement

from .entry import BlobStore, LogEntry, MemoryBlobs

TEXT_FIELDS = {"declaration": "text", "protest": "text", "reply": "text", "incident-reply": "text"}


class Integrated(Protocol):
    """What the log returns from an append (mirrors :class:`detente.tlog.Integration`)."""

    @property
    def first_index(self) -> int:
        """Index of the first entry of the batch."""
        ...

    @property
    def signed_checkpoint(self) -> str:
        """The signed checkpoint covering the batch."""
        ...


class LogPort(Protocol):
    """The part of :class:`detente.tlog.Log` the registry uses."""

    @property
    def size(self) -> int:
        """Entries in the log."""
        ...

    @property
    def signed_checkpoint(self) -> str:
        """The current signed checkpoint."""
        ...

    def append(self, entries: Sequence[bytes]) -> Integrated:
        """Append a batch of entries."""
        ...

    def entries(self, start: int, stop: int) -> list[bytes]:
        """Checked entries ``[start, stop)``."""
        ...

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Inclusion proof of ``index`` in the tree of ``size``."""
        ...


class Request(msgspec.Struct, frozen=True):
    """One statement to submit, with the blobs it cites; ``register`` is the operator's first-keyset act.

    ``opened``, when set, returns the statement the envelope opens to (or raises its refusal), with some
    signatures already verified (:mod:`detente.registry.precheck`). The writer uses it only if its
    envelope is byte for byte ``envelope``, and still decides every authority question itself.

    A struct, built in C: one or two are made for every submission (a frozen dataclass cost 1.2 us).
    """

    envelope: bytes
    blobs: tuple[bytes, ...] = ()
    register: bool = False
    opened: Callable[[], Statement] | None = None


class Receipt(msgspec.Struct, frozen=True):
    """An accepted statement: where it landed (and the notary's decision, if it asked for one).

    A struct, built in C: one is made for every accepted statement (a frozen dataclass cost 0.6 us)."""

    index: int
    sid: str
    kind: str
    signed_checkpoint: str
    decision: str | None = None


Result = Receipt | DetenteError


@dataclass
class Registry:
    """The registry over one log. Build it with :meth:`open` (which replays the log)."""

    log: LogPort
    notary: SigningKey
    notary_name: str
    blobs: BlobStore
    clock: Callable[[], datetime]
    projection: Projection = field(init=False)
    last_received: datetime | None = None

    @classmethod
    def open(
        cls,
        log: LogPort,
        notary: SigningKey,
        notary_name: str,
        blobs: BlobStore,
        clock: Callable[[], datetime],
    ) -> Registry:
        """Open the registry and replay the log into the projection."""
        registry = cls(log, notary, notary_name, blobs, clock)
        registry.rebuild()
        return registry

    def rebuild(self) -> None:
        """Replay the whole log from scratch into a new projection.

        Raises:
            TamperError: a logged entry does not replay (the log holds what the registry never accepted).
        """
        self.projection = Projection(self.notary.public, self.blobs.get)
        self.last_received = None
        for index, data in enumerate(self.log.entries(0, self.log.size)):
            try:
                entry = LogEntry.decode(data)
                self.projection.apply(entry.statement, entry.received)
            except DetenteError as exc:
                raise TamperError(f"log entry {index} does not replay: {exc}") from exc
            self.last_received = entry.received

    # --- the write path -----------------------------------------------------------------------

    def submit(self, envelope: bytes, blobs: Sequence[bytes] = (), *, register: bool = False) -> Receipt:
        """Submit one statement; raise the reason if it is refused (nothing is then appended)."""
        result = self.submit_batch([Request(envelope, tuple(blobs), register)])[0]
        if isinstance(result, DetenteError):
            raise result
        return result

    def submit_batch(self, requests: Sequence[Request]) -> list[Result]:
        """Check each request in order against the projection, then append the accepted ones at once."""
        now = self._received()
        pending = MemoryBlobs()

        def in_batch(digest: str) -> bytes | None:
            """What the projection finds while checking this batch: the blobs of the statements
            accepted so far, then the store's (a request's own blobs come first, while it is checked)."""
            return pending.get(digest) or self.blobs.get(digest)

        results: list[Result | tuple[int, Statement, str | None]] = []
        entries: list[bytes] = []
        try:
            for request in requests:
                results.append(self._prepare(request, now, pending, in_batch, entries))
            # The blobs before the entries that cite them: a crash or a full disk in between then leaves
            # only an unused blob (content-addressed, harmless), never an entry whose blob is missing,
            # which the replay would refuse.
            self._store(pending)
            integration = self.log.append(entries) if entries else None
        except BaseException:
            self.rebuild()  # the batch was not written: forget what the checks assumed
            raise
        finally:
            self.projection.blobs = self.blobs.get
        self.last_received = now
        return [self._receipt(r, integration) for r in results]

    def _store(self, blobs: MemoryBlobs) -> None:
        """Store durably the blobs the batch's accepted statements cite (those not stored yet)."""
        for digest, blob in blobs.items.items():
            if self.blobs.get(digest) is None:
                self.blobs.put(blob)

    def _receipt(self, result: Result | tuple[int, Statement, str | None], done: Integrated | None) -> Result:
        if isinstance(result, Receipt | DetenteError):
            return result
        offset, st, decision = result
        assert done is not None
        return Receipt(done.first_index + offset, st.sid, st.kind, done.signed_checkpoint, decision)

    def _received(self) -> datetime:
        now = self.clock()
        return now if self.last_received is None or now > self.last_received else self.last_received

    def _prepare(
        self,
        request: Request,
        now: datetime,
        pending: MemoryBlobs,
        in_batch: BlobLookup,
        entries: list[bytes],
    ) -> DetenteError | tuple[int, Statement, str | None]:
        try:
            st = _open(request)
            self._gate(st, request)
            given = MemoryBlobs()
            given.update(request.blobs)
            _check_blobs(st, given, in_batch)
            data = LogEntry(now, st).encode()
            # most statements come with no blob: the batch's lookup then serves as it is
            self.projection.blobs = (lambda d: given.get(d) or in_batch(d)) if given.items else in_batch
            self.projection.apply(st, now)
        except (InputError, ConflictError, NotFoundError) as exc:
            return exc
        pending.items.update(given.items)  # hashed once, above
        offset = len(entries)
        entries.append(data)
        decision = self._decide(st, now, entries) if st.kind in ("abort", "resolve") else None
        return offset, st, decision

    def _gate(self, st: Statement, request: Request) -> None:
        if st.kind == "decision":
            raise ConflictError("decisions are made by the registry's notary, not submitted")
        if request.register and st.kind != "keyset":
            raise InputError(
                "the operator registers a party's first keyset only; "
                f"submit this {st.kind} as any other statement"
            )
        first = st.kind == "keyset" and st.party not in self.projection.keysets
        if first and not request.register:
            raise ConflictError(
                f"the first keyset of {st.party} is registered by the operator (party register)"
            )
        if request.register and not first:
            raise ConflictError(f"{st.party} is already registered; submit a root-signed new keyset version")

    def _decide(self, request: Statement, now: datetime, entries: list[bytes]) -> str:
        ex = self.projection.exchanges[request.body["xid"]]
        assert ex.decision is not None  # fixed when the request was applied
        accept = ex.accept if ex.decision == Phase.RESOLVED else None
        decision = self._sign_decision(ex.xid, ex.offer, ex.decision.value, accept, request.sid, now)
        entries.append(LogEntry(now, decision).encode())
        self.projection.apply(decision, now)
        return ex.decision.value

    def _sign_decision(
        self, xid: str, offer: str, outcome: str, accept: str | None, request: str | None, now: datetime
    ) -> Statement:
        body: dict[str, Any] = {
            "xid": xid,
            "offer": offer,
            "outcome": outcome,
            "accept": accept,
            "request": request,
        }
        return sign_statement("decision", self.notary_name, format_time(now), body, [self.notary])

    # --- the notary's clock -------------------------------------------------------------------

    def lapse(self) -> list[str]:
        """Log ``lapsed`` for every exchange past its deadline with neither decision nor contract.

        Returns:
            The exchange ids that lapsed.
        """
        now = self._received()
        due = self.projection.lapse_due(now)
        if not due:
            return []
        entries = []
        try:
            for ex in due:
                decision = self._sign_decision(ex.xid, ex.offer, "lapsed", None, None, now)
                entries.append(LogEntry(now, decision).encode())
                self.projection.apply(decision, now)
            self.log.append(entries)
        except BaseException:
            self.rebuild()
            raise
        self.last_received = now
        return [ex.xid for ex in due]

    # --- reading ------------------------------------------------------------------------------

    def entry(self, index: int) -> LogEntry:
        """The checked, decoded entry at ``index``."""
        return LogEntry.decode(self.log.entries(index, index + 1)[0])

    def statements_by_sid(self, sids: Sequence[str]) -> list[tuple[int, LogEntry]]:
        """The entries of the given statement ids, in log order."""
        indexes = sorted(self.projection.sids[s] for s in sids)
        return [(i, self.entry(i)) for i in indexes]

    def notary_keyid(self) -> str:
        """The notary key id that offers must name."""
        return self.notary.keyid


def _check_blobs(st: Statement, given: MemoryBlobs, found: BlobLookup) -> None:
    """Every blob ``st`` cites is given with it or ``found`` (stored, or accepted earlier in its batch:
    as if each statement were its own batch), and every blob given is cited."""
    cited = [st.body["terms"]] if st.kind in ("offer", "counter") else []
    text = st.body.get(TEXT_FIELDS.get(st.kind, ""))
    cited += [text] if isinstance(text, str) else []
    if not cited and not given.items:
        return
    for digest in cited:
        if given.get(digest) is None and found(digest) is None:
            raise NotFoundError(f"the {st.kind} cites blob {digest[:16]}... which was not supplied")
    extra = set(given.items) - set(cited)
    if extra:
        raise InputError(f"blob {sorted(extra)[0][:16]}... is not cited by the statement")


def _open(request: Request) -> Statement:
    """The writer's first step: the pre-verified statement if it is of these very bytes, else open here."""
    if request.opened is not None:
        st = request.opened()
        if st.envelope.encode() == request.envelope.removesuffix(b"\n"):
            return st
    return read_statement(request.envelope)


def blob_digest(data: bytes) -> str:
    """The SHA-256 name of a blob."""
    return sha256_hex(data)
