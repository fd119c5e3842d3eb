"""The sequencer: group commit, refusals in sequence order, and failures reported to every caller."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from detente.errors import ConflictError, DetenteError, InputError, TooLargeError
from detente.tlog import merkle
from detente.tlog.log import Integration, Log
from detente.tlog.note import Signer
from detente.tlog.sequencer import RawEntries, Sequencer
from detente.tlog.storage import MemoryStore
from tests.conftest import StoreFactory

SIGNER = Signer.generate("test.example/seq")


class GatedUnique:
    """Refuses an entry already seen (also earlier in the same batch); the first batch waits for a gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.seen: set[bytes] = set()
        self.pending: set[bytes] = set()
        self.batches: list[int] = []
        self.aborts = 0

    def prepare(self, requests: Sequence[bytes]) -> list[bytes | DetenteError]:
        self.entered.set()
        self.gate.wait()
        out: list[bytes | DetenteError] = []
        for r in requests:
            if r in self.seen or r in self.pending:
                out.append(InputError(f"duplicate {r!r}"))
            else:
                self.pending.add(r)
                out.append(r)
        return out

    def committed(self, integration: Integration, entries: Sequence[bytes]) -> None:
        self.batches.append(integration.count)
        self.seen |= self.pending
        self.pending.clear()

    def aborted(self) -> None:
        self.aborts += 1
        self.pending.clear()


def test_requests_waiting_during_a_commit_are_integrated_as_one_batch(new_store: StoreFactory) -> None:
    handler = GatedUnique()
    seq = Sequencer(Log.create(new_store(), SIGNER), handler).start()
    first = seq.submit(b"first")
    handler.entered.wait()
    rest = [seq.submit(f"r{i}".encode()) for i in range(50)]
    duplicate = seq.submit(b"r7")
    handler.gate.set()
    assert first.result().index == 0
    indexes = sorted(f.result().index for f in rest)
    assert indexes == list(range(1, 51))
    with pytest.raises(InputError, match="duplicate"):
        duplicate.result()
    seq.close()
    assert handler.batches == [1, 50]


def test_receipts_carry_a_checkpoint_that_proves_the_entry() -> None:
    log = Log.create(MemoryStore(), SIGNER)
    seq = Sequencer(log, RawEntries()).start()
    receipts = [f.result() for f in [seq.submit(f"e{i}".encode()) for i in range(20)]]
    seq.close()
    for receipt in receipts:
        size = int(receipt.signed_checkpoint.split("\n")[1])
        proof = log.inclusion_proof(receipt.index, size)
        merkle.verify_inclusion(
            receipt.index, size, merkle.leaf_hash(receipt.entry), proof, log.root_at(size)
        )


def test_a_failed_batch_fails_every_caller_and_aborts_the_handler() -> None:
    handler = GatedUnique()
    handler.gate.set()
    seq = Sequencer(Log.create(MemoryStore(), SIGNER), handler).start()
    big = seq.submit(b"x" * 70_000)
    with pytest.raises(TooLargeError):
        big.result()
    assert handler.aborts == 1
    assert seq.submit(b"ok").result().index == 0
    seq.close()
    with pytest.raises(ConflictError, match="stopped"):
        seq.submit(b"late")


def test_a_request_cancelled_while_queued_is_dropped_and_the_writer_lives_on() -> None:
    handler = GatedUnique()
    seq = Sequencer(Log.create(MemoryStore(), SIGNER), handler).start()
    first = seq.submit(b"first")
    handler.entered.wait()
    cancelled = seq.submit(b"given up")
    assert cancelled.cancel()
    kept = seq.submit(b"kept")
    handler.gate.set()
    assert first.result().index == 0
    assert kept.result().index == 1
    seq.close()
    assert handler.batches == [1, 1]
