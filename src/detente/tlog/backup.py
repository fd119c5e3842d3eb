"""Backups: a verified copy of a log into another store, and back.

A copy is rebuilt from the source's checked entries: tiles are recomputed, and the copy is accepted only
if its root equals the source's signed checkpoint, so a backup is never a copy of damage. A backup's
intermediate commits carry a placeholder checkpoint that no log key verifies, so an interrupted backup
fails closed when opened instead of passing for a shorter log. A restore is stricter, because it replaces
a live log: it holds the log's writer lock, checks the whole backup before it changes anything, and swaps
the log's contents in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from detente.errors import ConflictError, MalformedError, TamperError, WriterBusyError
from detente.tlog import merkle
from detente.tlog.edge import TreeEdge
from detente.tlog.log import Log
from detente.tlog.storage.port import Batch, LogStore
from detente.tlog.storage.sqlite import SQLiteStore

CHUNK = 16_384
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
Progress = Callable[[int], None]


def open_backup(path: Path) -> LogStore:
    """Open a backup written by :func:`copy_log` (``detente log backup``) for reading alone.

    The file is opened read-only (SQLite's ``mode=ro``), so nothing, not even a file that is empty or no
    database at all, is ever written into it.

    Raises:
        MalformedError: the file is empty, not an SQLite database, or a database that holds no log.
        OSError: the file cannot be read (missing, not allowed).
    """
    with path.open("rb") as file:  # a missing or unreadable file says so, as any file named does
        header = file.read(len(SQLITE_HEADER))
    try:
        if not header:
            raise MalformedError("it is empty")
        if header != SQLITE_HEADER:
            raise MalformedError("it is not an SQLite database")
        try:
            store = SQLiteStore.connect_read_only(path)
        except sqlite3.DatabaseError as exc:
            raise MalformedError(f"it is not an SQLite database that can be read ({exc})") from exc
        checkpoint = store.load_checkpoint()
        if checkpoint is None or checkpoint.startswith(_INCOMPLETE):
            store.close()
            raise MalformedError("it holds no log" if checkpoint is None else "the copy was never completed")
    except MalformedError as exc:
        raise MalformedError(f"{path} is not a backup written by `detente log backup`: {exc}") from exc
    return store


def copy_log(source: Log, target: LogStore, progress: Progress | None = None) -> None:
    """Copy ``source`` into the empty ``target`` store, checking the result against the checkpoint.

    Raises:
        ConflictError: the target already holds a log.
        TamperError: the source's entries do not rebuild its signed root.
    """
    if target.load_checkpoint() is not None:
        raise ConflictError("the target already holds a log; a backup goes into a new store")
    first = _placeholder(source, 0)
    target.create(first)
    for batch in _batches(source, first, progress):
        target.commit(batch)


def restore_log(
    source: Log, target: LogStore, *, force: bool = False, progress: Progress | None = None
) -> None:
    """Replace the log in ``target`` with a verified copy of the backup ``source``, as its one writer.

    In order: take the target's writer lock (held until the target is closed); refuse a target that holds
    a log unless ``force``; check every entry of the backup against its signed checkpoint; only then swap
    the target's contents, in one transaction. A bad backup or a failure during the copy leaves the target
    as it was, and readers see the old log until the new one is whole. ``progress`` counts both passes.

    Raises:
        WriterBusyError: another process writes the target (a running service, an append).
        ConflictError: the target holds a log and ``force`` is not set.
        TamperError: the backup's entries or tiles do not match its signed checkpoint.
    """
    try:
        target.lock_writer()
    except WriterBusyError as exc:
        raise WriterBusyError(
            f"cannot restore while a writer runs; stop it first (nothing was changed): {exc}"
        ) from exc
    if not force and target.load_checkpoint() is not None:
        raise ConflictError("the target already holds a log; restore refuses to overwrite without --force")
    try:
        rebuild_root(source, progress)  # the whole backup, before anything of the target changes
    except TamperError as exc:
        raise TamperError(f"the backup is damaged, restore refused (nothing was changed): {exc}") from exc
    first = _placeholder(source, 0)
    target.replace(first, _batches(source, first, progress))


_INCOMPLETE = "incomplete copy of "


def _placeholder(source: Log, size: int) -> str:
    """A checkpoint that no key verifies, for a copy that is not complete yet."""
    return f"{_INCOMPLETE}{source.checkpoint.origin}: {size}\n"


def _batches(source: Log, first: str, progress: Progress | None) -> Iterator[Batch]:
    """The source's checked entries and their rebuilt tiles, a chunk a batch, after the checkpoint
    ``first``; every checkpoint is a placeholder but the last, the source's own, which comes only if the
    rebuilt root is the signed one."""
    size, final = source.size, source.signed_checkpoint
    edge = TreeEdge.empty()
    previous = first
    for start in range(0, max(size, 1), CHUNK):
        stop = min(size, start + CHUNK)
        entries = source.entries(start, stop)
        edge, tiles = edge.extend([merkle.leaf_hash(e) for e in entries])
        note = final if stop == size else _placeholder(source, stop)
        if stop == size and edge.root() != source.checkpoint.root:
            raise TamperError("the copied entries do not rebuild the signed root; copy refused")
        yield Batch(start, entries, tiles, previous, note)
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
