"""Files written safely: replaced atomically and durably, created new and never overwritten, or
folders made all or nothing.

:func:`replace_durably`: what a crash leaves is the old file or the new one, and once the call returns,
the new one survives a power cut. :func:`create_new` and :class:`NewFiles`: a file a command writes for
its user (a signed envelope, a nonce, a bundle) is created only where nothing is, so that a mistyped
``--out`` can never destroy a key; and a command that writes several files leaves all or none.
:func:`all_or_nothing`: a first initialisation that fails leaves the folder as it found it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType


def replace_durably(target: Path, data: bytes, tmp: Path) -> None:
    """Write ``data`` to ``tmp``, flush it to the disk, rename it to ``target``, then flush the folder
    (the rename is an entry of the folder, not of the file)."""
    with tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(target)
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def create_new(path: Path, data: bytes, mode: int = 0o666) -> None:
    """Create ``path`` holding ``data`` (``mode`` less the umask).

    Raises FileExistsError if anything is there already, even a dangling symbolic link (``O_EXCL``):
    the check and the creation are one step, so no other file is ever overwritten. A write that fails
    half way (a full disk) removes the file it created.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file holding exactly ``data`` (its size is compared first, so a
    large file of another content is never read)."""
    try:
        return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


class NewFiles:
    """The files one command creates, as a ``with`` block: all of them, or none.

    Each file is created with :func:`create_new` (never over an existing one). If the block is left by
    an exception, every file created in it is removed (unless :meth:`keep` was called), so that a failed
    command leaves nothing behind that would make its retry fail (an orphan nonce, an envelope without
    the blob it cites). Files that were there before the command are never touched.
    """

    def __init__(self) -> None:
        self._created: list[Path] = []
        self._kept = False

    def __enter__(self) -> NewFiles:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None and not self._kept:
            for path in reversed(self._created):
                path.unlink(missing_ok=True)

    def create(self, path: Path, data: bytes, mode: int = 0o666) -> None:
        """Create ``path`` (:func:`create_new`); it is removed again if the command fails."""
        create_new(path, data, mode)
        self._created.append(path)

    def create_content_addressed(self, path: Path, data: bytes) -> None:
        """Create a file named by its content's hash (a ``.blob``): one that holds ``data`` already is
        the same file and is left as it is (and kept if the command fails, as it was not created here);
        one that holds anything else is refused, as any existing file is."""
        try:
            self.create(path, data)
        except FileExistsError:
            if not holds(path, data):
                raise

    def keep(self) -> None:
        """Keep the files created so far even if the command fails (they may be needed: a nonce whose
        commitment may have reached the registry)."""
        self._kept = True


@contextmanager
def all_or_nothing(folder: Path, mode: int = 0o777) -> Iterator[None]:
    """Make things in ``folder`` all or nothing: if the body raises, remove what it added, then re-raise.

    The folder is made first (``mode``, less the umask, as ``mkdir`` takes it), and the body runs holding
    an exclusive lock on it (``flock``), so two initialisations of one folder never overlap: one that
    fails cannot take for its own what another made meanwhile (a key another process had just written
    and reported). What is removed: each entry of ``folder`` that was not there when the lock was taken,
    then ``folder`` and the parents made for it, each if it is left empty. Invariant: nothing that
    existed before the lock was taken is removed or changed by the undoing. Only ``folder``'s own entries
    are compared: a body that writes into a subfolder that existed already undoes that with an
    ``all_or_nothing`` of its own. A nested call for ``folder`` or a folder inside it, in the same
    thread, runs under the lock already held.
    """
    made = _first_missing(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=mode)
    with _initialising(folder):
        before = set(folder.iterdir())
        try:
            yield
        except BaseException:
            for path in set(folder.iterdir()) - before:
                _remove(path)
            _remove_empty(folder, made)
            raise


_HELD = threading.local()  # the folders this thread holds the initialisation lock of


@contextmanager
def _initialising(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock on ``folder`` (or run under the lock this thread holds on it or on a
    folder that holds it: a second ``flock`` of another descriptor would wait for the first forever)."""
    held: set[Path] = getattr(_HELD, "folders", set())
    _HELD.folders = held
    key = folder.resolve()
    if any(key == h or h in key.parents for h in held):
        yield
        return
    fd = os.open(key, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor is closed
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)


def _remove_empty(folder: Path, made: Path | None) -> None:
    """Remove ``folder`` and its parents up to ``made`` (those this call made), each only if empty."""
    if made is None:
        return
    for path in (folder, *folder.parents):
        try:
            path.rmdir()
        except OSError:  # not empty: something not ours is in it
            return
        if path == made:
            return


def _first_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet (what a ``mkdir(parents=True)``
    would make first), or None if ``folder`` exists."""
    missing = None
    for path in (folder, *folder.parents):
        if os.path.lexists(path):
            break
        missing = path
    return missing


def _remove(path: Path) -> None:
    """Remove a file, a link (never what it points to) or a whole folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
