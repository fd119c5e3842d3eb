"""The witness's durable state, in one SQLite file: the latest cosigned checkpoint of each log, and the
evidence of the conflicts it refused.

Table ``seen``, one row per log (``origin``): the ``size``, ``root`` and body (``checkpoint``) of the
latest checkpoint cosigned, and ``note``, that checkpoint as the log signed it (the body, a blank line,
the log's signature line): what shows anyone, offline, which checkpoint the log signed and the witness
held. ``note`` is NULL in a row written before schema version 1, which kept no signature; the next
checkpoint cosigned for that log fills it.

Table ``evidence``, one row per log-signed checkpoint refused as a conflict (:class:`~.core.Conflict`):
``origin``, ``kind`` (``fork`` or ``inconsistent``), the conflicting checkpoint's ``size`` and ``root``,
``conflicting`` (as the log signed it), ``cosigned`` (the witness's ``seen.note`` at that moment: NULL if
it predates version 1) and ``proof`` (the consistency proof sent, base64 lines; empty for a fork).
Signature lines by unknown keys are never kept, and a checkpoint already kept adds nothing (a fork
replaces an ``inconsistent`` row of the same checkpoint, being the stronger proof), so the table grows
only with distinct checkpoints signed by a log's key, which nobody else can make. An ``inconsistent`` row
is deleted when its checkpoint is later cosigned: a valid proof to it from the chain cosigned since shows
the earlier proof was only a bad one.

Table ``refused`` exists only in files made before version 2, which kept every 409 and 422 request whole;
it is never written now, and left as it was, since it may hold the only copy of some evidence.

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
from detente.tlog.checkpoint import SignedCheckpoint
from detente.tlog.note import b64decode, b64encode
from detente.witness.core import Conflict, Outcome, Seen, log_signed

# The table every version has (version 0's, with CREATE TABLE IF NOT EXISTS): a file of any version starts
# from it. Version 0's ``refused`` is not here: it is neither made nor dropped.
BASE = (
    "CREATE TABLE IF NOT EXISTS seen (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,"
    " checkpoint TEXT NOT NULL)",
)
# MIGRATIONS[n] takes a file from version n to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    ("ALTER TABLE seen ADD COLUMN note TEXT",),  # 1: the log-signed checkpoint cosigned
    (  # 2: the evidence of conflicts, in place of every refused request
        "CREATE TABLE evidence (id INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
        " kind TEXT NOT NULL CHECK (kind IN ('fork', 'inconsistent')), size INTEGER NOT NULL,"
        " root BLOB NOT NULL, conflicting TEXT NOT NULL, cosigned TEXT, proof TEXT NOT NULL,"
        " UNIQUE (origin, size, root))",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# One row per conflicting checkpoint; a fork, proof in itself, replaces an 'inconsistent' row of it.
_KEEP_EVIDENCE = """
INSERT INTO evidence (origin, kind, size, root, conflicting, cosigned, proof)
VALUES (?, ?, ?, ?, ?, (SELECT note FROM seen WHERE origin = ?), ?)
ON CONFLICT (origin, size, root) DO UPDATE
SET kind = excluded.kind, cosigned = excluded.cosigned, proof = excluded.proof
WHERE excluded.kind = 'fork' AND evidence.kind != 'fork'
"""


@dataclass(frozen=True)
class Evidence:
    """A row of ``evidence``: a log-signed checkpoint refused, and the one the witness held then."""

    origin: str
    kind: str  # "fork" or "inconsistent", as in Conflict
    conflicting: str
    cosigned: str | None  # None: the witness's record predated schema version 1, which kept no signature
    proof: tuple[bytes, ...]


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
    """Latest cosigned checkpoints and the evidence of conflicts, kept durably."""

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

    def evidence(self) -> list[Evidence]:
        """Every conflict kept, oldest first."""
        rows = self.db.execute(
            "SELECT origin, kind, conflicting, cosigned, proof FROM evidence ORDER BY id"
        ).fetchall()
        return [
            Evidence(origin, kind, conflicting, cosigned, _proof(proof))
            for origin, kind, conflicting, cosigned, proof in rows
        ]

    def apply(self, body: bytes, decide: Callable[[Mapping[str, Seen]], Outcome]) -> Outcome:
        """Decide against the current state and record the outcome, atomically."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                outcome = decide(self.seen())
                if outcome.record is not None:
                    self._record(outcome.record)
                elif outcome.conflict is not None:
                    self._keep(outcome.conflict)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        return outcome

    def _record(self, signed: SignedCheckpoint) -> None:
        """Hold the checkpoint cosigned; drop any 'inconsistent' evidence it refutes."""
        cp = signed.checkpoint
        self.db.execute(
            "INSERT OR REPLACE INTO seen (origin, size, root, checkpoint, note) VALUES (?, ?, ?, ?, ?)",
            (cp.origin, cp.size, cp.root, cp.body(), log_signed(signed)),
        )
        self.db.execute(
            "DELETE FROM evidence WHERE origin = ? AND size = ? AND root = ? AND kind = 'inconsistent'",
            (cp.origin, cp.size, cp.root),
        )

    def _keep(self, conflict: Conflict) -> None:
        """Keep a conflict with the checkpoint held now, once per conflicting checkpoint."""
        cp = conflict.checkpoint.checkpoint
        proof = "".join(b64encode(h) + "\n" for h in conflict.proof)
        self.db.execute(
            _KEEP_EVIDENCE,
            (cp.origin, conflict.kind, cp.size, cp.root, log_signed(conflict.checkpoint), cp.origin, proof),
        )

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def _proof(text: str) -> tuple[bytes, ...]:
    return tuple(b64decode(line, "proof line") for line in text.splitlines())
