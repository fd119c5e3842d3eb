"""Inputs: files, folders and globs; plain, gzip or zstd; and files followed live across rotation.

Invariants: chunks always end at a line end (a partial last line waits for the next read, or is
returned at end of file), and compression is recognised by content (magic bytes), not by name.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from detente.errors import InputError, NotFoundError

CHUNK = 8 << 20  # 8 MB: bigger chunks cost memory (several are in flight) and gain no speed
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def expand(specs: Iterable[str]) -> list[Path]:
    """Files named by paths, folders (every file inside, recursively) and glob patterns.

    Files are ordered oldest first (by modification time), the order in which rotation wrote them.
    """
    found: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True))]  # noqa: PTH207 (absolute patterns)
            files = [m for m in matches if m.is_file()]
            if not files:
                raise NotFoundError(f"no log file matches {spec!r}")
            found.extend(files)
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda p: (p.stat().st_mtime, str(p)))


def open_log(path: Path) -> BinaryIO:
    """Open a log for reading, decompressing gzip or zstd transparently."""
    try:
        with path.open("rb") as probe:
            head = probe.read(4)
        if head.startswith(GZIP_MAGIC):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        raw = path.open("rb")
    except OSError as exc:
        raise NotFoundError(f"cannot open {path}: {exc}") from exc
    if head.startswith(ZSTD_MAGIC):
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.BufferedReader(reader)
    return raw


def chunks(stream: BinaryIO, size: int | None = None) -> Iterator[bytes]:
    """Whole-line chunks of about ``size`` bytes (default :data:`CHUNK`); damaged compressed data is an
    :class:`InputError`."""
    size = size or CHUNK
    rest = b""
    while True:
        try:
            block = stream.read(size)
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
            raise InputError(f"damaged compressed input: {exc}") from exc
        if not block:
            if rest:
                yield rest + b"\n"
            return
        cut = block.rfind(b"\n")
        if cut < 0:
            rest += block
            continue
        # one copy of the block, not two (``rest + block`` and then a slice of it)
        yield b"".join((rest, memoryview(block)[: cut + 1]))
        rest = block[cut + 1 :]


@dataclass
class Follower:
    """Reads what is appended to a file, reopening it when it is rotated or truncated.

    ``poll()`` never blocks: it returns the complete new lines since the last call (possibly none).
    Rotation is noticed by a change of inode (rename and recreate) or a size below our offset
    (copy and truncate); the rest of the old file is read before switching. Lines already in the file
    when following starts are skipped unless ``from_start``; a file that does not exist yet is read
    from its first line once it appears (as ``tail -F`` does): every line in it is new.
    """

    path: Path
    from_start: bool = False
    _fh: BinaryIO | None = None
    _inode: int = -1
    _rest: bytes = b""
    _polled: bool = False

    def _open(self, at_end: bool) -> None:
        try:
            self._fh = self.path.open("rb")
        except OSError:
            self._fh = None
            return
        self._inode = os.fstat(self._fh.fileno()).st_ino
        if at_end:
            self._fh.seek(0, os.SEEK_END)

    def poll(self) -> bytes:
        """New complete lines, as one bytes chunk."""
        if self._fh is None:
            # only the file found at the first poll is opened at its end: one that appears later is new
            self._open(at_end=not self.from_start and self._inode == -1 and not self._polled)
            self._polled = True
            if self._fh is None:
                return b""
        data = self._fh.read()
        data += self._rotated()
        data = self._rest + data
        cut = data.rfind(b"\n")
        self._rest = data[cut + 1 :]
        return data[: cut + 1]

    def _rotated(self) -> bytes:
        assert self._fh is not None
        try:
            st = self.path.stat()
        except OSError:
            return b""  # between rename and re-create: keep the old handle
        if st.st_ino != self._inode:
            self._fh.close()
            self._open(at_end=False)
            return self._fh.read() if self._fh is not None else b""
        if st.st_size < self._fh.tell():
            self._fh.seek(0)
            return self._fh.read()
        return b""

    def close(self) -> None:
        """Release the file handle."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
