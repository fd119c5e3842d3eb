"""Export a log as static C2SP files, and verify such a folder offline.

``export_tiles`` writes ``checkpoint``, every hash tile and every entry bundle of the current tree, so that
any static web server or CDN can serve the log read-only. ``verify_tiles`` checks a folder with nothing
but the log's public key: the checkpoint signature, every tile against the root (and its size: exactly
its width of hashes), every entry against its leaf hash.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from detente.errors import TamperError
from detente.tlog import merkle
from detente.tlog.checkpoint import Checkpoint, open_checkpoint
from detente.tlog.log import Log
from detente.tlog.merkle import HASH_SIZE
from detente.tlog.note import Ed25519Verifier
from detente.tlog.tiles import (
    TILE_WIDTH,
    TileHashSource,
    TileRef,
    decode_entry_bundle,
    entries_path,
    tile_path,
    tiles_for_size,
)

Progress = Callable[[int], None]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def export_tiles(log: Log, out: Path, progress: Progress | None = None) -> int:
    """Write the log's static files under ``out``; return the number of files written."""
    size = log.size
    count = 0
    for ref in tiles_for_size(size):
        _write(out / tile_path(ref), log.tile(ref))
        count += 1
        if ref.level == 0:
            _write(out / entries_path(ref.index, ref.width), log.entry_bundle(ref.index, ref.width))
            count += 1
            if progress is not None:
                progress(ref.width)
    _write(out / "checkpoint", log.signed_checkpoint.encode())
    return count + 1


def _reader(folder: Path) -> Callable[[TileRef], bytes]:
    def fetch(ref: TileRef) -> bytes:
        path = folder / tile_path(ref)
        if not path.exists():
            raise TamperError(f"{tile_path(ref)} is missing")
        data = path.read_bytes()
        # C2SP tlog-tiles: a full tile is exactly 256 hashes (8,192 bytes), a partial one exactly its width.
        # Unlike a stored tile, whose one row serves every narrower width, a file has one width, in its name.
        if len(data) != ref.width * HASH_SIZE:
            raise TamperError(
                f"{tile_path(ref)} is {len(data)} bytes; a tile of {ref.width} hashes is exactly "
                f"{ref.width * HASH_SIZE}"
            )
        return data

    return fetch


def verify_tiles(folder: Path, log_key: Ed25519Verifier, progress: Progress | None = None) -> Checkpoint:
    """Check an exported folder offline; return its verified checkpoint.

    Raises:
        MalformedError, VerificationError: the checkpoint is malformed or not signed by the log key.
        TamperError: a tile or entry bundle does not match the signed tree.
    """
    checkpoint = open_checkpoint((folder / "checkpoint").read_bytes(), log_key).checkpoint
    source = TileHashSource(checkpoint.size, checkpoint.root, _reader(folder))
    if checkpoint.size and merkle.tree_root(source, checkpoint.size) != checkpoint.root:
        raise TamperError("tiles do not rebuild the checkpoint root")
    for ref in tiles_for_size(checkpoint.size):
        source.tile(ref)
        if ref.level != 0:
            continue
        bundle = folder / entries_path(ref.index, ref.width)
        entries = decode_entry_bundle(bundle.read_bytes()) if bundle.exists() else []
        if len(entries) != ref.width:
            raise TamperError(f"{entries_path(ref.index, ref.width)} is missing or has the wrong count")
        for offset, entry in enumerate(entries):
            index = ref.index * TILE_WIDTH + offset
            if merkle.leaf_hash(entry) != source.subtree_hash(0, index):
                raise TamperError(f"entry {index} in {bundle.name} does not match the signed tree")
        if progress is not None:
            progress(ref.width)
    return checkpoint
