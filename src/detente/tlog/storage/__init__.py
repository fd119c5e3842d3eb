"""Storage for one log behind a narrow port, with adapters for memory, SQLite and PostgreSQL.

The port (:class:`LogStore`) knows nothing of Merkle trees: it keeps entries, tiles and the one current
signed checkpoint, and commits a batch of all three atomically, advancing the checkpoint by
compare-and-swap. Everything it returns is checked by the caller against the signed root.
"""

from detente.tlog.storage.memory import MemoryStore
from detente.tlog.storage.port import Batch, LogStore, open_store

__all__ = ["Batch", "LogStore", "MemoryStore", "open_store"]
