"""The witness's durable state: the latest cosigned checkpoint of each log, in one SQLite file.

The check of the old size and the update are one transaction (``BEGIN IMMEDIATE``), which closes the
rollback race the spec describes: two concurrent requests can never both pass against the same state.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from detente.witness.core import Outcome, Seen

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,
                                 checkpoint TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY, origin TEXT, status INTEGER, body TEXT,
                                    request BLOB NOT NULL);
"""


@dataclass
class WitnessState:
    """Latest cosigned checkpoints, kept durably."""

    path: Path
    db: sqlite3.Connection = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def seen(self) -> dict[str, Seen]:
        """Every log's latest cosigned size and root."""
        rows = self.db.execute("SELECT origin, size, root FROM seen")
        return {origin: Seen(size, bytes(root)) for origin, size, root in rows}

    def apply(self, body: bytes, decide: Callable[[Mapping[str, Seen]], Outcome]) -> Outcome:
        """Decide against the current state and record the outcome, atomically."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                outcome = decide(self.seen())
                cp = outcome.record
                if cp is not None:
                    self.db.execute(
                        "INSERT OR REPLACE INTO seen (origin, size, root, checkpoint) VALUES (?, ?, ?, ?)",
                        (cp.origin, cp.size, cp.root, cp.body()),
                    )
                elif outcome.status in (409, 422):  # possible evidence of a fork: keep the request
                    self.db.execute(
                        "INSERT INTO refused (status, body, request) VALUES (?, ?, ?)",
                        (outcome.status, outcome.body, body),
                    )
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        return outcome

    def close(self) -> None:
        """Close the database."""
        self.db.close()
