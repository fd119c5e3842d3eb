"""The last checkpoint a log published, kept outside its database so that a restore cannot erase it.

A log restored from a backup older than this checkpoint would fork the log: everyone who saw the newer
checkpoint would hold a tree the log no longer has. The log compares its store with this file on open
and refuses to serve or append when the store is behind or disagrees (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from detente.files import replace_durably


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A file holding the newest signed checkpoint the log has published."""

    path: Path

    def load(self) -> str | None:
        """Return the recorded signed checkpoint, or None before the first one."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def record(self, signed_checkpoint: str) -> None:
        """Replace the recorded checkpoint atomically and durably (write, fsync, rename, fsync dir)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        replace_durably(self.path, signed_checkpoint.encode("utf-8"), tmp)
