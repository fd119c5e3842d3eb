"""A burst of submissions is pre-verified by the service's worker processes and lands exactly once each."""

from __future__ import annotations

import gc
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import process as futures_process
from pathlib import Path

from detente.errors import VerificationError
from detente.registry.core import Receipt, Request
from detente.registry.precheck import CHUNK
from detente.service.core import QUEUED_CHUNKS, RegistryService, verifier_pool
from detente.statements.dsse import Envelope, Signature
from detente.statements.statement import Statement
from tests.service.scene import incident, make_home, scene


def forged(st: Statement) -> bytes:
    """``st`` with a signature of zeros under its signer's key id."""
    env = st.envelope
    return Envelope(env.payload_type, env.payload, (Signature(env.signatures[0].keyid, bytes(64)),)).encode()


def test_a_burst_is_checked_by_the_workers_and_lands_in_order(tmp_path: Path) -> None:
    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}", record=False) as s:
        service = s.service
        assert service.prechecks is not None
        assert service.pool is not None
        statements = [incident(s.keys["RU"].certs, n, s.clock.text()) for n in range(CHUNK + 8)]
        bodies = [st.envelope.encode() for st in statements]
        bodies[7] = forged(statements[7])
        start = service.registry.log.size
        with service.lock:  # the writer waits, so the burst queues up and a full chunk goes to the pool
            futures = [service.submit(Request(b)) for b in bodies]
            service.pool.submit(os.getpid).result()  # first in, first out: the chunk is the workers'
        assert service.prechecks.launched == 1
        assert isinstance(futures.pop(7).exception(), VerificationError)
        done = [f.result() for f in futures]
        receipts = [r for r in done if isinstance(r, Receipt)]
        assert len(receipts) == len(done)
        assert [r.index for r in receipts] == list(range(start, start + len(receipts)))
        assert [r.sid for r in receipts] == [st.sid for n, st in enumerate(statements) if n != 7]
        service.read(lambda registry: registry.rebuild())  # the log replays: every entry was valid


def test_a_warm_start_has_its_workers_before_the_first_burst(tmp_path: Path) -> None:
    home = make_home(tmp_path, f"sqlite:///{tmp_path / 'log.db'}")
    with RegistryService.open(home, verifiers=2) as service:
        service.start(lapse_timer=False, publish=False, warm=True)
        assert service.pool is not None
        pids = {service.pool.submit(os.getpid).result() for _ in range(8)}
        assert os.getpid() not in pids
        assert 1 <= len(pids) <= 2  # the workers started by the warm start, and no more
        # each worker's collector is tuned as the service's own is (tune_collector)
        assert service.pool.submit(gc.get_threshold).result() == (500_000, 20, 100)
    with RegistryService.open(home, verifiers=0) as alone:
        assert alone.pool is None
        assert alone.prechecks is None


def test_the_pool_queues_more_chunks_than_the_standard_librarys_default() -> None:
    """Eight chunks beyond one a worker are queued, so that a worker finds its next chunk waiting in a
    burst; the standard library's constant is as it was for every other pool."""
    default = futures_process.EXTRA_QUEUED_CALLS
    pool = verifier_pool(2)
    try:
        # the depth the standard library gives its call queue when the pool is made (a private field: no
        # public one says it, and waiting for the pool's threads to fill the queue would race them)
        assert pool._call_queue._maxsize == 2 + QUEUED_CHUNKS  # type: ignore[attr-defined]
        assert default < QUEUED_CHUNKS
    finally:
        pool.shutdown()
    assert default == futures_process.EXTRA_QUEUED_CALLS
    other = ProcessPoolExecutor(2)
    try:
        assert other._call_queue._maxsize == 2 + default  # type: ignore[attr-defined]
    finally:
        other.shutdown()
