"""RFC 9162 proofs: the transparency-dev vectors, and every proof of every tree of 1 to 128 leaves."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detente.errors import VerificationError
from detente.tlog import merkle
from tests.conftest import VECTORS
from tests.tlog.helpers import DenseTree, reference_root

MERKLE = VECTORS / "merkle"


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _cases(kind: str) -> list[Path]:
    return sorted((MERKLE / kind).rglob("*.json"))


def test_vectors_are_present() -> None:
    assert len(_cases("inclusion")) > 50
    assert len(_cases("consistency")) > 50


@pytest.mark.parametrize("path", _cases("inclusion"), ids=lambda p: str(p.relative_to(MERKLE)))
def test_inclusion_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b64(h) for h in case["proof"] or []]

    def verify() -> None:
        merkle.verify_inclusion(
            case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof, _b64(case["root"])
        )

    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify()
    else:
        verify()


@pytest.mark.parametrize("path", _cases("consistency"), ids=lambda p: str(p.relative_to(MERKLE)))
def test_consistency_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b64(h) for h in case["proof"] or []]

    def verify() -> None:
        merkle.verify_consistency(
            case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), proof
        )

    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify()
    else:
        verify()


LEAVES = [f"leaf {i}".encode() for i in range(128)]
TREE = DenseTree(LEAVES)
ROOTS = [merkle.tree_root(TREE, n) for n in range(129)]


def test_roots_match_the_literal_definition() -> None:
    for n in range(129):
        assert ROOTS[n] == reference_root(LEAVES[:n])


@pytest.mark.parametrize("size", range(1, 129))
def test_every_inclusion_proof(size: int) -> None:
    root = ROOTS[size]
    for index in range(size):
        proof = merkle.inclusion_proof(TREE, index, size)
        leaf = merkle.leaf_hash(LEAVES[index])
        merkle.verify_inclusion(index, size, leaf, proof, root)
        wrong_index = (index + 1) % size
        if wrong_index != index:
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(wrong_index, size, leaf, proof, root)


@pytest.mark.parametrize("size", range(1, 129))
def test_every_consistency_proof(size: int) -> None:
    for old in range(1, size + 1):
        proof = merkle.consistency_proof(TREE, old, size)
        merkle.verify_consistency(old, size, ROOTS[old], ROOTS[size], proof)
        if old < size:
            with pytest.raises(VerificationError):
                merkle.verify_consistency(
                    old, size, ROOTS[old - 1] if old > 1 else ROOTS[2], ROOTS[size], proof
                )


@given(st.integers(1, 128), st.data())
def test_a_flipped_bit_anywhere_in_a_proof_is_refused(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(TREE, index, size)
    if not proof:
        return
    which = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    bad = bytearray(proof[which])
    bad[bit // 8] ^= 1 << (bit % 8)
    proof[which] = bytes(bad)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, ROOTS[size])


def test_short_hashes_are_refused_before_hashing() -> None:
    with pytest.raises(VerificationError, match="32"):
        merkle.verify_inclusion(0, 2, b"short", [merkle.leaf_hash(b"x")], ROOTS[2])
