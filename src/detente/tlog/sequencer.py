"""The sequencer: the one thread that writes a log, integrating requests in batches (group commit).

Callers on any thread :meth:`Sequencer.submit` a request and get a future. The writer thread takes every
request waiting (up to ``max_batch``), asks the :class:`BatchHandler` to turn them into entries *in
sequence order* (so a check can see the effect of the requests before it in the same batch), appends
them as one batch, and resolves each future with its receipt or its refusal. While one batch commits,
the next one gathers: the batch size follows the load, with no timer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from detente.errors import ConflictError, DetenteError
from detente.tlog.log import Integration, Log

T_contra = TypeVar("T_contra", contravariant=True)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Receipt:
    """Where an entry landed and the signed checkpoint that covers it."""

    index: int
    entry: bytes
    signed_checkpoint: str


class BatchHandler(Protocol[T_contra]):
    """Turns requests into entries inside the writer, and learns whether the batch committed."""

    def prepare(self, requests: Sequence[T_contra]) -> list[bytes | DetenteError]:
        """Return, per request in order, its entry or the reason it is refused."""
        ...

    def committed(self, integration: Integration, entries: Sequence[bytes]) -> None:
        """The prepared entries are durably in the log."""
        ...

    def aborted(self) -> None:
        """The batch was not written: forget what :meth:`prepare` assumed."""
        ...


class RawEntries:
    """The plain handler: each request is already an entry."""

    def prepare(self, requests: Sequence[bytes]) -> list[bytes | DetenteError]:
        """Accept every entry as it is (the log still refuses oversized ones)."""
        return list(requests)

    def committed(self, integration: Integration, entries: Sequence[bytes]) -> None:
        """Nothing to remember."""

    def aborted(self) -> None:
        """Nothing to forget."""


_STOP = object()


class GroupCommit(Generic[T, R]):
    """A writer thread that processes whatever requests are waiting as one batch (group commit).

    ``process`` takes a batch in arrival order and returns one result or refusal per request; if it
    raises, every request of the batch fails with that exception.
    """

    def __init__(self, process: Callable[[list[T]], list[R | DetenteError]], max_batch: int = 4096) -> None:
        self.process = process
        self.max_batch = max_batch
        # SimpleQueue (C): a put and a get cost a fraction of queue.Queue's, paid for every statement
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="detente-writer", daemon=True)
        self._closed = False
        self._gate = threading.Lock()  # no request can be queued behind the stop marker

    def start(self) -> GroupCommit[T, R]:
        """Start the writer thread."""
        self._thread.start()
        return self

    def submit(self, request: T) -> Future[R]:
        """Queue a request; the future resolves once its batch is processed."""
        future: Future[R] = Future()
        with self._gate:
            if self._closed:
                raise ConflictError("the writer is stopped; no more writes are accepted")
            self._queue.put((request, future))
        return future

    def close(self) -> None:
        """Finish the queued requests, then stop the writer thread."""
        with self._gate:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join()

    def _take_batch(self) -> tuple[list[tuple[T, Future[R]]], bool]:
        batch: list[tuple[T, Future[R]]] = []
        item = self._queue.get()
        while item is not _STOP:
            request: tuple[T, Future[R]] = item  # type: ignore[assignment]
            # Once running, a future can no longer be cancelled; one cancelled while queued is dropped.
            if request[1].set_running_or_notify_cancel():
                batch.append(request)
            if len(batch) >= self.max_batch:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._take_batch()
            if batch:
                self._settle(batch)

    def _settle(self, batch: list[tuple[T, Future[R]]]) -> None:
        try:
            results = self.process([request for request, _ in batch])
        except BaseException as exc:  # nothing was written: every caller learns why
            for _, future in batch:
                future.set_exception(exc)
            return
        for result, (_, future) in zip(results, batch, strict=True):
            if isinstance(result, DetenteError):
                future.set_exception(result)
            else:
                future.set_result(result)


class Sequencer(GroupCommit[T, Receipt]):
    """The one writer thread of a log: a :class:`BatchHandler` turns requests into entries."""

    def __init__(self, log: Log, handler: BatchHandler[T], max_batch: int = 4096) -> None:
        super().__init__(self._integrate, max_batch)
        self.log = log
        self.handler = handler

    def _integrate(self, requests: list[T]) -> list[Receipt | DetenteError]:
        try:
            results = self.handler.prepare(requests)
            entries = [r for r in results if isinstance(r, bytes)]
            done = self.log.append(entries) if entries else None
        except BaseException:
            self.handler.aborted()
            raise
        if done is not None:
            self.handler.committed(done, entries)
        out: list[Receipt | DetenteError] = []
        offset = 0
        for result in results:
            if isinstance(result, bytes):
                assert done is not None
                out.append(Receipt(done.first_index + offset, result, done.signed_checkpoint))
                offset += 1
            else:
                out.append(result)
        return out
