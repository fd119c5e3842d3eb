"""Pre-verification: the stateless half of submit, run ahead of the single writer on other cores.

The costly part of accepting a statement is stateless: reading the envelope, opening the payload
(payloadType, size, canonical form, schema) and checking its Ed25519 signatures. That part runs in
chunks on an executor the shell owns (the service uses a process pool: most of this work is Python that
holds the GIL, so threads gave nothing, measured in docs/performance.md), while the writer applies
earlier statements. The writer keeps every decision.

Invariants:
- A worker makes exactly the checks of the writer's first step (:func:`read_statement`), with the
  same refusal, by :func:`check_statement` (the payload read by its kind's msgspec types, strictly
  only where those do not vouch for it), and verifies each signature whose key id is in the keys it is
  given, remembering each outcome, with the key, in the envelope (:meth:`Envelope.check_signatures`).
  It decides nothing about authority. :func:`open_request` does the same where the writer opens a
  chunk itself, and returns the statement.
- The writer then asks, in sequence order, whether the verified keys are keys of the party's keyset in
  force, with the right role and threshold (:meth:`Envelope.verified_by` reuses an outcome only for the
  very key it is given). A signature by a key the pre-verifier did not know (a keyset registered since
  the chunk started) is verified by the writer itself.
- A worker sends back, for each envelope, its refusal or its signature outcomes and statement id (its
  raw digest, each key id one shared string: small, see :func:`check_request`), never the statement:
  the writer opens again the very bytes the worker accepted (:func:`reopen_statement`, which checks
  nothing again and takes the id as given): the worker is spared pickling the statement, and the
  writer's reopening costs it about what unpickling did.
- The keys a chunk is checked against are a snapshot taken when it starts (the projection replaces its
  ``known_keys``, never changes them). Each version of them is packed once (:class:`KeySnapshot`) and
  unpacked once by each worker, not pickled with every chunk: a registry of 200 parties knows about
  a thousand keys, whose pickling cost the service's process and each worker several us a statement.
- A chunk starts on the executor only once it is full, that is when requests queue up faster than the
  writer takes them; a chunk the executor has not handed to a worker yet when the writer needs it is
  opened by the writer itself (it is cancelled on the executor). So a lightly loaded registry works
  exactly as one without pre-verification. The service's pool queues a few chunks for its workers
  ahead (:data:`detente.service.core.QUEUED_CHUNKS`): in a burst the writer waits for those, whose
  workers are busy with the chunks before them.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from detente.errors import InputError
from detente.statements.dsse import KEYID_LENGTH, Envelope, Outcomes
from detente.statements.keys import PublicKey
from detente.statements.statement import (
    Statement,
    check_statement,
    check_statements,
    read_statement,
    reopen_statement,
)

from .core import Request

Keys = Mapping[str, PublicKey]
Opened = Statement | InputError
Checked = tuple[Outcomes, bytes]  # an accepted envelope's signature outcomes and its id's digest
Verdict = Checked | InputError  # what a worker sends back for one envelope
T = TypeVar("T")
log = logging.getLogger("detente.registry")
CHUNK = 256  # large enough that the transfer to and from a worker process costs little


def open_request(envelope: bytes, keys: Keys) -> Statement:
    """Open the statement in ``envelope`` and verify the signatures of the ``keys`` it names.

    Raises:
        InputError: what the writer's first step would raise for these bytes.
    """
    st = read_statement(envelope)
    st.envelope.check_signatures(keys)
    return st


def check_request(envelope: bytes, keys: Keys) -> Checked:
    """What :func:`open_request` checks, without building the statement (:func:`check_statement`):
    the signature outcomes and the statement id's digest, the worker's answer for one envelope (the id
    is hashed here, off the writer's thread, which the service's other work shares). A worker answers
    a whole chunk at once (:func:`_check_all`), each answer this one's.

    The answer is kept small, because a worker blocks on sending a chunk's answers whenever the pipe
    back (64 KiB) still holds earlier ones the service's process has not read: each key id is the
    one interned string (pickled once a chunk, then referred to), the id its 32 raw bytes. A chunk's
    answers take 12 KB instead of 37 KB (``python -m benchmarks.assurances.submit_rate`` prints both).

    Raises:
        InputError: what the writer's first step would raise for these bytes.
    """
    checked = check_statement(envelope)
    checked.check_signatures(keys)
    return _answer(checked)


def _answer(checked: Envelope) -> Checked:
    """The worker's answer for an envelope whose signatures it checked."""
    outcomes = {sys.intern(keyid): outcome for keyid, outcome in checked.outcomes().items()}
    return outcomes, hashlib.sha256(checked.payload).digest()


def _each(envelopes: list[bytes], step: Callable[[bytes], T]) -> list[T | InputError]:
    """``step`` of each envelope, or its refusal: a refusal belongs to its request, anything else to
    the batch."""
    out: list[T | InputError] = []
    for data in envelopes:
        try:
            out.append(step(data))
        except InputError as exc:
            out.append(exc)
    return out


def _open_all(envelopes: list[bytes], keys: Keys) -> list[Opened]:
    """:func:`open_request` of each envelope, in two passes (as :func:`_check_all`)."""
    opened = _each(envelopes, read_statement)
    for st in opened:
        if not isinstance(st, InputError):
            st.envelope.check_signatures(keys)
    return opened


def _check_all(envelopes: list[bytes], keys: Keys) -> list[Verdict]:
    """What a worker sends back: each envelope's signature outcomes, or its refusal.

    Not the opened statements: pickling them cost the worker about 20 us each, and the writer pays no
    more to open again the bytes it already holds (:func:`reopen_statement`, given these outcomes) than
    it paid to unpickle them.

    Each answer is :func:`check_request`'s, made in passes over the chunk: every envelope read (itself
    in two passes, :func:`check_statements`), then every signature checked, then the answers made.
    Each pass runs one kind of code many times in a row (the interpreter reading JSON, then
    libsodium's arithmetic); made envelope by envelope, the two evicted each other from the core's
    caches, and a chunk cost about a tenth more (docs/performance.md, twenty-third session).
    """
    read = check_statements(envelopes)
    for envelope in read:
        if not isinstance(envelope, InputError):
            envelope.check_signatures(keys)
    return [envelope if isinstance(envelope, InputError) else _answer(envelope) for envelope in read]


_SERIALS = itertools.count()  # versions of the keys, unique in the process that packs them
_RECORD = KEYID_LENGTH + 32  # a packed key: its id (64 hex digits) then its raw 32 bytes
_unpacked: tuple[int, dict[str, PublicKey]] | None = None  # a worker's keys, with their serial


@dataclass(frozen=True)
class KeySnapshot:
    """One version of the keys a registry knows, as a worker receives them: each key id and raw key,
    concatenated (so that sending the snapshot with every chunk costs a copy of bytes), and a serial
    that names the version (so that a worker rebuilds the keys once per version)."""

    serial: int
    packed: bytes

    @classmethod
    def of(cls, keys: Keys) -> KeySnapshot:
        """Pack ``keys`` under a new serial."""
        packed = b"".join(keyid.encode("ascii") + key.raw for keyid, key in keys.items())
        if len(packed) != len(keys) * _RECORD:  # key ids are SHA-256 in hex, keys 32 bytes
            raise ValueError("a key id or key of unexpected length cannot be packed")
        return cls(next(_SERIALS), packed)

    def keys(self) -> dict[str, PublicKey]:
        """The keys, rebuilt in this process only if the version it last rebuilt was another."""
        global _unpacked  # a worker process's cache of the one version it uses now
        held = _unpacked
        if held is None or held[0] != self.serial:
            data = self.packed
            keys = {
                data[i : i + KEYID_LENGTH].decode("ascii"): PublicKey(data[i + KEYID_LENGTH : i + _RECORD])
                for i in range(0, len(data), _RECORD)
            }
            held = _unpacked = (self.serial, keys)
        return held[1]


def _check_chunk(envelopes: list[bytes], snapshot: KeySnapshot) -> list[Verdict]:
    """A worker's task: :func:`_check_all` against the keys of ``snapshot``."""
    return _check_all(envelopes, snapshot.keys())


class _Chunk:
    """Envelopes opened together: by a pool worker, or by the writer if the pool has not handed them to
    a worker yet."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        self.future: Future[list[Verdict]] | None = None
        self.results: list[Opened] | None = None

    def opened(self, index: int, keys: Callable[[], Keys]) -> Statement:
        """The statement of envelope ``index``, or its refusal raised (called by the writer only).

        The first call opens the whole chunk (here, or again from a worker's answers), in one pass for
        the same reason as :func:`_check_all`'s."""
        if self.results is None:
            if self.future is None or self.future.cancel():  # no worker has it yet: open it here
                self.results = _open_all(self.envelopes, keys())
            else:
                self.results = self._answered(keys)
        result = self.results[index]
        if isinstance(result, InputError):
            raise result
        return result

    def _answered(self, keys: Callable[[], Keys]) -> list[Opened]:
        """The chunk opened again from its worker's answers; opened here if the worker gave none (a
        worker that died fails the pool, ``BrokenProcessPool``: its chunks' requests must not fail)."""
        assert self.future is not None
        try:
            verdicts = self.future.result()
        except Exception as exc:  # a refusal is an answer, never raised: this is the pool's failure
            log.warning("a pre-verifier gave no answer (%s); the writer checks its chunk itself", exc)
            return _open_all(self.envelopes, keys())
        return _reopen_all(self.envelopes, verdicts)


def _reopen_all(envelopes: list[bytes], verdicts: list[Verdict]) -> list[Opened]:
    """The statements a worker read from ``envelopes`` (its refusals as they are), opened again here."""
    return [
        verdict if isinstance(verdict, InputError) else reopen_statement(data, verdict[0], verdict[1].hex())
        for data, verdict in zip(envelopes, verdicts, strict=True)
    ]


class Prechecks:
    """Starts the stateless checks of requests on ``executor``, in chunks of ``chunk`` requests.

    Thread-safe: :meth:`start` may be called from any thread; the requests' ``opened`` steps are called
    by the writer alone. The executor belongs to the caller (the service creates and shuts it down); a
    process pool needs nothing but picklable arguments, which these are. ``keys`` returns the registry's
    current ``known_keys``.
    """

    def __init__(self, executor: Executor, keys: Callable[[], Keys], chunk: int = CHUNK) -> None:
        self.executor = executor
        self.keys = keys
        self.chunk = chunk
        self.launched = 0  # chunks handed to the executor (the writer may still take one back)
        self._lock = threading.Lock()
        self._filling = _Chunk()
        self._snapshot: tuple[Keys, KeySnapshot] | None = None  # the keys last packed, and their packing

    def start(self, request: Request) -> Request:
        """Return ``request`` with its ``opened`` step under way (or queued in the chunk filling now)."""
        with self._lock:
            chunk = self._filling
            chunk.envelopes.append(request.envelope)
            index = len(chunk.envelopes) - 1
            full = len(chunk.envelopes) >= self.chunk
            if full:
                self._launch()
        if full:
            # Let the executor's threads hand the chunk to a worker now. They need the GIL for it, and
            # a thread that keeps submitting never blocks: left to the interpreter's forced switches,
            # no chunk reached a worker until a burst of 20,000 submissions was over (none of 78
            # chunks started within its 71 ms in a test of the pool alone; with this pause, 76-78).
            time.sleep(0)
        # built directly: the cheapest copy with one field changed (a test holds the fields to these)
        return Request(request.envelope, request.blobs, request.register, partial(self._opened, chunk, index))

    def flush(self) -> None:
        """Start the chunk filling now, however small (when no more requests are coming for a while)."""
        with self._lock:
            if self._filling.envelopes:
                self._launch()

    def _launch(self) -> None:
        chunk, self._filling = self._filling, _Chunk()
        # Once the executor is shut down, the writer opens the chunk itself when it needs it.
        with contextlib.suppress(RuntimeError):
            chunk.future = self.executor.submit(_check_chunk, chunk.envelopes, self._snapshot_now())
            self.launched += 1

    def _snapshot_now(self) -> KeySnapshot:
        """The packing of the keys the registry knows now: packed again only when they were replaced
        (the projection never changes a ``known_keys`` mapping; holding it keeps its identity ours)."""
        keys = self.keys()
        if self._snapshot is None or self._snapshot[0] is not keys:
            self._snapshot = (keys, KeySnapshot.of(keys))
        return self._snapshot[1]

    def _opened(self, chunk: _Chunk, index: int) -> Statement:
        # A launched chunk is filling no more (it was swapped out before its future was set, under the
        # lock): only one not launched needs the lock, to close it to newcomers; the writer opens it.
        if chunk.future is None:
            with self._lock:
                if chunk is self._filling:
                    self._filling = _Chunk()
        return chunk.opened(index, self.keys)
