"""RFC 9162 Merkle tree hashing and proofs: pure functions over hashes.

Invariants:
- ``leaf_hash(e) = SHA-256(0x00 || e)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)`` (RFC 9162 2.1.1);
  the empty tree's root is ``SHA-256("")``.
- A *complete subtree* ``(level, index)`` covers the leaves ``[index * 2**level, (index + 1) * 2**level)``.
  Proof generation reads only complete-subtree hashes, through :class:`HashSource`; every other hash it
  needs (the ragged right edge of a tree) is computed from them.
- Verification (RFC 9162 2.1.3.2 and 2.1.4.2) is strict: every hash is exactly 32 bytes, and a proof of
  the wrong length is refused before any hashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from detente.errors import VerificationError

HASH_SIZE = 32
_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 leaf hash of ``entry``."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash of two child hashes."""
    return _sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = _sha256(b"").digest()


class HashSource(Protocol):
    """Where proof generation reads hashes: complete subtrees only."""

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Return the hash of complete subtree ``(level, index)``."""
        ...


def split_point(n: int) -> int:
    """Return the largest power of two smaller than ``n`` (``n >= 2``), RFC 9162 2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def range_root(source: HashSource, start: int, stop: int) -> bytes:
    """Return MTH of leaves ``[start, stop)``, where ``start`` is aligned to the range's split.

    Every range that RFC 9162 recursion visits has this shape: its left part is a complete subtree.
    """
    size = stop - start
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return source.subtree_hash(level, start >> level)
    k = split_point(size)
    return node_hash(source.subtree_hash(k.bit_length() - 1, start // k), range_root(source, start + k, stop))


def tree_root(source: HashSource, size: int) -> bytes:
    """Return the root hash of the tree of ``size`` leaves."""
    return EMPTY_ROOT if size == 0 else range_root(source, 0, size)


def inclusion_proof(source: HashSource, index: int, size: int) -> list[bytes]:
    """Return PATH(index, D[size]) of RFC 9162 2.1.3.1, bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, stop = 0, size
    while stop - start > 1:
        k = split_point(stop - start)
        if index < start + k:
            path.append(range_root(source, start + k, stop))
            stop = start + k
        else:
            path.append(range_root(source, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(source: HashSource, old: int, new: int) -> list[bytes]:
    """Return PROOF(old, D[new]) of RFC 9162 2.1.4.1: SUBPROOF(old, D[new], true), unrolled."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    outer: list[bytes] = []
    start, stop, complete = 0, new, True
    while old != stop:
        k = split_point(stop - start)
        if old - start <= k:
            outer.append(range_root(source, start + k, stop))
            stop = start + k
        else:
            outer.append(range_root(source, start, start + k))
            start += k
            complete = False
    # SUBPROOF(m, D[m], false) contributes MTH(D[m]) innermost, i.e. first.
    inner = [] if complete else [range_root(source, start, stop)]
    return inner + outer[::-1]


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} is {len(value)} bytes; a SHA-256 hash is {HASH_SIZE}")


def _check_hashes(proof: Sequence[bytes], what: str) -> None:
    for i, value in enumerate(proof):
        _check_hash(value, f"{what} hash {i}")


def _inclusion_path_length(index: int, size: int) -> int:
    """Length of PATH(index, D[size]): the inner part below the first differing bit, plus the right edge."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner + border


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Return the root that ``proof`` implies for ``leaf`` at ``index`` (RFC 9162 2.1.3.2).

    Raises:
        VerificationError: the index, sizes or proof length cannot be right.
    """
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash(leaf, "leaf hash")
    _check_hashes(proof, "inclusion proof")
    if len(proof) != _inclusion_path_length(index, size):
        raise VerificationError(
            f"inclusion proof has {len(proof)} hashes; index {index} in a tree of size {size} "
            f"needs {_inclusion_path_length(index, size)}"
        )
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` is at ``index`` in the tree of ``size`` leaves with ``root``.

    Raises:
        VerificationError: with what does not match.
    """
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise VerificationError(
            f"inclusion proof for index {index} does not lead to the root of the tree of size {size}"
        )


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``old`` leaves is a prefix of the tree of ``new`` (RFC 9162 2.1.4.2).

    A proof from size 0 is refused, as the Go and transparency-dev verifiers refuse it: the witness
    protocol treats ``old 0`` as a special case with no proof.

    Raises:
        VerificationError: with what does not match.
    """
    if old == 0:
        raise VerificationError("a consistency proof from size 0 proves nothing; refused")
    if new < old:
        raise VerificationError(f"tree size went backwards: {old} -> {new}")
    if old == new:
        if proof:
            raise VerificationError("sizes are equal, so the consistency proof must be empty")
        if old_root != new_root:
            raise VerificationError(f"two different roots for the same tree size {old}: a fork")
        return
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    _check_hashes(proof, "consistency proof")
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    if not path or len(proof) == 0:
        raise VerificationError("consistency proof is empty")
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than the trees need")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is shorter than the trees need")
    if fr != old_root or sr != new_root:
        raise VerificationError(f"trees of sizes {old} and {new} are not consistent: a fork or a bad proof")
