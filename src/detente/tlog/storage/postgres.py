"""The PostgreSQL adapter (psycopg 3): the production store.

Each log lives in its own schema (``?schema=NAME`` in the URL, default ``detente``). The writer lock is
a session advisory lock, which the server drops when the writer's connection ends, crash included.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from detente.errors import ConfigError, ConflictError, WriterBusyError
from detente.tlog.storage.port import Batch
from detente.tlog.tiles import TileRef

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (idx BIGINT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS tiles (
    level INTEGER NOT NULL, idx BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (level, idx)
);
"""


def split_schema(url: str) -> tuple[str, str]:
    """Take our own ``schema`` parameter out of a libpq URL; return ``(url, schema)``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), "detente")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    if not schema.isidentifier():
        raise ConfigError(f"schema name {schema!r} must be a plain identifier")
    return urlunsplit(parts._replace(query=rest)), schema


def writer_lock_key(schema: str) -> int:
    """The advisory lock that the one writer of ``schema`` holds for its session."""
    return int.from_bytes(
        hashlib.sha256(f"detente-writer:{schema}".encode()).digest()[:8], "big", signed=True
    )


def redact(message: str, url: str) -> str:
    """``message`` without the password of ``url``, as written or decoded (the client library quotes
    the part of a connection string it cannot read, which may be the password)."""
    written = urlsplit(url).netloc.rpartition("@")[0].partition(":")[2]
    for secret in {written, unquote(written)} - {""}:
        message = message.replace(secret, "***")
    return message


@dataclass
class PostgresStore:
    """A log in one PostgreSQL schema."""

    schema: str
    db: psycopg.Connection[tuple[Any, ...]]

    @classmethod
    def connect(cls, url: str) -> PostgresStore:
        """Connect and create the schema and tables if needed."""
        conninfo, schema = split_schema(url)
        try:
            db = psycopg.connect(conninfo, autocommit=True)
            db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            db.execute(SCHEMA)
        except psycopg.Error as exc:
            reason = redact(str(exc), url)
            raise ConfigError(f"cannot open PostgreSQL log (schema {schema}): {reason}") from None
        return cls(schema, db)

    def load_checkpoint(self) -> str | None:
        """Return the current signed checkpoint."""
        row = self.db.execute("SELECT note FROM checkpoint WHERE id = 1").fetchone()
        return None if row is None else str(row[0])

    def read_tiles(self, refs: Sequence[TileRef]) -> list[bytes]:
        """Return the stored tiles (empty bytes where missing)."""
        out = []
        for ref in refs:
            row = self.db.execute(
                "SELECT data FROM tiles WHERE level = %s AND idx = %s", (ref.level, ref.index)
            ).fetchone()
            out.append(b"" if row is None else bytes(row[0]))
        return out

    def read_entries(self, start: int, stop: int) -> list[bytes]:
        """Return stored entries in ``[start, stop)``."""
        rows = self.db.execute(
            "SELECT data FROM entries WHERE idx >= %s AND idx < %s ORDER BY idx", (start, stop)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def create(self, checkpoint: str) -> None:
        """Start the log with its first checkpoint."""
        try:
            self.db.execute("INSERT INTO checkpoint (id, note) VALUES (1, %s)", (checkpoint,))
        except psycopg.errors.UniqueViolation as exc:
            raise ConflictError(f"schema {self.schema} already holds a log") from exc

    def commit(self, batch: Batch) -> None:
        """Write the batch in one transaction, compare-and-swap on the checkpoint."""
        with self.db.transaction():
            self._write(batch)

    def replace(self, checkpoint: str, batches: Iterable[Batch]) -> None:
        """Delete the whole log and write another in its place, in one transaction.

        ``DELETE``, not ``TRUNCATE``: readers keep reading the old log until the new one is committed.
        """
        with self.db.transaction():
            self.db.execute("DELETE FROM entries")
            self.db.execute("DELETE FROM tiles")
            self.db.execute("DELETE FROM checkpoint")
            self.db.execute("INSERT INTO checkpoint (id, note) VALUES (1, %s)", (checkpoint,))
            for batch in batches:
                self._write(batch)

    def _write(self, batch: Batch) -> None:
        """Write a batch inside the open transaction, compare-and-swap on the checkpoint."""
        swapped = self.db.execute(
            "UPDATE checkpoint SET note = %s WHERE id = 1 AND note = %s",
            (batch.new_checkpoint, batch.old_checkpoint),
        ).rowcount
        if swapped != 1:
            raise ConflictError("the checkpoint changed under this writer; reopen the log")
        with self.db.cursor().copy("COPY entries (idx, data) FROM STDIN") as copy:
            for offset, entry in enumerate(batch.entries):
                copy.write_row((batch.first_index + offset, entry))
        self.db.cursor().executemany(
            "INSERT INTO tiles (level, idx, data) VALUES (%s, %s, %s) "
            "ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data",
            [(r.level, r.index, d) for r, d in batch.tiles.items()],
        )

    def lock_writer(self) -> None:
        """Take the session advisory lock that makes this connection the one writer."""
        row = self.db.execute("SELECT pg_try_advisory_lock(%s)", (writer_lock_key(self.schema),)).fetchone()
        if row is None or row[0] is not True:
            raise WriterBusyError(
                f"another process is writing log schema {self.schema}; one writer per log (a writer that"
                " has just died holds the lock until the server notices, usually within a second: retry)"
            )

    def close(self) -> None:
        """Release the writer's advisory lock, if this session holds it, then close the connection.

        The server drops a session's advisory locks when the session ends, but only once its backend
        has seen the client go: a writer opened again at once (a registry created and then served, a
        quick restart) could find the lock still held and be refused. The unlock is a round trip that
        ends before this returns. A broken connection has no session left to hold the lock.
        """
        if not self.db.closed:
            with contextlib.suppress(psycopg.Error):
                self.db.execute("SELECT pg_advisory_unlock_all()")
        self.db.close()

    def drop(self) -> None:
        """Drop the log's whole schema (tests and tools only)."""
        self.db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
