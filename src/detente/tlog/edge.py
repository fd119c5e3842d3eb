"""The right edge of a growing tree: what a writer needs to append, and nothing more.

Invariants:
- ``partial[t]`` holds the hashes at tree level ``8 * t`` of the partial tile at tile level ``t``, so
  ``len(partial[t]) == (size >> 8 * t) % 256``; together they determine the root.
- :meth:`TreeEdge.extend` is pure: it returns the new edge and every tile the batch changed (full tiles
  that were completed and the new partial tiles), which is exactly what storage must write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detente.errors import TamperError
from detente.tlog.merkle import EMPTY_ROOT
from detente.tlog.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileRef,
    edge_nodes,
    fold_right,
    pair_up,
    split_hashes,
    tiles_for_size,
)


def reduce_full_tile(hashes: list[bytes]) -> bytes:
    """Return the root of a full tile's 256 hashes (the parent hash one tile level up)."""
    for _ in range(TILE_HEIGHT):
        hashes = pair_up(hashes)
    return hashes[0]


@dataclass(frozen=True)
class TreeEdge:
    """The partial tiles of a tree of ``size`` leaves."""

    size: int
    partial: tuple[tuple[bytes, ...], ...] = ()

    @classmethod
    def empty(cls) -> TreeEdge:
        """The edge of the empty tree."""
        return cls(0, ())

    @classmethod
    def from_tiles(cls, size: int, tiles: dict[TileRef, bytes]) -> TreeEdge:
        """Build the edge from the partial tiles of a tree (as read from storage; check with root)."""
        rows: list[tuple[bytes, ...]] = []
        for ref in tiles_for_size(size):
            if not ref.full:
                while len(rows) < ref.level:
                    rows.append(())
                rows.append(tuple(split_hashes(tiles[ref][: ref.width * 32], "edge tile")))
        return cls(size, tuple(rows))

    def root(self) -> bytes:
        """Return the root hash of the tree."""
        nodes: list[bytes] = []
        for level in range(len(self.partial) - 1, -1, -1):
            row = self.partial[level]
            if row:
                nodes.extend(h for _, h in edge_nodes(row, TILE_HEIGHT * level))
        return fold_right(nodes) if nodes else EMPTY_ROOT

    def check(self, root: bytes) -> None:
        """Refuse an edge that does not lead to the signed ``root``."""
        if self.root() != root:
            raise TamperError(f"stored edge tiles do not match the signed root of size {self.size}")

    def extend(self, leaf_hashes: Sequence[bytes]) -> tuple[TreeEdge, dict[TileRef, bytes]]:
        """Append leaf hashes; return the new edge and the tiles that changed."""
        changed: dict[TileRef, bytes] = {}
        rows = list(self.partial)
        carry: list[bytes] = list(leaf_hashes)
        level = 0
        while carry:
            if level == len(rows):
                rows.append(())
            first_tile = (self.size >> (TILE_HEIGHT * level)) >> TILE_HEIGHT
            buffer = list(rows[level]) + carry
            carry = []
            full_count = len(buffer) // TILE_WIDTH
            for n in range(full_count):
                chunk = buffer[n * TILE_WIDTH : (n + 1) * TILE_WIDTH]
                changed[TileRef(level, first_tile + n, TILE_WIDTH)] = b"".join(chunk)
                carry.append(reduce_full_tile(chunk))
            rest = buffer[full_count * TILE_WIDTH :]
            if rest:
                changed[TileRef(level, first_tile + full_count, len(rest))] = b"".join(rest)
            rows[level] = tuple(rest)
            level += 1
        new_size = self.size + len(leaf_hashes)
        while rows and not rows[-1]:
            rows.pop()
        return TreeEdge(new_size, tuple(rows)), changed
