"""C2SP tiles: paths, the 70,000-leaf example, entry bundles, and proofs from tiles alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detente.errors import MalformedError, TamperError, TooLargeError
from detente.tlog import merkle
from detente.tlog.edge import TreeEdge
from detente.tlog.export import export_tiles, verify_tiles
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.storage import MemoryStore
from detente.tlog.tiles import (
    TileHashSource,
    TileRef,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    parse_tile_path,
    tile_path,
    tiles_for_size,
)
from tests.conftest import VECTORS
from tests.tlog.helpers import DenseTree

VECTOR = json.loads((VECTORS / "note-and-tiles.json").read_text())["tiles_70000"]


def test_the_70000_leaf_example() -> None:
    refs = tiles_for_size(VECTOR["tree_size"])
    assert len(refs) == VECTOR["tile_count"]
    paths = {tile_path(r) for r in refs}
    assert set(VECTOR["some_paths"]) <= paths


def test_path_encoding() -> None:
    assert tile_path(TileRef(0, 1234067, 256)) == "tile/0/x001/x234/067"
    assert tile_path(TileRef(3, 5, 17)) == "tile/3/005.p/17"
    assert entries_path(1000, 256) == "tile/entries/x001/000"
    assert entries_path(0, 3) == "tile/entries/000.p/3"


@given(st.integers(0, 10**12), st.integers(1, 256), st.integers(0, 63))
def test_paths_round_trip(index: int, width: int, level: int) -> None:
    ref = TileRef(level, index, width)
    assert parse_tile_path(tile_path(ref)) == (level, index, width)
    assert parse_tile_path(entries_path(index, width)) == (None, index, width)


@pytest.mark.parametrize(
    "path",
    ["tile/0/1", "tile/0/x1/000", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/07", "tile/64/000"],
)
def test_non_canonical_paths_are_refused(path: str) -> None:
    with pytest.raises(MalformedError):
        parse_tile_path(path)


def test_entry_bundles() -> None:
    entries = [b"", b"a", b"b" * 65_535]
    assert decode_entry_bundle(encode_entry_bundle(entries)) == entries
    with pytest.raises(TooLargeError):
        encode_entry_bundle([b"c" * 65_536])
    with pytest.raises(MalformedError):
        decode_entry_bundle(b"\x00\x05abc")
    with pytest.raises(MalformedError):
        decode_entry_bundle(b"\x00")


@given(st.lists(st.integers(1, 600), min_size=1, max_size=6))
def test_edge_extension_in_any_batches_gives_the_same_tiles_and_root(batches: list[int]) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(sum(batches))]
    edge, tiles, pos = TreeEdge.empty(), {}, 0
    for n in batches:
        edge, changed = edge.extend([merkle.leaf_hash(e) for e in leaves[pos : pos + n]])
        tiles.update({(r.level, r.index): d for r, d in changed.items()})
        pos += n
    tree = DenseTree(leaves)
    assert edge.root() == merkle.tree_root(tree, len(leaves))
    for ref in tiles_for_size(len(leaves)):
        expected = b"".join(tree.levels[8 * ref.level][256 * ref.index : 256 * ref.index + ref.width])
        assert tiles[ref.level, ref.index] == expected


def test_proofs_from_tiles_alone_match_the_dense_tree() -> None:
    leaves = [i.to_bytes(3, "big") for i in range(66_000)]
    edge, changed = TreeEdge.empty().extend([merkle.leaf_hash(e) for e in leaves])
    tiles = {(r.level, r.index): d for r, d in changed.items()}
    source = TileHashSource(edge.size, edge.root(), lambda r: tiles[r.level, r.index])
    tree = DenseTree(leaves)
    for index in (0, 255, 256, 65_535, 65_536, 65_999):
        assert merkle.inclusion_proof(source, index, 66_000) == merkle.inclusion_proof(tree, index, 66_000)
    for old in (1, 256, 65_536, 65_999):
        assert merkle.consistency_proof(source, old, 66_000) == merkle.consistency_proof(tree, old, 66_000)


def test_exported_tiles_verify_offline_and_every_tampering_is_caught(tmp_path: Path) -> None:
    signer = Signer.generate("example.org/tiles")
    log = Log.create(MemoryStore(), signer)
    log.append([f"e{i}".encode() for i in range(520)])
    export_tiles(log, tmp_path)
    assert verify_tiles(tmp_path, signer.verifier()).size == 520
    for path in ["tile/0/001", "tile/0/002.p/8", "tile/1/000.p/2", "tile/entries/001"]:
        target = tmp_path / path
        original = target.read_bytes()
        target.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises((TamperError, MalformedError)):
            verify_tiles(tmp_path, signer.verifier())
        target.write_bytes(original)


@pytest.mark.parametrize("path", ["tile/0/000", "tile/0/001", "tile/0/002.p/8", "tile/1/000.p/2"])
@pytest.mark.parametrize("extra", [b"GARBAGE-GARBAGE-GARBAGE-GARBAGE!", b"\x00"])
def test_an_exported_tile_with_bytes_past_its_width_is_refused(
    tmp_path: Path, path: str, extra: bytes
) -> None:
    # C2SP tlog-tiles: a full tile is exactly 8,192 bytes, a partial one exactly its width of hashes
    signer = Signer.generate("example.org/tiles")
    log = Log.create(MemoryStore(), signer)
    log.append([f"e{i}".encode() for i in range(520)])
    export_tiles(log, tmp_path)
    with (tmp_path / path).open("ab") as tile:
        tile.write(extra)
    size = (tmp_path / path).stat().st_size
    with pytest.raises(TamperError, match=rf"{re.escape(path)} is {size} bytes"):
        verify_tiles(tmp_path, signer.verifier())
