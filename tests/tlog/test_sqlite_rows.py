"""The SQLite store's multi-row inserts: every row lands once, in order, whatever the group size."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from detente.tlog.storage.sqlite import insert_rows


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
