"""A flipped byte in storage is reported as tampering, never served."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from detente.errors import ForkError, TamperError
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.published import PublishedCheckpoint
from detente.tlog.storage import LogStore
from detente.tlog.tiles import TileRef
from tests.conftest import StoreFactory

SIGNER = Signer.generate("test.example/tamper")


def _execute(store: LogStore, statement: str, *params: object) -> None:
    db = store.db  # type: ignore[attr-defined]
    if type(store).__name__ == "PostgresStore":
        statement = statement.replace("?", "%s")
    db.execute(statement, params)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _read_all(store: LogStore, n: int) -> list[bytes]:
    return Log.open(store, SIGNER.verifier()).entries(0, n)


def _make(new_store: StoreFactory, n: int) -> tuple[LogStore, Log]:
    log = Log.create(new_store(), SIGNER)
    log.append([f"record {i}".encode() for i in range(n)])
    log.close()
    return new_store(), log


@pytest.mark.parametrize(("level", "index", "at"), [(0, 0, 5), (0, 1, 300), (1, 0, 0)])
def test_a_flipped_byte_in_a_stored_hash_is_tampering(
    new_store: StoreFactory, level: int, index: int, at: int
) -> None:
    store, _ = _make(new_store, 600)
    (data,) = store.read_tiles([TileRef(level, index, 256)])
    _execute(store, "UPDATE tiles SET data = ? WHERE level = ? AND idx = ?", _flip(data, at), level, index)
    with pytest.raises(TamperError):
        _read_all(new_store(), 600)


def test_a_flipped_byte_in_a_stored_entry_is_tampering(new_store: StoreFactory) -> None:
    store, _ = _make(new_store, 300)
    _execute(store, "UPDATE entries SET data = ? WHERE idx = ?", b"record 17!", 17)
    reader = Log.open(new_store(), SIGNER.verifier())
    assert reader.entries(0, 17)[-1] == b"record 16"
    with pytest.raises(TamperError, match="entry 17"):
        reader.entries(10, 20)


def test_a_deleted_entry_is_tampering(new_store: StoreFactory) -> None:
    store, _ = _make(new_store, 10)
    _execute(store, "DELETE FROM entries WHERE idx = ?", 4)
    with pytest.raises(TamperError, match="missing"):
        Log.open(new_store(), SIGNER.verifier()).entries(0, 10)


def test_a_forged_checkpoint_is_tampering(new_store: StoreFactory) -> None:
    store, log = _make(new_store, 10)
    forged = log.signed_checkpoint.replace("\n10\n", "\n11\n")
    _execute(store, "UPDATE checkpoint SET note = ? WHERE id = 1", forged)
    with pytest.raises(TamperError, match="checkpoint"):
        Log.open(new_store(), SIGNER.verifier())


def test_a_rolled_back_store_is_a_fork(new_store: StoreFactory, tmp_path: Path) -> None:
    published = PublishedCheckpoint(tmp_path / "published")
    log = Log.create(new_store(), SIGNER, published)
    log.append([b"a", b"b"])
    old_note = log.signed_checkpoint
    log.append([b"c"])
    log.close()
    store = new_store()
    _execute(store, "DELETE FROM entries WHERE idx = ?", 2)
    _execute(store, "UPDATE checkpoint SET note = ? WHERE id = 1", old_note)
    with pytest.raises(ForkError, match="old backup"):
        Log.open(new_store(), SIGNER.verifier(), published=published)


class _DiskFullAfterCreate(PublishedCheckpoint):
    """A checkpoint file that was written once, then meets a full disk."""

    def record(self, signed_checkpoint: str) -> None:
        if self.path.exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        super().record(signed_checkpoint)


def test_a_checkpoint_file_that_cannot_be_written_fails_no_committed_batch(
    new_store: StoreFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch is in the log whatever the file says: reported as appended (a client that retried a
    batch reported failed would be told it is a replay), and the lagging file is no fork."""
    published = _DiskFullAfterCreate(tmp_path / "published")
    log = Log.create(new_store(), SIGNER, published)
    empty = published.path.read_text()
    done = log.append([b"a", b"b"])
    assert (done.first_index, log.size) == (0, 2)
    assert "could not be written (No space left on device)" in caplog.text
    assert published.path.read_text() == empty
    log.close()
    reopened = Log.open(new_store(), SIGNER.verifier(), published=PublishedCheckpoint(published.path))
    assert reopened.entries(0, 2) == [b"a", b"b"]
