"""The SQLite store's own choices: multi-row inserts (every row lands once, in order, whatever the group
size) and the page size of a new file (an existing file keeps its own, and works)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.storage.port import Batch
from detente.tlog.storage.sqlite import PAGE_SIZE, SQLiteStore, insert_rows


@pytest.mark.parametrize("group", [1, 2, 3, 256])
def test_every_row_is_inserted_once_in_order(tmp_path: Path, group: int) -> None:
    db = sqlite3.connect(tmp_path / "rows.db", isolation_level=None)
    db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b BLOB, c TEXT)")
    inserted: list[tuple[int, bytes, str]] = []
    for count in range(8):  # every count up to more than two groups of the small sizes
        rows = [(len(inserted) + i, bytes([i]) * i, f"row {i}") for i in range(count)]
        insert_rows(db, "INSERT INTO t (a, b, c)", rows, group)
        inserted += rows
        assert db.execute("SELECT a, b, c FROM t ORDER BY a").fetchall() == inserted
    db.close()


def test_a_refused_row_fails_its_statement(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "rows.db", isolation_level=None)
    db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b BLOB NOT NULL)")
    with pytest.raises(sqlite3.IntegrityError):
        insert_rows(db, "INSERT INTO t (a, b)", [(1, b"x"), (1, b"y")])
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
    db.close()


def test_a_new_file_gets_the_larger_pages(tmp_path: Path) -> None:
    store = SQLiteStore.connect(tmp_path / "new.db")
    assert store.db.execute("PRAGMA page_size").fetchone() == (PAGE_SIZE,)
    assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.close()


def test_a_file_made_with_other_pages_keeps_them_and_works(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE made_before (a)")
    old.close()
    signer = Signer.generate("test.example/log")
    log = Log.create(SQLiteStore.connect(tmp_path / "old.db"), signer)
    data = [b"entry %d" % i for i in range(300)]
    log.append(data)
    log.close()
    store = SQLiteStore.connect(tmp_path / "old.db")
    assert store.db.execute("PRAGMA page_size").fetchone() == (4096,)
    assert Log.open(store, signer.verifier()).entries(0, 300) == data


def test_a_failed_commit_is_rolled_back_and_leaves_no_transaction_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that fails (here a deferred constraint, as a full disk would) left the transaction open,
    and every later batch then failed to begin one; the log holds what was committed before."""
    signer = Signer.generate("test.example/log")
    store = SQLiteStore.connect(tmp_path / "log.db")
    log = Log.create(store, signer)
    log.append([b"first"])
    store.db.execute("PRAGMA foreign_keys = ON")
    store.db.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
    store.db.execute(
        "CREATE TEMP TABLE child (id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    write = store._write

    def write_then_break_the_commit(batch: Batch) -> None:
        write(batch)
        store.db.execute("INSERT INTO child VALUES (1)")  # refused only when the transaction commits

    monkeypatch.setattr(store, "_write", write_then_break_the_commit)
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        log.append([b"lost"])
    assert not store.db.in_transaction
    monkeypatch.undo()
    log.close()
    reopened = Log.open(SQLiteStore.connect(tmp_path / "log.db"), signer.verifier())
    assert reopened.entries(0, reopened.size) == [b"first"]
    reopened.close()
