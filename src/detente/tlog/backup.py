"""Backups: a verified copy of a log into another store, and back.

A copy is rebuilt from the source's checked entries: tiles are recomputed, and the copy is accepted only
if its root equals the source's signed checkpoint, so a backup is never a copy of damage. Intermediate
commits carry a placeholder checkpoint that no log key verifies, so an interrupted copy fails closed
when opened instead of passing for a shorter log.
"""

from __future__ import annotations

from collections.abc import Callable

from detente.errors import ConflictError, TamperError
from detente.tlog import merkle
from detente.tlog.edge import TreeEdge
from detente.tlog.log import Log
from detente.tlog.storage.port import Batch, LogStore

CHUNK = 16_384
Progress = Callable[[int], None]


def copy_log(source: Log, target: LogStore, progress: Progress | None = None) -> None:
    """Copy ``source`` into the empty ``target`` store, checking the result against the checkpoint.

    Raises:
        ConflictError: the target already holds a log.
        TamperError: the source's entries do not rebuild its signed root.
    """
    if target.load_checkpoint() is not None:
        raise ConflictError("the target already holds a log; restore refuses to overwrite without --force")
    size, final = source.size, source.signed_checkpoint
    edge = TreeEdge.empty()
    previous = f"incomplete copy of {source.checkpoint.origin}: 0\n"
    target.create(previous)
    for start in range(0, max(size, 1), CHUNK):
        stop = min(size, start + CHUNK)
        entries = source.entries(start, stop)
        edge, tiles = edge.extend([merkle.leaf_hash(e) for e in entries])
        note = final if stop == size else f"incomplete copy of {source.checkpoint.origin}: {stop}\n"
        if stop == size and edge.root() != source.checkpoint.root:
            raise TamperError("the copied entries do not rebuild the signed root; backup refused")
        target.commit(Batch(start, entries, tiles, previous, note))
        previous = note
        if progress is not None:
            progress(stop - start)


def rebuild_root(log: Log, progress: Progress | None = None) -> bytes:
    """Recompute the root from every stored entry (a full check of the store).

    Raises:
        TamperError: an entry or tile does not match the signed tree.
    """
    edge = TreeEdge.empty()
    for start in range(0, log.size, CHUNK):
        entries = log.entries(start, min(log.size, start + CHUNK))
        edge, _ = edge.extend([merkle.leaf_hash(e) for e in entries])
        if progress is not None:
            progress(len(entries))
    if edge.root() != log.checkpoint.root:
        raise TamperError("the stored entries do not rebuild the signed root")
    return edge.root()
