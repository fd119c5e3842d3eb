"""An in-memory store: for unit tests and the in-memory benchmark.

Like sunlight's MemoryBackend it checks the invariants a real store must keep: a full tile is never
rewritten with different bytes and an entry index is never written twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from detente.errors import ConflictError, WriterBusyError
from detente.tlog.storage.port import Batch
from detente.tlog.tiles import TileKey, TileRef


@dataclass
class MemoryStore:
    """Entries, tiles and the checkpoint in dictionaries."""

    entries: list[bytes] = field(default_factory=list)
    tiles: dict[TileKey, bytes] = field(default_factory=dict)
    checkpoint: str | None = None
    locked: bool = False

    def load_checkpoint(self) -> str | None:
        """Return the current signed checkpoint."""
        return self.checkpoint

    def read_tiles(self, refs: Sequence[TileRef]) -> list[bytes]:
        """Return the stored tiles (empty bytes where missing)."""
        return [self.tiles.get((r.level, r.index), b"") for r in refs]

    def read_entries(self, start: int, stop: int) -> list[bytes]:
        """Return stored entries in ``[start, stop)``."""
        return self.entries[start:stop]

    def create(self, checkpoint: str) -> None:
        """Start the log."""
        if self.checkpoint is not None:
            raise ConflictError("this store already holds a log")
        self.checkpoint = checkpoint

    def commit(self, batch: Batch) -> None:
        """Apply a batch if the checkpoint is unchanged; check immutability of full tiles."""
        if self.checkpoint != batch.old_checkpoint:
            raise ConflictError("the checkpoint changed under this writer; reopen the log")
        if batch.first_index != len(self.entries):
            raise ConflictError(f"batch starts at {batch.first_index}, store has {len(self.entries)}")
        for ref, data in batch.tiles.items():
            old = self.tiles.get((ref.level, ref.index), b"")
            if not data.startswith(old):
                raise AssertionError(f"tile {ref} rewritten with different bytes")
        self.entries.extend(batch.entries)
        for ref, data in batch.tiles.items():
            self.tiles[ref.level, ref.index] = data
        self.checkpoint = batch.new_checkpoint

    def lock_writer(self) -> None:
        """Take the writer lock."""
        if self.locked:
            raise WriterBusyError("another writer holds this in-memory log")
        self.locked = True

    def replace(self, checkpoint: str, batches: Iterable[Batch]) -> None:
        """Swap in another log, built aside first so that a failure changes nothing."""
        other = MemoryStore()
        other.create(checkpoint)
        for batch in batches:
            other.commit(batch)
        self.entries, self.tiles, self.checkpoint = other.entries, other.tiles, other.checkpoint

    def close(self) -> None:
        """Release the writer lock."""
        self.locked = False
