"""The log on the real stores: SQLite file and PostgreSQL server run the same tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from detente.errors import (
    ConfigError,
    ConflictError,
    ForkError,
    NotFoundError,
    TamperError,
    TooLargeError,
    WriterBusyError,
)
from detente.tlog import merkle
from detente.tlog.backup import CHUNK, restore_log
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.edge import TreeEdge
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.storage import MemoryStore
from detente.tlog.storage.port import Batch
from detente.tlog.tiles import TileRef, decode_entry_bundle, tiles_for_size
from tests.conftest import StoreFactory
from tests.tlog.helpers import DenseTree

SIGNER = Signer.generate("test.example/log")


def entries(n: int, start: int = 0) -> list[bytes]:
    return [f"entry {i}".encode() * (1 + i % 5) for i in range(start, start + n)]


def test_append_prove_and_reopen(new_store: StoreFactory) -> None:
    log = Log.create(new_store(), SIGNER)
    data = entries(700)
    for start in range(0, 700, 233):
        log.append(data[start : start + 233])
    tree = DenseTree(data)
    assert log.size == 700
    assert log.checkpoint.root == merkle.tree_root(tree, 700)
    log.close()

    reader = Log.open(new_store(), SIGNER.verifier())
    root = reader.checkpoint.root
    for index in (0, 255, 256, 699):
        proof = reader.inclusion_proof(index)
        assert proof == merkle.inclusion_proof(tree, index, 700)
        merkle.verify_inclusion(index, 700, merkle.leaf_hash(data[index]), proof, root)
    for old in (1, 256, 699):
        proof = reader.consistency_proof(old)
        merkle.verify_consistency(old, 700, reader.root_at(old), root, proof)
    assert reader.entries(250, 260) == data[250:260]
    assert decode_entry_bundle(reader.entry_bundle(2, 188)) == data[512:700]
    assert open_checkpoint(reader.signed_checkpoint, SIGNER.verifier()).checkpoint.size == 700


def test_a_batch_of_several_insert_statements_is_stored_whole(new_store: StoreFactory) -> None:
    log = Log.create(new_store(), SIGNER)
    data = entries(600)  # SQLite inserts 256 rows a statement: two full and a remainder
    log.append(data)
    log.close()
    assert Log.open(new_store(), SIGNER.verifier()).entries(0, 600) == data


def test_tiles_served_match_every_tile_of_the_tree(new_store: StoreFactory) -> None:
    log = Log.create(new_store(), SIGNER)
    log.append(entries(600))
    tree = DenseTree(entries(600))
    for ref in tiles_for_size(600):
        row = tree.levels[8 * ref.level][256 * ref.index : 256 * ref.index + ref.width]
        assert log.tile(ref) == b"".join(row)
    assert log.tile(TileRef(0, 2, 10)) == b"".join(tree.levels[0][512:522])
    with pytest.raises(NotFoundError):
        log.tile(TileRef(0, 3, 1))


def test_a_second_writer_is_refused(new_store: StoreFactory) -> None:
    writer = Log.create(new_store(), SIGNER)
    with pytest.raises(WriterBusyError):
        Log.open(new_store(), SIGNER.verifier(), signer=SIGNER)
    writer.append(entries(3))
    assert writer.size == 3


def test_a_writer_closed_is_never_in_the_way_of_the_next(new_store: StoreFactory) -> None:
    """Closing gives the lock back before it returns (PostgreSQL would otherwise drop it only once the
    old session's backend has exited, a moment later): reopening at once is never refused."""
    log = Log.create(new_store(), SIGNER)
    for n in range(30):
        log.append(entries(1))
        log.close()
        log = Log.open(new_store(), SIGNER.verifier(), signer=SIGNER)
        assert log.size == n + 1
    log.close()


def test_a_stale_checkpoint_loses_the_compare_and_swap(new_store: StoreFactory) -> None:
    log = Log.create(new_store(), SIGNER)
    stale = log.signed_checkpoint
    log.append(entries(2))
    other = new_store()
    with pytest.raises(ConflictError):
        other.commit(Batch(2, [b"x"], {}, stale, "forged\n"))
    assert Log.open(new_store(), SIGNER.verifier()).size == 2


def test_an_oversized_entry_is_refused_and_nothing_is_appended(new_store: StoreFactory) -> None:
    log = Log.create(new_store(), SIGNER)
    log.append([b"a" * 65_535])
    with pytest.raises(TooLargeError, match="65536 bytes"):
        log.append([b"ok", b"b" * 65_536])
    assert log.size == 1
    assert Log.open(new_store(), SIGNER.verifier()).size == 1


def test_read_only_log_refuses_to_append(new_store: StoreFactory) -> None:
    Log.create(new_store(), SIGNER).close()
    reader = Log.open(new_store(), SIGNER.verifier())
    with pytest.raises(ConflictError, match="read-only"):
        reader.append([b"x"])


def test_a_store_without_a_log_is_refused(new_store: StoreFactory) -> None:
    with pytest.raises(ConfigError, match="log init"):
        Log.open(new_store(), SIGNER.verifier())


def test_a_log_cannot_be_created_twice(new_store: StoreFactory) -> None:
    Log.create(new_store(), SIGNER).close()
    with pytest.raises(ConflictError):
        Log.create(new_store(), SIGNER)


def test_another_key_cannot_write(new_store: StoreFactory) -> None:
    Log.create(new_store(), SIGNER).close()
    intruder = Signer.generate("test.example/log")
    with pytest.raises(ConfigError, match="not this log's key"):
        Log.open(new_store(), SIGNER.verifier(), signer=intruder)


def test_out_of_range_reads_are_not_found(new_store: StoreFactory) -> None:
    log = Log.create(new_store(), SIGNER)
    log.append(entries(4))
    with pytest.raises(NotFoundError):
        log.inclusion_proof(4)
    with pytest.raises(NotFoundError):
        log.consistency_proof(0)
    with pytest.raises(NotFoundError):
        log.entries(2, 5)


def test_a_reader_follows_the_writer_and_refuses_a_rewritten_history(new_store: StoreFactory) -> None:
    writer = Log.create(new_store(), SIGNER)
    writer.append(entries(10))
    reader = Log.open(new_store(), SIGNER.verifier())
    assert reader.refresh() is False
    writer.append(entries(5, 10))
    assert reader.refresh() is True
    assert reader.size == 15
    assert reader.entries(12, 13) == entries(1, 12)
    writer.close()

    rewritten = Log.create(MemoryStore(), SIGNER)  # same key, another history of 20 entries
    rewritten.append(entries(20, 100))
    restore_log(rewritten, new_store(), force=True)
    with pytest.raises(ForkError, match="does not extend"):
        reader.refresh()
    assert reader.size == 15


def test_a_restore_swaps_the_whole_log_in_one_transaction(new_store: StoreFactory) -> None:
    log = Log.create(new_store(), SIGNER)
    log.append(entries(300))
    before = log.signed_checkpoint
    log.close()
    backup = Log.create(MemoryStore(), SIGNER)
    backup.append(entries(40_000, 1_000))  # three chunks of the copy
    target, reader = new_store(), new_store()
    seen: list[str | None] = []

    def batches_then_failure() -> Iterator[Batch]:
        data = entries(600, 1_000)
        _, tiles = TreeEdge.empty().extend([merkle.leaf_hash(e) for e in data])
        yield Batch(0, data, tiles, "incomplete copy: 0\n", "incomplete copy: 600\n")
        seen.append(reader.load_checkpoint())
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        target.replace("incomplete copy: 0\n", batches_then_failure())
    assert seen == [before]  # readers never saw a half-swapped log
    reopened = Log.open(new_store(), SIGNER.verifier())
    assert reopened.signed_checkpoint == before
    assert reopened.entries(0, 300) == entries(300)

    restore_log(backup, target, force=True)
    restored = Log.open(new_store(), SIGNER.verifier())
    assert restored.signed_checkpoint == backup.signed_checkpoint
    assert restored.entries(39_990, 40_000) == entries(10, 40_990)


def test_a_damaged_backup_is_refused_before_the_log_changes(new_store: StoreFactory) -> None:
    log = Log.create(new_store(), SIGNER)
    log.append(entries(5))
    before = log.signed_checkpoint
    log.close()
    store = MemoryStore()
    damaged = Log.create(store, SIGNER)
    damaged.append(entries(CHUNK + 10))
    store.entries[CHUNK + 3] = b"evil"  # in the second chunk: the first would have been copied already
    with pytest.raises(TamperError, match=f"entry {CHUNK + 3}"):
        restore_log(damaged, new_store(), force=True)
    reopened = Log.open(new_store(), SIGNER.verifier())
    assert reopened.signed_checkpoint == before
    assert reopened.entries(0, 5) == entries(5)


def test_a_restore_is_refused_while_a_writer_runs(new_store: StoreFactory) -> None:
    writer = Log.create(new_store(), SIGNER)
    writer.append(entries(3))
    backup = Log.create(MemoryStore(), SIGNER)
    backup.append(entries(7))
    with pytest.raises(WriterBusyError, match="stop it first"):
        restore_log(backup, new_store(), force=True)
    writer.append(entries(1, 3))  # the writer never noticed
    assert Log.open(new_store(), SIGNER.verifier()).entries(0, 4) == entries(4)
