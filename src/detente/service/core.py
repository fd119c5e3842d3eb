"""The running registry: one writer thread, readers under a lock, the notary's clock and the publisher.

Invariants:
- Every write (submissions and the notary's ``lapsed`` decisions) goes through one
  :class:`~detente.tlog.sequencer.GroupCommit` thread, so the checks of ``Registry.submit_batch`` always run
  in sequence order against the projection as the log has it.
- The projection and the writer's log are read only under :attr:`RegistryService.lock`, which the writer
  holds while it checks and appends a batch: a reader never sees a half-applied batch.
- The C2SP endpoints read through a separate read-only :class:`~detente.tlog.log.Log` (its own connection),
  so tiles and checkpoints are served without waiting for the writer.
- Nothing secret (the log key, the notary key, the database URL) is ever part of a result.
- Under load, submissions are pre-verified before the writer takes them
  (:class:`~detente.registry.precheck.Prechecks`, on worker processes this service owns): envelope,
  payload, schema and signatures against every key the registry knows. The writer still decides, in
  sequence order, which signatures count.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import process as futures_process
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import httpx

from detente.accords.records import Act
from detente.errors import DetenteError
from detente.http.logapi import SharedLog
from detente.registry.core import Receipt, Registry, Request
from detente.registry.precheck import Prechecks
from detente.registry.views import concerning
from detente.service.home import ServiceHome, Settings
from detente.service.publisher import CheckpointPublisher
from detente.service.webhooks import WebhookNotifier
from detente.statements.keys import PublicKey
from detente.tlog.log import Log
from detente.tlog.sequencer import GroupCommit
from detente.witness.client import ProofFrom, WitnessClient

T = TypeVar("T")
log = logging.getLogger("detente.service")


@dataclass(frozen=True)
class Tick:
    """Ask the writer to log ``lapsed`` for every exchange past its deadline."""


@dataclass(frozen=True)
class Lapsed:
    """The exchanges that lapsed on a tick."""

    xids: tuple[str, ...]


Work = Request | Tick
Done = Receipt | Lapsed


def tune_collector() -> None:
    """Set this process's garbage collector for a registry: collect rarely, and never the replayed log.

    A submission allocates a few dozen small containers, so the default threshold (a collection every
    700 allocations) ran one every twenty statements, each walking the young objects; and the replayed
    projection, which lives as long as the process, need never be walked. Freezing moves what exists
    now out of the collector's sight (reference counting still frees it). Called by ``detente serve``
    after the replay and in each pre-verifier process; measured in docs/performance.md.

    The young generation is collected once 500,000 more tracked objects are alive than at the last
    collection (the count falls again as objects are freed). A waiting submission holds about sixteen
    (its future alone eleven, with its ``Condition``), all freed once it is answered: at 50,000, a burst
    of 20,000 submissions set off collections in the writer's thread that walked them all for nothing;
    at 500,000 it sets off none (tests/service/test_collector.py). Over HTTP the count grows about six
    a submission, so unreachable cycles still meet a collection every 80,000 or so submissions
    (docs/performance.md, twentieth session, with the figures and how they were measured).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(500_000, 20, 100)


# Chunks the pool queues for its workers beyond one each. The standard library queues one more in all
# (concurrent.futures.process.EXTRA_QUEUED_CALLS): a worker that finished its chunk then often waited
# for the next, which the pool's threads hand over only when they get the GIL the writer holds. Eight
# more keep the workers fed through a burst; a queued chunk can no longer be taken back by the writer,
# which waits for a worker instead (docs/adr/0005-pre-verification.md, twenty-third session).
QUEUED_CHUNKS = 8


def verifier_pool(workers: int) -> ProcessPoolExecutor:
    """The pre-verifiers: ``workers`` processes, started by the forkserver when first needed (clean: a
    fork of this process would copy its threads' locks), each with the registry's collector, and
    :data:`QUEUED_CHUNKS` chunks queued for them beyond one each (the standard library's module constant
    is read when a pool is made, and set while this one is made: a pool made by another thread at that
    moment would get the same depth; nothing else here makes one)."""
    context = multiprocessing.get_context("forkserver")
    with _POOL_MADE:
        # typeshed marks the constant Final, as the standard library never changes it itself
        default = futures_process.EXTRA_QUEUED_CALLS
        setattr(futures_process, "EXTRA_QUEUED_CALLS", QUEUED_CHUNKS)  # noqa: B010
        try:
            return ProcessPoolExecutor(workers, mp_context=context, initializer=tune_collector)
        finally:
            setattr(futures_process, "EXTRA_QUEUED_CALLS", default)  # noqa: B010


_POOL_MADE = threading.Lock()  # one pool made at a time while the constant is set


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collection while the block runs (the writer's batch); the collector as it was afterwards.

    A batch's statements, envelopes and bodies live until its receipts are made, then reference
    counting frees them: a collection in the middle of a batch walked thousands of them for nothing
    (about a tenth of the writer's time, docs/performance.md, tenth session). After the batch, the
    next collection walks only what the batch left alive (the projection's new records). Cycles made
    meanwhile, by any thread, wait for that collection.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class RecentRefusals:
    """The refusals of submissions that were answered 202 (still queued), by statement id: the last
    ``limit`` of them, so that a client asking later learns why instead of "not in the log (yet)".

    Thread-safe: refusals are noted from the writer's thread, read from the API's.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._items: OrderedDict[str, DetenteError] = OrderedDict()
        self._lock = threading.Lock()

    def watch(self, sid: str, future: Future[Done]) -> None:
        """Remember the refusal of ``future``'s statement ``sid``, if it is refused."""
        future.add_done_callback(lambda done: self._note(sid, done))

    def _note(self, sid: str, done: Future[Done]) -> None:
        refusal = None if done.cancelled() else done.exception()
        if isinstance(refusal, DetenteError):
            with self._lock:
                self._items[sid] = refusal
                self._items.move_to_end(sid)
                while len(self._items) > self.limit:
                    self._items.popitem(last=False)

    def get(self, sid: str) -> DetenteError | None:
        """A fresh copy of the refusal of ``sid`` (to raise again), or None if none is remembered."""
        with self._lock:
            refusal = self._items.get(sid)
        return None if refusal is None else type(refusal)(str(refusal))


def utc_now() -> datetime:
    """The wall clock, in UTC to the second (``received`` times are to the second)."""
    return datetime.now(UTC).replace(microsecond=0)


class RegistryService:
    """A registry with its writer thread, its readers' lock, its lapse timer and its publisher."""

    def __init__(
        self,
        registry: Registry,
        writer_log: Log,
        reader_log: Log,
        settings: Settings,
        publisher: CheckpointPublisher | None = None,
        verifiers: int | None = None,
    ) -> None:
        """``verifiers``: processes that pre-verify submissions (None: one per core; 0: none)."""
        self.registry = registry
        self.writer_log = writer_log
        self.settings = settings
        self.lock = threading.RLock()
        self.shared = SharedLog(reader_log, self.cosigned)
        self.publisher = publisher
        self.webhooks: WebhookNotifier | None = None
        self.writer: GroupCommit[Work, Done] = GroupCommit(self._process)
        self.batches = 0
        self.refusals = RecentRefusals()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: httpx.Client | None = None
        self._workers = (os.cpu_count() or 1) if verifiers is None else verifiers
        # Processes, not threads: the checks are mostly Python holding the GIL (ADR 0005). Unless started
        # warm (as `detente serve` does), none starts before the first full chunk.
        self.pool = verifier_pool(self._workers) if self._workers else None
        self.prechecks = None if self.pool is None else Prechecks(self.pool, self._known_keys)

    # --- life cycle ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls, home: ServiceHome, clock: Callable[[], datetime] = utc_now, verifiers: int | None = None
    ) -> RegistryService:
        """Open the registry in ``home`` (replaying its log) with its configured witnesses."""
        settings = home.settings()
        writer_log = home.open_writer()
        try:
            reader_log = home.open_reader()
        except BaseException:
            writer_log.close()
            raise
        registry = Registry.open(writer_log, home.notary(), settings.notary, home.blobs(), clock)
        service = cls(registry, writer_log, reader_log, settings, verifiers=verifiers)
        if settings.witnesses:
            service._http = httpx.Client(timeout=10.0)
            client = WitnessClient(service._http, [w.witness() for w in settings.witnesses])
            service.publisher = CheckpointPublisher(client, service.latest, settings.publish_interval)
        if settings.webhooks:
            service._http = service._http or httpx.Client(timeout=10.0)
            state = home.path / "webhooks-delivered.json"
            service.webhooks = WebhookNotifier(
                settings.webhooks, service.acts_since, service._http, state, settings.public_url
            )
        return service

    def start(self, *, lapse_timer: bool = True, publish: bool = True, warm: bool = False) -> RegistryService:
        """Start the writer thread, and the lapse timer and publisher threads (tests may drive those).

        ``warm`` starts the pre-verifier processes now, not on the first burst of submissions (which
        would then wait for them).
        """
        self.writer.start()
        if warm and self.pool is not None:
            # The pool starts a process for each task it cannot give to an idle one: one task a worker.
            for started in [self.pool.submit(os.getpid) for _ in range(self._workers)]:
                started.result()
        if lapse_timer:
            self._spawn("detente-lapse", self._lapse_loop)
        if publish and self.publisher is not None:
            self._spawn("detente-publisher", self.publisher.run)
            self.publisher.notify()
        if self.webhooks is not None:
            self._spawn("detente-webhooks", self.webhooks.run)
            self.webhooks.notify()
        return self

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        """Finish the queued writes, stop every thread, close the logs."""
        self._stop.set()
        self._kick.set()
        if self.publisher is not None:
            self.publisher.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        self.writer.close()
        if self.pool is not None:
            self.pool.shutdown()
        for thread in self._threads:
            thread.join()
        if self._http is not None:
            self._http.close()
        with self.lock:
            self.writer_log.close()
        self.shared.read(lambda reader: reader.close())

    def __enter__(self) -> RegistryService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------------

    def submit(self, request: Request) -> Future[Done]:
        """Queue a statement for the writer; the future gives its receipt or raises its refusal."""
        if self.prechecks is not None:
            request = self.prechecks.start(request)
        return self.writer.submit(request)

    def lapse(self) -> tuple[str, ...]:
        """Log ``lapsed`` now for every exchange past its deadline (through the writer)."""
        done = self.writer.submit(Tick()).result()
        assert isinstance(done, Lapsed)
        return done.xids

    def _process(self, batch: list[Work]) -> list[Done | DetenteError]:
        requests = [w for w in batch if isinstance(w, Request)]
        with self.lock, collector_paused():
            receipts = iter(self.registry.submit_batch(requests) if requests else [])
            lapsed: Lapsed | DetenteError = Lapsed(())
            if len(requests) < len(batch):
                try:
                    lapsed = Lapsed(tuple(self.registry.lapse()))
                except DetenteError as exc:  # the submissions above are committed: only ticks fail
                    log.error("the notary could not log lapsed decisions: %s", exc)
                    lapsed = exc
            self.batches += 1
        if self.publisher is not None:
            self.publisher.notify()
        if self.webhooks is not None:
            self.webhooks.notify()
        self._kick.set()
        return [next(receipts) if isinstance(w, Request) else lapsed for w in batch]

    def _known_keys(self) -> Mapping[str, PublicKey]:
        # Read without the lock on purpose (a submission must not wait for the writer's batch): the
        # projection replaces its known_keys and is itself replaced on rebuild, never half-changed.
        return self.registry.projection.known_keys

    def acts_since(self, party: str, first: int) -> list[Act]:
        """The acts concerning ``party`` logged at index ``first`` or later, oldest first."""
        acts = self.read(lambda reg: concerning(reg, party, limit=len(reg.projection.acts)))
        return [act for act in reversed(acts) if act.index >= first]

    # --- the notary's clock ---------------------------------------------------------------------

    def seconds_to_next_deadline(self) -> float:
        """Seconds until the earliest deadline of an undecided exchange (capped by the lapse interval)."""
        with self.lock:
            now = self.registry.clock()
            pending = [
                ex.deadline
                for ex in self.registry.projection.exchanges.values()
                if ex.decision is None and not ex.in_force and ex.closed is None
            ]
        if not pending:
            return self.settings.lapse_interval
        return min(self.settings.lapse_interval, max(0.0, (min(pending) - now).total_seconds()) + 1.0)

    def _lapse_loop(self) -> None:
        while not self._stop.is_set():
            self._kick.clear()
            if self._kick.wait(self.seconds_to_next_deadline()):
                continue  # a new batch: the earliest deadline may have changed
            if self._stop.is_set():
                return
            try:
                self.lapse()
            except DetenteError as exc:
                log.error("lapse failed: %s", exc)

    # --- reading ------------------------------------------------------------------------------

    def read(self, fn: Callable[[Registry], T]) -> T:
        """Run ``fn`` on the registry under the lock (a consistent view between batches)."""
        with self.lock:
            return fn(self.registry)

    def latest(self) -> tuple[str, int, ProofFrom]:
        """The writer's newest checkpoint, for the publisher."""
        with self.lock:
            note, size = self.writer_log.signed_checkpoint, self.writer_log.size

        def proof_from(old: int) -> list[bytes]:
            with self.lock:
                return self.writer_log.consistency_proof(old, size)

        return note, size, proof_from

    def cosigned(self, note: str) -> str:
        """The checkpoint note with the witnesses' cosignatures gathered for it, if any."""
        return self.publisher.cosigned(note) if self.publisher is not None else note

    def witness_problems(self) -> list[str]:
        """What went wrong in the last witness round (public: witness names and refusals)."""
        return list(self.publisher.problems) if self.publisher is not None else []
