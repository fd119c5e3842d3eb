"""The storage port of the log and the URL that selects an adapter.

Invariants every adapter keeps:
- :meth:`LogStore.commit` writes the batch's entries, tiles and checkpoint in one transaction, and only
  if the stored checkpoint is still the one the writer read (compare-and-swap); otherwise it writes
  nothing and raises :class:`~detente.errors.ConflictError`.
- :meth:`LogStore.lock_writer` gives one process the right to write; a second is refused at once with
  :class:`~detente.errors.WriterBusyError`, never queued. The lock dies with its process.
- :meth:`LogStore.replace` swaps the whole log for another in one transaction: readers see the old log
  or the new one, never a mixture, and a failure part way leaves the old log as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from detente.errors import ConfigError
from detente.tlog.tiles import TileRef


@dataclass(frozen=True)
class Batch:
    """One integration step: entries from ``first_index``, changed tiles, and the new checkpoint."""

    first_index: int
    entries: Sequence[bytes]
    tiles: dict[TileRef, bytes]
    old_checkpoint: str
    new_checkpoint: str


class LogStore(Protocol):
    """What the log needs from a database."""

    def load_checkpoint(self) -> str | None:
        """Return the current signed checkpoint, or None for a store that holds no log."""
        ...

    def read_tiles(self, refs: Sequence[TileRef]) -> list[bytes]:
        """Return the stored bytes of each tile (a stored partial tile may be wider than asked)."""
        ...

    def read_entries(self, start: int, stop: int) -> list[bytes]:
        """Return the entries with indexes ``[start, stop)`` that are stored."""
        ...

    def create(self, checkpoint: str) -> None:
        """Start an empty log with its first checkpoint; refuse if one exists."""
        ...

    def commit(self, batch: Batch) -> None:
        """Write a batch atomically if the stored checkpoint is still ``batch.old_checkpoint``."""
        ...

    def lock_writer(self) -> None:
        """Take the one writer lock of this log, or raise WriterBusyError."""
        ...

    def replace(self, checkpoint: str, batches: Iterable[Batch]) -> None:
        """Delete the whole log, start it again at ``checkpoint`` and commit ``batches`` in turn, all in one
        transaction (used only by restore); if anything raises, even ``batches`` itself, nothing changes."""
        ...

    def close(self) -> None:
        """Release the writer lock and connections."""
        ...


def open_store(url: str) -> LogStore:
    """Open a store by URL: ``sqlite:///path/log.db``, a plain path, or ``postgresql://...``.

    Raises:
        ConfigError: the URL names no known adapter.
    """
    if url.startswith(("postgresql://", "postgres://")):
        from detente.tlog.storage.postgres import PostgresStore

        return PostgresStore.connect(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    elif "://" in url:
        raise ConfigError(f"unknown database URL scheme in {url.split('://')[0]!r}: use sqlite or postgresql")
    from detente.tlog.storage.sqlite import SQLiteStore

    return SQLiteStore.connect(Path(url))
