"""The SQLite adapter: the embedded default, one file in WAL mode with full sync.

The writer lock is an exclusive ``flock`` on ``<file>.lock``: the kernel drops it when the process dies
(even by SIGKILL), so a crashed writer never blocks its successor, and two live writers never race.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from pathlib import Path

from detente.errors import ConfigError, ConflictError, MalformedError, WriterBusyError
from detente.tlog.storage.port import Batch
from detente.tlog.tiles import TileRef

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tiles (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (level, idx)
) WITHOUT ROWID;
"""
PAGE_SIZE = 16384  # bytes a page of a new database file


@dataclass
class SQLiteStore:
    """A log in one SQLite file."""

    path: Path
    db: sqlite3.Connection
    _lock_fd: int | None = field(default=None, repr=False)

    @classmethod
    def connect(cls, path: Path, *, wal: bool = True) -> SQLiteStore:
        """Open (creating the file and tables if needed) the database at ``path``.

        ``wal=False`` is for a new backup: a rollback journal keeps it one file, which a read-only reader
        (:meth:`connect_read_only`) opens without leaving ``-wal`` and ``-shm`` files beside it.
        """
        if not path.parent.is_dir():
            raise ConfigError(f"folder {path.parent} does not exist; create it first")
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # A new file gets 16 KiB pages (an existing one keeps its own: the pragma does nothing
            # there): an entry of about 1 KB is appended in 3.2-3.4 us of CPU instead of 5.3-5.4 us
            # with 4 KiB pages (`python -m benchmarks.sqlite_rows`), and a full tile (8 KiB) fits in
            # one page instead of spilling into overflow pages.
            db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            db.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open SQLite database {path}: {exc}") from exc
        return cls(path, db)

    @classmethod
    def connect_read_only(cls, path: Path) -> SQLiteStore:
        """Open the existing database at ``path`` for reading alone (SQLite's ``mode=ro``), as a backup is
        read: the file is never created and never changed, not even given the log's tables.

        Raises:
            sqlite3.DatabaseError: the file cannot be opened or is not an SQLite database.
            MalformedError: it is a database without a log's tables.
        """
        db = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute("PRAGMA busy_timeout=5000")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"checkpoint", "entries", "tiles"} <= tables:
                raise MalformedError("it holds no log")
        except BaseException:
            db.close()
            raise
        return cls(path, db)

    def load_checkpoint(self) -> str | None:
        """Return the current signed checkpoint."""
        row = self.db.execute("SELECT note FROM checkpoint WHERE id = 1").fetchone()
        return None if row is None else str(row[0])

    def read_tiles(self, refs: Sequence[TileRef]) -> list[bytes]:
        """Return the stored tiles (empty bytes where missing)."""
        out = []
        for ref in refs:
            row = self.db.execute(
                "SELECT data FROM tiles WHERE level = ? AND idx = ?", (ref.level, ref.index)
            ).fetchone()
            out.append(b"" if row is None else bytes(row[0]))
        return out

    def read_entries(self, start: int, stop: int) -> list[bytes]:
        """Return stored entries in ``[start, stop)``."""
        rows = self.db.execute(
            "SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, stop)
        )
        return [bytes(r[0]) for r in rows]

    def create(self, checkpoint: str) -> None:
        """Start the log with its first checkpoint."""
        try:
            self.db.execute("INSERT INTO checkpoint (id, note) VALUES (1, ?)", (checkpoint,))
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"{self.path} already holds a log") from exc

    def commit(self, batch: Batch) -> None:
        """Write the batch in one transaction, compare-and-swap on the checkpoint."""
        with self._transaction():
            self._write(batch)

    def replace(self, checkpoint: str, batches: Iterable[Batch]) -> None:
        """Delete the whole log and write another in its place, in one transaction."""
        with self._transaction():
            # statement by statement: executescript would commit the open transaction first
            self.db.execute("DELETE FROM entries")
            self.db.execute("DELETE FROM tiles")
            self.db.execute("DELETE FROM checkpoint")
            self.db.execute("INSERT INTO checkpoint (id, note) VALUES (1, ?)", (checkpoint,))
            for batch in batches:
                self._write(batch)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: committed if the block ends, rolled back if it or the commit raises.

        A commit can fail (a full disk, a deferred constraint) and leave the transaction open; left so,
        every later ``BEGIN`` would fail until the store was reopened.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _write(self, batch: Batch) -> None:
        """Write a batch inside the open transaction, compare-and-swap on the checkpoint."""
        db = self.db
        swapped = db.execute(
            "UPDATE checkpoint SET note = ? WHERE id = 1 AND note = ?",
            (batch.new_checkpoint, batch.old_checkpoint),
        ).rowcount
        if swapped != 1:
            raise ConflictError("the checkpoint changed under this writer; reopen the log")
        first = batch.first_index
        indexes = range(first, first + len(batch.entries))
        insert_rows(db, "INSERT INTO entries (idx, data)", list(zip(indexes, batch.entries, strict=True)))
        tiles = [(r.level, r.index, d) for r, d in batch.tiles.items()]
        insert_rows(db, "INSERT OR REPLACE INTO tiles (level, idx, data)", tiles)

    def lock_writer(self) -> None:
        """Take the exclusive writer lock on ``<file>.lock``."""
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise WriterBusyError(f"another process is writing {self.path}; one writer per log") from exc
        self._lock_fd = fd

    def close(self) -> None:
        """Close the database and release the writer lock."""
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


ROWS_A_STATEMENT = 256  # 768 parameters at most: within SQLite's oldest limit (999)


def insert_rows(
    db: sqlite3.Connection, insert: str, rows: Sequence[tuple[object, ...]], group: int = ROWS_A_STATEMENT
) -> None:
    """Run ``insert`` (``INSERT ... INTO table (columns)``) for ``rows``, ``group`` rows a statement.

    Not ``executemany``: it releases the GIL around every row's step and must take it back after each,
    and while another thread of the process keeps the GIL busy, each taking back waits for the
    interpreter's switch interval (5 ms). A writer batch of 3,333 entries took 3.2-6.5 s so beside a
    thread spinning in Python, against 0.13-0.16 s at 256 rows a statement; alone, 11.0-12.6 ms
    against 11.7-13.6 (`python -m benchmarks.sqlite_rows`, medians of 3, two runs).
    """
    for start in range(0, len(rows), group):
        part = rows[start : start + group]
        db.execute(_values(insert, len(part), len(part[0])), list(chain.from_iterable(part)))


@lru_cache(maxsize=64)
def _values(insert: str, rows: int, columns: int) -> str:
    row = "(" + ", ".join("?" * columns) + ")"
    return f"{insert} VALUES {', '.join([row] * rows)}"
