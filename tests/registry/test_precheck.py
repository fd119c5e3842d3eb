"""Pre-verification never lets a signature count that the writer would not count.

Each test pre-verifies requests the way the service does (:class:`Prechecks`), then hands them to the
single writer; most use an executor that runs each chunk at once, so a test knows which keys it saw.
A recorder around :meth:`PublicKey.verify` tells which signatures were checked before the writer ran
and which by the writer itself, so each test shows that the pre-verified path was taken.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from detente.errors import DetenteError, MalformedError, VerificationError
from detente.registry.core import Receipt, Registry, Request
from detente.registry.precheck import (
    KeySnapshot,
    Prechecks,
    _check_all,
    _open_all,
    check_request,
    open_request,
)
from detente.statements.dsse import Envelope, Signature, sign_envelope
from detente.statements.keys import PublicKey, SigningKey
from detente.statements.statement import Statement
from tests.accords.world import PartyKeys, World, world


@dataclass
class Recorder:
    """Every Ed25519 verification made, as (phase, key id, valid)."""

    phase: str = "setup"
    calls: list[tuple[str, str, bool]] = field(default_factory=list)

    def by(self, phase: str) -> list[tuple[str, bool]]:
        """The (key id, valid) pairs verified in ``phase``."""
        return [(k, ok) for p, k, ok in self.calls if p == phase]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    record = Recorder()
    original = PublicKey.verify

    def verify(key: PublicKey, message: bytes, signature: bytes) -> bool:
        valid = original(key, message, signature)
        record.calls.append((record.phase, key.keyid, valid))
        return valid

    monkeypatch.setattr(PublicKey, "verify", verify)
    return record


class InlineExecutor(ThreadPoolExecutor):
    """Runs each task at once in the caller's thread, so a test knows exactly when keys are read."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class IdleExecutor(ThreadPoolExecutor):
    """Accepts tasks but never starts them: the writer must not wait for them."""

    def __init__(self) -> None:
        super().__init__(1)
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.futures.append(Future())
        return self.futures[-1]


class BrokenExecutor(ThreadPoolExecutor):
    """A pool whose worker died: every task fails, as a process pool's do once one of its processes
    is gone."""

    def __init__(self) -> None:
        super().__init__(1)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()  # queued for a worker: no longer taken back
        future.set_exception(BrokenProcessPool("a process in the pool was terminated abruptly"))
        return future


@pytest.fixture
def w() -> World:
    return world()


@pytest.fixture
def inline() -> Iterator[InlineExecutor]:
    with InlineExecutor(1) as executor:
        yield executor


def prechecked(
    reg: Registry, requests: Sequence[Request], executor: ThreadPoolExecutor, recorder: Recorder
) -> list[Request]:
    """The requests with their checks started one by one, against the keys the registry knows now."""
    recorder.phase = "pre"
    checks = Prechecks(executor, lambda: reg.projection.known_keys, chunk=1)
    return [checks.start(r) for r in requests]


def submit(reg: Registry, requests: Sequence[Request], recorder: Recorder) -> list[Receipt | DetenteError]:
    """Run the writer on already pre-verified requests; verifications from now on are the writer's."""
    size = reg.log.size
    recorder.phase = "writer"
    results = reg.submit_batch(requests)
    accepted = sum(isinstance(r, Receipt) for r in results)
    assert reg.log.size == size + accepted, "a refused statement was appended"
    return results


def rotate(w: World, party: str = "RU") -> tuple[Statement, PartyKeys]:
    """Version 2 of ``party``'s keyset with all new keys, signed by the old and the new roots."""
    old, new = w.parties[party], PartyKeys.make(party, generation=1)
    new.version = 2
    return new.keyset(w.clock.text(), previous=w.keysets[party], signers=old.roots), new


def forge(st: Statement) -> bytes:
    """``st`` with its (only) signature replaced by zeros, under the same key id."""
    sig = st.envelope.signatures[0]
    env = st.envelope
    return Envelope(env.payload_type, env.payload, (Signature(sig.keyid, bytes(64)),)).encode()


def test_a_forged_signature_is_refused_on_the_pre_verified_path(
    w: World, inline: InlineExecutor, recorder: Recorder
) -> None:
    m1, _, doc = w.offer("RU", "US", "forged")
    requests = prechecked(w.registry, [Request(forge(m1), (doc,))], inline, recorder)
    [result] = submit(w.registry, requests, recorder)
    assert isinstance(result, VerificationError)
    assert "does not verify" in str(result)
    assert recorder.by("pre") == [(w.parties["RU"].minister.keyid, False)]
    assert recorder.by("writer") == []  # the writer used the remembered outcome: the path was taken


def test_a_key_of_the_wrong_role_does_not_count_though_its_signature_verified(
    w: World, inline: InlineExecutor, recorder: Recorder
) -> None:
    m1, _, doc = w.offer("RU", "US", "role")
    by_cert = sign_envelope(m1.envelope.payload_type, m1.envelope.payload, [w.parties["RU"].cert])
    requests = prechecked(w.registry, [Request(by_cert.encode(), (doc,))], inline, recorder)
    [result] = submit(w.registry, requests, recorder)
    assert isinstance(result, VerificationError)
    assert "threshold of RU's" in str(result)
    assert recorder.by("pre") == [(w.parties["RU"].cert.keyid, True)]


def test_a_revoked_key_does_not_count_though_its_signature_verified(
    w: World, inline: InlineExecutor, recorder: Recorder
) -> None:
    v2, _ = rotate(w)
    w.registry.submit(v2.envelope.encode())
    m1, _, doc = w.offer("RU", "US", "revoked")  # by the old minister key, revoked by version 2
    old_minister = w.parties["RU"].minister.keyid
    assert old_minister in w.registry.projection.known_keys  # known, so checked early
    requests = prechecked(w.registry, [Request(m1.envelope.encode(), (doc,))], inline, recorder)
    [result] = submit(w.registry, requests, recorder)
    assert isinstance(result, VerificationError)
    assert "keyset version 2" in str(result)
    assert recorder.by("pre") == [(old_minister, True)]


def test_a_key_revoked_earlier_in_the_same_batch_does_not_count(
    w: World, inline: InlineExecutor, recorder: Recorder
) -> None:
    v2, _ = rotate(w)
    m1, _, doc = w.offer("RU", "US", "revoked in batch")
    requests = prechecked(
        w.registry, [Request(v2.envelope.encode()), Request(m1.envelope.encode(), (doc,))], inline, recorder
    )
    rotated, offer = submit(w.registry, requests, recorder)
    assert isinstance(rotated, Receipt)
    assert isinstance(offer, VerificationError)
    assert "keyset version 2" in str(offer)


def test_a_key_rotated_in_earlier_in_the_same_batch_is_verified_by_the_writer(
    w: World, inline: InlineExecutor, recorder: Recorder
) -> None:
    v2, new = rotate(w)
    m1, _, doc = w.offer("RU", "US", "new key")
    m1 = new.fm.sign("offer", w.clock.text(), dict(m1.body))
    m2, _, doc2 = w.offer("RU", "FR", "new key forged")
    m2 = new.fm.sign("offer", w.clock.text(), dict(m2.body))
    batch = [
        Request(v2.envelope.encode()),
        Request(m1.envelope.encode(), (doc,)),
        Request(forge(m2), (doc2,)),
    ]
    requests = prechecked(w.registry, batch, inline, recorder)
    assert new.minister.keyid not in [k for k, _ in recorder.by("pre")]  # unknown before the batch
    rotated, accepted, forged = submit(w.registry, requests, recorder)
    assert isinstance(rotated, Receipt)
    assert isinstance(accepted, Receipt)
    assert isinstance(forged, VerificationError)
    assert "does not verify" in str(forged)
    assert (new.minister.keyid, True) in recorder.by("writer")
    assert (new.minister.keyid, False) in recorder.by("writer")


def test_a_pre_verified_statement_of_other_bytes_is_ignored(w: World, recorder: Recorder) -> None:
    m1, _, doc = w.offer("RU", "US", "swap")
    honest = open_request(m1.envelope.encode(), w.registry.projection.known_keys)
    [result] = submit(w.registry, [Request(forge(m1), (doc,), opened=lambda: honest)], recorder)
    assert isinstance(result, VerificationError)  # the request's own bytes were opened and checked
    assert recorder.by("writer") == [(w.parties["RU"].minister.keyid, False)]


def test_a_worker_answers_the_outcomes_and_the_id_the_writer_would_find(w: World) -> None:
    m1, _, _ = w.offer("RU", "US", "checked by a worker")
    keys = w.registry.projection.known_keys
    read = open_request(m1.envelope.encode(), keys)
    outcomes, digest = check_request(m1.envelope.encode(), keys)
    assert (outcomes, digest.hex()) == (read.envelope.outcomes(), read.sid)
    assert read.envelope.outcomes()  # the signature was checked


def test_a_chunk_is_answered_as_each_envelope_would_be_alone(w: World) -> None:
    """The passes over a chunk (read all, verify all, answer all) answer each envelope as it would be
    answered alone, refusals in their places; and the writer's own opening of a chunk likewise."""
    keys = w.registry.projection.known_keys
    honest = [w.offer("RU", "US", f"chunk {n}")[0] for n in range(3)]
    unknown = sign_envelope(
        honest[0].envelope.payload_type, honest[0].envelope.payload, [SigningKey(bytes(32))]
    )
    chunk = [
        honest[0].envelope.encode(), b'{"payload": ', forge(honest[1]), unknown.encode(),
        b'{"payloadType":"x","payload":"","signatures":[]}', honest[2].envelope.encode(),
    ]  # fmt: skip

    def alone(step: Callable[[bytes], object]) -> list[object]:
        out: list[object] = []
        for data in chunk:
            try:
                out.append(step(data))
            except DetenteError as exc:
                out.append((type(exc), str(exc)))
        return out

    def spelled(answers: Sequence[object]) -> list[object]:
        return [(type(a), str(a)) if isinstance(a, DetenteError) else a for a in answers]

    def outcomes(st: object) -> object:
        return st.envelope.outcomes() if isinstance(st, Statement) else st

    answers = spelled(_check_all(chunk, keys))
    assert answers == alone(lambda data: check_request(data, keys))
    refused = [a[0] for a in answers if isinstance(a, tuple) and isinstance(a[0], type)]
    assert refused == [MalformedError, MalformedError]
    forged = {honest[1].envelope.signatures[0].keyid: (w.parties["RU"].minister.public.raw, False)}
    assert answers[2] == (forged, bytes.fromhex(honest[1].sid))  # refused by the writer, not here
    assert answers[3] == ({}, bytes.fromhex(honest[0].sid))  # an unknown key is checked by no one
    opened = [outcomes(st) for st in spelled(_open_all(chunk, keys))]
    assert opened == [outcomes(st) for st in alone(lambda data: open_request(data, keys))]
    assert opened[2] == forged


def test_a_workers_answers_name_each_key_by_one_string(w: World) -> None:
    """So that pickling a chunk's answers writes each key id once, not once an envelope."""
    keys = w.registry.projection.known_keys
    answers = [check_request(w.offer("RU", "US", f"offer {n}")[0].envelope.encode(), keys) for n in range(2)]
    [first], [second] = (list(outcomes) for outcomes, _ in answers)
    assert first == second
    assert first is second


def test_a_refusal_found_early_is_the_writers_refusal(
    w: World, inline: InlineExecutor, recorder: Recorder
) -> None:
    bad = [b'{"payload": ', b'{"payloadType":"x","payload":"","signatures":[]}']
    early = submit(w.registry, prechecked(w.registry, [Request(b) for b in bad], inline, recorder), recorder)
    late = submit(w.registry, [Request(b) for b in bad], recorder)
    assert [type(e) for e in early] == [MalformedError, MalformedError]
    assert [str(e) for e in early] == [str(e) for e in late]


def test_a_chunk_no_worker_has_started_is_opened_by_the_writer(w: World, recorder: Recorder) -> None:
    idle = IdleExecutor()
    checks = Prechecks(idle, lambda: w.registry.projection.known_keys, chunk=2)
    offers = [w.offer("RU", "US", f"idle {n}") for n in range(3)]
    requests = [checks.start(Request(m.envelope.encode(), (doc,))) for m, _, doc in offers]
    assert len(idle.futures) == 1  # the first two filled a chunk; the third waits in the next one
    results = submit(w.registry, requests, recorder)
    assert all(isinstance(r, Receipt) for r in results)
    assert len(recorder.by("writer")) == 3
    assert all(f.cancelled() for f in idle.futures)  # taken back from the executor: it never runs
    idle.shutdown()


def test_the_submitting_thread_yields_the_gil_once_a_chunk_is_launched(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor's threads need the GIL to hand a launched chunk to a worker, and a thread that keeps
    submitting never blocks: it pauses once per chunk, after launching it, never holding its lock."""
    checks = Prechecks(IdleExecutor(), lambda: w.registry.projection.known_keys, chunk=3)
    pauses: list[tuple[float, int, bool]] = []
    monkeypatch.setattr(time, "sleep", lambda s: pauses.append((s, checks.launched, checks._lock.locked())))
    for n in range(7):
        checks.start(Request(b"envelope %d" % n))
    assert pauses == [(0, 1, False), (0, 2, False)]
    checks.executor.shutdown()


def test_a_started_request_keeps_what_it_was_given(w: World) -> None:
    """Only ``opened`` is added: the envelope, the blobs and the operator's register flag go on."""
    # Prechecks.start builds the request field by field: a new field must be passed on there too
    assert [f.name for f in msgspec.structs.fields(Request)] == ["envelope", "blobs", "register", "opened"]
    checks = Prechecks(IdleExecutor(), lambda: w.registry.projection.known_keys, chunk=2)
    given = Request(b"envelope bytes", (b"a blob", b"another"), True)
    started = checks.start(given)
    assert (started.envelope, started.blobs, started.register) == (given.envelope, given.blobs, True)
    assert started.opened is not None
    assert given.opened is None
    assert msgspec.structs.replace(started, opened=None) == given
    checks.executor.shutdown()


class RecordingExecutor(IdleExecutor):
    """Never starts a task, but keeps each task's arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls.append(args)
        return super().submit(fn, *args, **kwargs)


def test_a_key_snapshot_gives_back_the_keys_it_packed(w: World) -> None:
    keys = w.registry.projection.known_keys
    assert len(keys) > 3  # every role of every party of the world
    snapshot = KeySnapshot.of(keys)
    assert snapshot.keys() == keys
    assert snapshot.keys() is snapshot.keys()  # rebuilt once per version, not per chunk
    other = KeySnapshot.of({k: keys[k] for k in list(keys)[:1]})
    assert other.serial != snapshot.serial
    assert other.keys() == {k: keys[k] for k in list(keys)[:1]}
    assert snapshot.keys() == keys  # a version seen before is rebuilt again, not confused


def test_a_key_id_of_another_length_is_not_packed(w: World) -> None:
    key = next(iter(w.registry.projection.known_keys.values()))
    with pytest.raises(ValueError, match="unexpected length"):
        KeySnapshot.of({"ab": key})


def test_chunks_carry_the_keys_packed_once_per_version(w: World) -> None:
    executor = RecordingExecutor()
    checks = Prechecks(executor, lambda: w.registry.projection.known_keys, chunk=1)
    offers = [w.offer("RU", "US", f"packed {n}")[0] for n in range(2)]
    for offer in offers:
        checks.start(Request(offer.envelope.encode()))
    v2, _ = rotate(w)
    w.registry.submit(v2.envelope.encode())  # the projection replaces its known keys
    checks.start(Request(offers[0].envelope.encode()))
    first, second, third = (args[1] for args in executor.calls)
    assert first is second  # the same keys: packed once
    assert third.serial != first.serial
    assert third.keys() == w.registry.projection.known_keys
    assert set(third.keys()) - set(first.keys())  # the rotated-in keys are in the new version
    executor.shutdown()


def _mixed_batch(w: World) -> list[Request]:
    """A forgery, its honest original, a rotation, and an offer by a new key reusing an id."""
    v2, new = rotate(w)
    m1, _, doc = w.offer("RU", "US", "threads")
    late = new.fm.sign("offer", w.clock.text(), dict(m1.body))
    return [
        Request(forge(m1), (doc,)),
        Request(m1.envelope.encode(), (doc,)),
        Request(v2.envelope.encode()),
        Request(late.envelope.encode(), (doc,)),
    ]


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_prechecks_on_a_real_pool_give_what_the_writer_alone_gives(kind: str) -> None:
    alone, pooled = world(), world()
    expected = alone.registry.submit_batch(_mixed_batch(alone))
    context = multiprocessing.get_context("forkserver")
    pool = ThreadPoolExecutor(2) if kind == "threads" else ProcessPoolExecutor(2, mp_context=context)
    with pool:
        checks = Prechecks(pool, lambda: pooled.registry.projection.known_keys, chunk=2)
        requests = [checks.start(r) for r in _mixed_batch(pooled)]
        checks.flush()
        pool.submit(os.getpid).result()  # first in, first out: both chunks are now the workers'
        results = pooled.registry.submit_batch(requests)
    assert [_summary(r) for r in results] == [_summary(r) for r in expected]
    assert [type(r).__name__ for r in results] == ["VerificationError", "Receipt", "Receipt", "ConflictError"]


def _summary(result: Receipt | DetenteError) -> str:
    return f"{result.index} {result.sid} {result.kind}" if isinstance(result, Receipt) else repr(result)


def test_a_chunk_whose_worker_died_is_checked_by_the_writer(
    w: World, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    offers = [w.offer("RU", "US", f"orphaned {n}") for n in range(3)]
    forged = Request(forge(offers[2][0]), (offers[2][2],))
    requests = [Request(m.envelope.encode(), (doc,)) for m, _, doc in offers[:2]] + [forged]
    with BrokenExecutor() as broken:
        checks = Prechecks(broken, lambda: w.registry.projection.known_keys, chunk=3)
        started = [checks.start(r) for r in requests]
    first, second, third = submit(w.registry, started, recorder)
    assert isinstance(first, Receipt)
    assert isinstance(second, Receipt)
    assert isinstance(third, VerificationError)  # still refused, by the writer's own check
    assert len(recorder.by("writer")) == 3
    assert "the writer checks its chunk itself" in caplog.text
