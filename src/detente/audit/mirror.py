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
        edge = TreeEdge.empty()
        chunk = 16_384
        for start in range(0, self.size, chunk):
            edge, _ = edge.extend([merkle.leaf_hash(e) for e in self.entries(start, start + chunk)])
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
