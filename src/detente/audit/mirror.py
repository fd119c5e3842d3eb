"""The auditor's own durable copy of a log: entries, the running right edge, and the last checkpoint.

The mirror never trusts the registry's tiles: it rebuilds the tree from the entries it fetched, so a
checkpoint is accepted only if its root is the root of exactly those entries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from detente.tlog import merkle
from detente.tlog.edge import TreeEdge

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), note TEXT NOT NULL);
"""

_CHUNK = 16_384  # entries hashed at a time when rebuilding


@dataclass
class Mirror:
    """Entries and the last accepted checkpoint, in one SQLite file."""

    path: Path
    db: sqlite3.Connection = field(init=False)

    def __post_init__(self) -> None:
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    @property
    def size(self) -> int:
        """Entries held."""
        row = self.db.execute("SELECT COUNT(*) FROM entries").fetchone()
        return int(row[0])

    def checkpoint(self) -> str | None:
        """The last checkpoint accepted."""
        row = self.db.execute("SELECT note FROM checkpoint WHERE id = 1").fetchone()
        return None if row is None else str(row[0])

    def entries(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        """Entries ``[start, stop)``."""
        stop = self.size if stop is None else stop
        rows = self.db.execute(
            "SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, stop)
        )
        return [bytes(r[0]) for r in rows]

    def edge(self) -> TreeEdge:
        """The tree of the entries held, rebuilt from them."""
        return self._rebuilt(0, self.size)

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Complete subtree ``(level, index)`` of the entries held, rebuilt from them: the mirror is a
        :class:`~detente.tlog.merkle.HashSource`, so proofs about the tree it holds need no registry."""
        start = index << level
        return self._rebuilt(start, start + (1 << level)).root()

    def _rebuilt(self, start: int, stop: int) -> TreeEdge:
        """The tree of entries ``[start, stop)`` alone, read a chunk at a time (memory stays flat)."""
        edge = TreeEdge.empty()
        for lo in range(start, stop, _CHUNK):
            leaves = [merkle.leaf_hash(e) for e in self.entries(lo, min(lo + _CHUNK, stop))]
            edge, _ = edge.extend(leaves)
        return edge

    def accept(self, first: int, entries: Sequence[bytes], note: str) -> None:
        """Store new entries and the checkpoint that covers them, in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT INTO entries (idx, data) VALUES (?, ?)",
                zip(range(first, first + len(entries)), entries, strict=True),
            )
            self.db.execute("INSERT OR REPLACE INTO checkpoint (id, note) VALUES (1, ?)", (note,))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Close the file."""
        self.db.close()
