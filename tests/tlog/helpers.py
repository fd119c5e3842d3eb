"""Test helpers for the log: a dense in-memory tree built the obvious way, to check against."""

from __future__ import annotations

from detente.tlog.merkle import EMPTY_ROOT, leaf_hash, node_hash, split_point
from detente.tlog.tiles import pair_up


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH of RFC 9162 2.1.1, recursively and literally."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = split_point(len(leaves))
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


class DenseTree:
    """Every complete subtree hash of a tree, level by level."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.levels = [[leaf_hash(e) for e in leaves]]
        while len(self.levels[-1]) > 1:
            self.levels.append(pair_up(self.levels[-1]))

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Return complete subtree ``(level, index)``."""
        return self.levels[level][index]
