"""Inputs: files, folders and globs; plain, gzip or zstd; and files followed live across rotation.

Invariants: chunks always end at a line end (a partial last line waits for the next read, or is
returned at end of file), and compression is recognised by content (magic bytes), not by name.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from detente.errors import InputError, NotFoundError

CHUNK = 8 << 20  # 8 MB: bigger chunks cost memory (several are in flight) and gain no speed
WINDOW = 64 << 10  # bytes read back at a time from the end of a block for its last line end
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def expand(specs: Iterable[str]) -> list[Path]:
    """Files named by paths, folders (every file inside, recursively) and glob patterns.

    Files are ordered oldest first, the order in which rotation wrote them (:func:`oldest_first`).
    """
    found: list[Path] = []
    for spec in specs:
        if spec == "-":  # not a file that matches nothing: say what it is
            raise NotFoundError(
                "'-' (standard input) is not read: a scan reads files, oldest first by their times and "
                "to the size they had; save the input to a file and scan that"
            )
        path = Path(spec)
        if path.is_dir():
            inside = [p for p in sorted(path.rglob("*")) if p.is_file()]
            if not inside:
                raise NotFoundError(f"no log file in the folder {spec!r}")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True))]  # noqa: PTH207 (absolute patterns)
            files = [m for m in matches if m.is_file()]
            if not files:
                raise NotFoundError(f"no log file matches {spec!r}")
            found.extend(files)
    return oldest_first(list(dict.fromkeys(found)))


def oldest_first(paths: list[Path]) -> list[Path]:
    """``paths`` in the order rotation wrote them.

    Invariants: the files of one log's rotated set (one base name) are in :func:`rotation_order`
    whatever their modification times (a copy of the set gives them the times of the copy: ``cp -r``
    or an archive one time, ``cp`` or ``scp`` of a large set times seconds apart, possibly newest
    first); files of different logs are ordered by modification time, to the second. So each set takes
    its own files' times, earliest first, in the order of its names: sets interleave by time, and no
    set is reordered by them.
    """
    sets: dict[str, list[Path]] = {}
    for path in paths:
        sets.setdefault(rotation_order(path)[0], []).append(path)
    timed: list[tuple[int, Path]] = []
    for members in sets.values():
        members.sort(key=_by_name)
        times = sorted(int(p.stat().st_mtime) for p in members)
        timed.extend(zip(times, members, strict=True))
    timed.sort(key=lambda pair: (pair[0], *_by_name(pair[1])))
    return [path for _, path in timed]


def _by_name(path: Path) -> tuple[str, int, int, str, str]:
    return (*rotation_order(path), str(path))


_COMPRESSED = (".gz", ".zst", ".zstd")
_NUMBERED = re.compile(r"(?P<base>.+)\.(?P<n>[0-9]{1,6})")  # logrotate: access.log.1 is the newest kept
# dateext: access.log-20260614, or with separators (dateformat -%Y-%m-%d: access.log-2026-06-14) and a
# time of day; [0-9], not \d, which would take any Unicode digit
_DATED = re.compile(
    r"(?P<base>.+)[-._](?P<date>[0-9]{4}[-_.]?[0-9]{2}[-_.]?[0-9]{2}(?:[-_.T]?[0-9]{2}(?:[-_.:]?[0-9]{2}){0,2})?)"
)
_NOT_DIGIT = re.compile(r"[^0-9]")


def rotation_order(path: Path) -> tuple[str, int, int, str]:
    """Where ``path`` stands among the files rotation made of one log, older first: the log's name,
    then the rotated files (a higher number older, an earlier date older), then the log itself."""
    name = path.name
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            name = name.removesuffix(suffix)
            break
    if found := _DATED.fullmatch(name):
        # the digits alone: compared as text, they order by time whatever separators the name has
        return str(path.parent / found["base"]), 0, 0, _NOT_DIGIT.sub("", found["date"])
    if found := _NUMBERED.fullmatch(name):
        return str(path.parent / found["base"]), 0, -int(found["n"]), ""
    return str(path.parent / name), 1, 0, ""


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
        return io.BufferedReader(_ZstdFrames(raw))
    return raw


class _ZstdFrames(io.RawIOBase):
    """Every frame of a zstd file, one after another; a last frame that does not end is an error.

    A stream reader would return what it could of a truncated file and then simply stop, so a log cut
    short (copied while still being compressed) would be scanned in part with no word said.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard  # here, not at the top: a scan of plain files need not load it

        self.error = zstandard.ZstdError
        self.raw = raw
        self.dctx = zstandard.ZstdDecompressor()
        self.frame = self.dctx.decompressobj()
        self.started = False  # the current frame has been given data
        self.ready = memoryview(b"")  # decompressed and not yet read (a view: no copy per read)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.ready:
            data = self.raw.read(1 << 20)
            if not data:
                if self.started and not self.frame.eof:
                    raise EOFError("the zstd input ends inside a frame: it was cut short")
                return 0
            self.ready = memoryview(self._decompress(data))
        n = min(len(buffer), len(self.ready))
        buffer[:n] = self.ready[:n]
        self.ready = self.ready[n:]
        return n

    def _decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            if self.frame.eof:  # the next frame begins
                self.frame = self.dctx.decompressobj()
            self.started = True
            try:
                out.append(self.frame.decompress(data))
            except self.error as exc:
                raise InputError(f"damaged compressed input: {exc}") from exc
            data = self.frame.unused_data if self.frame.eof else b""
        return b"".join(out)

    def close(self) -> None:
        self.raw.close()
        super().close()


def chunks(stream: BinaryIO, size: int | None = None) -> Iterator[bytes]:
    """Whole-line chunks of about ``size`` bytes (default :data:`CHUNK`); damaged compressed data is an
    :class:`InputError`."""
    size = size or CHUNK
    rest = b""
    while True:
        try:
            block = stream.read(size)
        except (OSError, EOFError, zlib.error) as exc:
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


@dataclass(frozen=True)
class Span:
    """Whole lines of a plain file, ``[start, end)``, as one chunk of :func:`chunks` (``last``: the end of
    a file that has no line end after its last line, which the chunk then gets)."""

    path: Path
    start: int
    end: int
    last: bool = False

    def read(self) -> bytes:
        """The chunk (``os.pread`` releases the GIL: spans are read by the threads that parse them)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                data = os.pread(fd, self.end - self.start, self.start)
            finally:
                os.close(fd)
        except OSError as exc:
            raise InputError(f"cannot read {self.path}: {exc}") from exc
        return data + b"\n" if self.last else data


def spans(path: Path, size: int | None = None) -> Iterator[Span] | None:
    """The chunks :func:`chunks` gives of a plain file, as spans found with one short read per chunk
    (the end of each block of ``size`` bytes, where its last line end is); ``None`` for a compressed
    file. The file is read up to the size it had when this was called."""
    size = size or CHUNK
    try:
        with path.open("rb") as f:
            head = f.read(4)
            total = os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise NotFoundError(f"cannot open {path}: {exc}") from exc
    if head.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
        return None
    return _spans(path, total, size)


def _spans(path: Path, total: int, size: int) -> Iterator[Span]:
    start = 0
    with path.open("rb") as f:
        for block in range(0, total, size):
            cut = _last_line_end(f, block, min(block + size, total))
            if cut is not None:
                yield Span(path, start, cut + 1)
                start = cut + 1
    if start < total:
        yield Span(path, start, total, last=True)


def _last_line_end(f: BinaryIO, lo: int, hi: int) -> int | None:
    """The offset of the last line feed in ``[lo, hi)`` of ``f``, read backwards a window at a time."""
    while hi > lo:
        window = max(lo, hi - WINDOW)
        f.seek(window)
        at = f.read(hi - window).rfind(b"\n")
        if at >= 0:
            return window + at
        hi = window
    return None


@dataclass
class Follower:
    """Reads what is appended to a file, reopening it when it is rotated or truncated.

    ``poll()`` never blocks: it returns the complete new lines since the last call (possibly none), at
    most about :data:`CHUNK` bytes of them (``more`` then says that more is waiting), so a large file
    followed from its start is read a chunk at a time, not whole into memory. Rotation is noticed by a
    change of inode (rename and recreate) once the old file is read to its end, or by the file no
    longer holding the bytes last read before the offset (copy and truncate, even when the new content
    has grown past the old offset before the next poll). A last line left without its line end when
    the file is rotated away is given as a line of its own, never glued to the next file's first.
    Lines already in the file when following starts are skipped unless ``from_start``; a file that
    does not exist yet is read from its first line once it appears (as ``tail -F`` does): every line
    in it is new.
    """

    path: Path
    from_start: bool = False
    more: bool = False  # the last poll stopped at its size: call again without waiting
    _fh: BinaryIO | None = None
    _inode: int = -1
    _rest: bytes = b""
    _polled: bool = False
    _seen: bytes = b""  # the last bytes read, just before the offset

    def _open(self, at_end: bool) -> None:
        try:
            self._fh = self.path.open("rb")
        except OSError:
            self._fh = None
            return
        self._inode = os.fstat(self._fh.fileno()).st_ino
        self._seen = b""
        if at_end:
            self._fh.seek(0, os.SEEK_END)
            self._remember_before_offset()

    def poll(self) -> bytes:
        """New complete lines, as one bytes chunk of about :data:`CHUNK` bytes at most."""
        self.more = False
        if self._fh is None:
            # only the file found at the first poll is opened at its end: one that appears later is new
            self._open(at_end=not self.from_start and self._inode == -1 and not self._polled)
            self._polled = True
            if self._fh is None:
                return b""
        out = b""
        if self._truncated():  # copied and truncated: what is there now is new, from its start
            out, self._rest = self._ended(), b""
            self._fh.seek(0)
            self._seen = b""
        out += self._lines(self._read())
        if not self.more and self._replaced():  # the old file is read to its end: the new one's turn
            out, self._rest = out + self._ended(), b""
            out += self._lines(self._read())
        return out

    def _read(self) -> bytes:
        if self._fh is None:
            return b""
        data = self._fh.read(CHUNK)
        if data:
            self._seen = (self._seen + data[-64:])[-64:]
        self.more = len(data) == CHUNK
        return data

    def _lines(self, data: bytes) -> bytes:
        data = self._rest + data
        cut = data.rfind(b"\n")
        self._rest = data[cut + 1 :]
        return data[: cut + 1]

    def _ended(self) -> bytes:
        """The old file's last line, left without its line end: a line of its own."""
        return self._rest + b"\n" if self._rest else b""

    def _remember_before_offset(self) -> None:
        assert self._fh is not None
        at = self._fh.tell()
        self._seen = os.pread(self._fh.fileno(), min(at, 64), at - min(at, 64))

    def _truncated(self) -> bool:
        """Whether the file no longer holds, just before the offset, the bytes last read there."""
        assert self._fh is not None
        at = self._fh.tell()
        if not at:
            return False
        try:
            size = os.fstat(self._fh.fileno()).st_size
            if size < at:
                return True
            return os.pread(self._fh.fileno(), len(self._seen), at - len(self._seen)) != self._seen
        except OSError:
            return False

    def _replaced(self) -> bool:
        """Whether another file now has the name (rotated by rename): then it is opened from its start."""
        assert self._fh is not None
        try:
            st = self.path.stat()
        except OSError:
            return False  # between rename and re-create: keep the old handle
        if st.st_ino == self._inode:
            return False
        self._fh.close()
        self._open(at_end=False)
        return True

    def close(self) -> None:
        """Release the file handle."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
