"""A statement's blobs are stored before the entry that cites them, so no crash or full disk can leave
the log citing a blob the registry does not hold (the replay would refuse such a log)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from detente.registry.core import Registry
from detente.registry.entry import MemoryBlobs
from detente.statements.canonical import sha256_hex
from tests.accords.world import World, world


@dataclass
class WatchedBlobs(MemoryBlobs):
    """Blobs that note the log's size at each put, and fail while ``broken`` is set."""

    registry: Registry | None = None
    sizes: list[int] = field(default_factory=list)
    broken: bool = False

    def put(self, data: bytes) -> str:
        assert self.registry is not None
        if self.broken:
            raise OSError(28, "No space left on device")
        self.sizes.append(self.registry.log.size)
        return super().put(data)


@pytest.fixture
def w() -> World:
    return world()


def watch(w: World) -> WatchedBlobs:
    blobs = WatchedBlobs(registry=w.registry)
    w.registry.blobs = blobs
    w.registry.projection.blobs = blobs.get
    return blobs


def test_the_terms_are_stored_before_the_offer_is_appended(w: World) -> None:
    blobs = watch(w)
    m1, _, doc = w.offer("RU", "US", "blob first")
    before = w.registry.log.size
    receipt = w.registry.submit(m1.envelope.encode(), (doc,))
    assert blobs.sizes == [before], "the blob was stored only after the offer was appended"
    assert receipt.index == before
    assert blobs.get(sha256_hex(doc)) == doc


def test_a_blob_store_that_fails_appends_nothing_and_a_retry_succeeds(w: World) -> None:
    blobs = watch(w)
    m1, _, doc = w.offer("RU", "US", "disk full")
    before, exchanges = w.registry.log.size, dict(w.registry.projection.exchanges)
    blobs.broken = True
    with pytest.raises(OSError, match="No space left"):
        w.registry.submit(m1.envelope.encode(), (doc,))
    assert w.registry.log.size == before, "nothing is appended when its blob cannot be stored"
    assert w.registry.projection.exchanges == exchanges, "the projection forgot the refused batch"
    blobs.broken = False
    assert w.registry.submit(m1.envelope.encode(), (doc,)).index == before
    reopened = Registry.open(w.registry.log, w.registry.notary, "notary.test", blobs, w.clock)
    assert reopened.projection.sids == w.registry.projection.sids, "the log replays with its blobs"
