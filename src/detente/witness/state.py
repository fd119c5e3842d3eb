"""The witness's durable state: the latest cosigned checkpoint of each log, in one SQLite file.

Table ``seen``, one row per log (``origin``): the ``size``, ``root`` and body (``checkpoint``) of the
latest checkpoint cosigned, and ``note``, that checkpoint as the log signed it (the body, a blank line,
the log's signature line): what shows anyone, offline, which checkpoint the log signed and the witness
held. ``note`` is NULL in a row written before schema version 1, which kept no signature; the next
checkpoint cosigned for that log fills it.

The check of the old size and the update are one transaction (``BEGIN IMMEDIATE``), which closes the
rollback race the spec describes: two concurrent requests can never both pass against the same state.

The schema's version is ``PRAGMA user_version``. A file of an older version is migrated when opened, in
one transaction; one of a newer version is refused (this code would not know what it holds).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from detente.errors import ConfigError
from detente.witness.core import Outcome, Seen, log_signed

# Version 0, the first; CREATE TABLE IF NOT EXISTS, so a file of any version starts from it.
BASE = (
    "CREATE TABLE IF NOT EXISTS seen (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,"
    " checkpoint TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY, origin TEXT, status INTEGER, body TEXT,"
    " request BLOB NOT NULL)",
)
# MIGRATIONS[n] takes a file from version n to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    ("ALTER TABLE seen ADD COLUMN note TEXT",),  # 1: the log-signed checkpoint cosigned
)
SCHEMA_VERSION = len(MIGRATIONS)


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file to SCHEMA_VERSION in one transaction (statement by statement: executescript would
    commit what came before it)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{path} is witness state of schema version {version}, newer than this detente reads "
                f"({SCHEMA_VERSION}): run the detente that wrote it"
            )
        for statement in BASE + tuple(s for m in MIGRATIONS[version:] for s in m):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


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
        _migrate(self.db, self.path)

    def seen(self) -> dict[str, Seen]:
        """Every log's latest cosigned size and root."""
        rows = self.db.execute("SELECT origin, size, root FROM seen")
        return {origin: Seen(size, bytes(root)) for origin, size, root in rows}

    def cosigned(self, origin: str) -> str | None:
        """The latest checkpoint cosigned for ``origin``, as the log signed it (None: none, or none kept
        since it was cosigned before the witness kept signatures)."""
        row = self.db.execute("SELECT note FROM seen WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else row[0]

    def apply(self, body: bytes, decide: Callable[[Mapping[str, Seen]], Outcome]) -> Outcome:
        """Decide against the current state and record the outcome, atomically."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                outcome = decide(self.seen())
                signed = outcome.record
                if signed is not None:
                    cp = signed.checkpoint
                    self.db.execute(
                        "INSERT OR REPLACE INTO seen (origin, size, root, checkpoint, note)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (cp.origin, cp.size, cp.root, cp.body(), log_signed(signed)),
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
