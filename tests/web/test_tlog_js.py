"""The browser's verifier (web/static/tlog.js) agrees with the Python one, case by case, in Node.js.

The same module runs in the verify page; Node.js 20 has the same WebCrypto (SHA-256, Ed25519).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from detente.errors import DetenteError
from detente.statements.keys import PublicKey, SigningKey
from detente.tlog.checkpoint import Checkpoint
from detente.tlog.cosignature import cosign, cosigned_message
from detente.tlog.log import Log
from detente.tlog.merkle import inclusion_proof, leaf_hash, node_hash, tree_root
from detente.tlog.note import NoteSignature, Signer, sign_note
from detente.tlog.proof import format_tlog_proof, verify_tlog_proof
from detente.tlog.storage import MemoryStore
from tests.conftest import ROOT, VECTORS
from tests.web import ed25519_edges
from tests.web.node import run_in_node

MODULE = ROOT / "src/detente/web/static/tlog.js"
RUNNER = Path(__file__).with_name("run_js.mjs")


def run_cases(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    return run_in_node(RUNNER, MODULE, cases, tmp_path)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_every_merkle_inclusion_vector(tmp_path: Path) -> None:
    paths = sorted((VECTORS / "merkle/inclusion").rglob("*.json"))
    cases = []
    for path in paths:
        v = json.loads(path.read_text())
        cases.append(
            {
                "kind": "inclusion",
                "index": v["leafIdx"],
                "size": v["treeSize"],
                "leaf": v["leafHash"],
                "proof": v["proof"] or [],
                "root": v["root"],
                "want": not v["wantErr"],
            }
        )
    results = run_cases(cases, tmp_path)
    for path, case, result in zip(paths, cases, results, strict=True):
        assert result["ok"] == case["want"], (path.name, result)


def test_notes_checkpoints_and_cosignatures(tmp_path: Path) -> None:
    vectors = json.loads((VECTORS / "note-and-tiles.json").read_text())
    go, c2sp = vectors["go_test_sign"], vectors["c2sp_example"]
    log = Signer.generate("example.org/log")
    witness = Signer.generate("witness.example", alg=0x04)
    body = Checkpoint("example.org/log", 3, bytes(range(32))).body()
    cosigned = sign_note(body, [log]) + cosign(body, witness, 1_800_000_000).line()
    late = 1 << 63  # above what C2SP allows (2^63 - 1), signed all the same: refused as in Python
    late_sig = late.to_bytes(8, "big") + witness.sign(cosigned_message(body, late))
    too_late = sign_note(body, [log]) + NoteSignature(witness.name, witness.key_id, late_sig).line()
    cases = [
        {"kind": "note", "note": go["signed_note"], "vkeys": [go["verifier_key"]], "want": True},
        {
            "kind": "note",
            "note": c2sp["text"] + "\n" + c2sp["signature_line"],
            "vkeys": [c2sp["verifier_key"]],
            "want": True,
        },
        {
            "kind": "note",
            "note": go["signed_note"].replace("problem,", "problem;"),
            "vkeys": [go["verifier_key"]],
            "want": False,
        },
        {"kind": "note", "note": go["signed_note"], "vkeys": [c2sp["verifier_key"]], "want": False},
        {"kind": "checkpoint", "note": cosigned, "vkey": log.vkey, "witnesses": [witness.vkey], "want": True},
        {"kind": "checkpoint", "note": cosigned.replace("\n3\n", "\n4\n"), "vkey": log.vkey, "want": False},
        {"kind": "checkpoint", "note": cosigned, "vkey": witness.vkey, "want": False},
        {
            "kind": "checkpoint",
            "note": too_late,
            "vkey": log.vkey,
            "witnesses": [witness.vkey],
            "want": False,
        },
    ]
    results = run_cases(cases, tmp_path)
    assert [r["ok"] for r in results] == [c["want"] for c in cases], results


@pytest.mark.parametrize("size", [1, 2, 7, 256, 257, 700])
def test_tlog_proofs_from_the_python_log(tmp_path: Path, size: int) -> None:
    signer = Signer.generate("example.org/js")
    log = Log.create(MemoryStore(), signer)
    log.append([f"e{i}".encode() for i in range(size)])
    cases = []
    for index in sorted({0, size // 2, size - 1}):
        proof = format_tlog_proof(index, log.inclusion_proof(index), log.signed_checkpoint)
        entry = b64(f"e{index}".encode())
        cases.append({"kind": "tlogproof", "proof": proof, "entry": entry, "vkey": signer.vkey, "want": True})
        cases.append(
            {"kind": "tlogproof", "proof": proof, "entry": b64(b"forged"), "vkey": signer.vkey, "want": False}
        )
    results = run_cases(cases, tmp_path)
    assert [r["ok"] for r in results] == [c["want"] for c in cases], results


@pytest.mark.parametrize(
    "extra",
    ["extra ZXh0cmE=", "extra !!!!", "extra ZXh0cmE", "extra "],
    ids=["base64", "not", "unpadded", "empty"],
)
def test_a_tlog_proofs_extra_line_is_read_as_python_reads_it(tmp_path: Path, extra: str) -> None:
    signer = Signer.generate("example.org/js")
    log = Log.create(MemoryStore(), signer)
    log.append([b"e0", b"e1"])
    proof = format_tlog_proof(1, log.inclusion_proof(1), log.signed_checkpoint)
    header, rest = proof.split("\n", 1)
    proof = f"{header}\n{extra}\n{rest}"
    try:
        verify_tlog_proof(proof, b"e1", signer.verifier())
        python = True
    except DetenteError:
        python = False
    [browser] = run_cases(
        [{"kind": "tlogproof", "proof": proof, "entry": b64(b"e1"), "vkey": signer.vkey}], tmp_path
    )
    assert browser["ok"] == python
    assert python == (extra in ("extra ZXh0cmE=", "extra "))


class MadeUpTree:
    """A tree of any size, one leaf given, every complete subtree without it hashing to a made-up value:
    enough for the proofs of that leaf, in a tree far too large to build."""

    def __init__(self, index: int, leaf: bytes) -> None:
        self.index, self.leaf = index, leaf

    def subtree_hash(self, level: int, index: int) -> bytes:
        if not index << level <= self.index < (index + 1) << level:
            return hashlib.sha256(b"%d %d" % (level, index)).digest()
        if level == 0:
            return self.leaf
        return node_hash(self.subtree_hash(level - 1, 2 * index), self.subtree_hash(level - 1, 2 * index + 1))


def proof_in_a_large_tree(signer: Signer, index: int, size: int, entry: bytes, shift: int = 0) -> str:
    """The tlog-proof of ``entry`` at ``index`` in a made-up tree of ``size`` leaves, its checkpoint
    signed by ``signer`` (that of the index ``shift`` away, if not 0)."""
    tree = MadeUpTree(index, leaf_hash(entry))
    body = Checkpoint(signer.name, size, tree_root(tree, size)).body()
    return format_tlog_proof(index + shift, inclusion_proof(tree, index, size), sign_note(body, [signer]))


@pytest.mark.parametrize(
    ("index", "size"),
    [
        (2**53, 2**53 + 1),  # read as a number, the size would be 2^53: a proof one hash shorter
        (2**53 + 1, 2**53 + 3),
        (5, 2**60),
        (2**62 + 12345, 2**63 - 1),  # the largest size detente.tlog takes
        (2**63 - 2, 2**63 - 1),
        (0, 2**63),  # above it: refused
    ],
)
def test_tlog_proofs_in_trees_beyond_2_to_the_53(tmp_path: Path, index: int, size: int) -> None:
    # the browser reads sizes and indices as BigInts: it agrees with the Python verifier up to 2^63 - 1
    signer = Signer.generate("example.org/large")
    proofs = [
        (proof_in_a_large_tree(signer, index, size, b"entry"), b"entry"),
        (proof_in_a_large_tree(signer, index, size, b"entry"), b"another"),
        (proof_in_a_large_tree(signer, index, size, b"entry", shift=1 if index + 1 < size else -1), b"entry"),
    ]
    python = []
    for proof, entry in proofs:
        try:
            verify_tlog_proof(proof, entry, signer.verifier())
            python.append(True)
        except DetenteError:
            python.append(False)
    cases = [
        {"kind": "tlogproof", "proof": proof, "entry": b64(entry), "vkey": signer.vkey}
        for proof, entry in proofs
    ]
    browser = [r["ok"] for r in run_cases(cases, tmp_path)]
    assert browser == python
    assert python == [size < 2**63, False, False]


@pytest.mark.parametrize("aside", [False, True], ids=["webcrypto", "webcrypto set aside"])
def test_ed25519_verdicts_are_libsodiums(tmp_path: Path, aside: bool) -> None:
    # WebCrypto accepts a key or an R of small order, libsodium (Python's) does not: a key of small
    # order "signs" anything, so each spelling of each such point is tried with a signature it makes.
    # Nor does libsodium take a key whose y is spelled as y + p, which WebCrypto reads modulo p; no one
    # can sign under such a key of large order, so the browser's own refusal of it is seen only with
    # WebCrypto's verdict set aside (a stand-in that says yes): every refusal here is libsodium's own
    # before any arithmetic, and must be the browser's own too.
    message = b"DSSEv1 4 type 7 payload"
    cases = list(ed25519_edges.cases(SigningKey(bytes(range(32))), message))
    assert len(cases) == 2 + 14 + 20
    sent = [
        {"kind": "ed25519", "key": b64(key), "sig": b64(sig), "message": b64(message), "aside": aside}
        for _, key, sig in cases
    ]
    libsodium = {name: PublicKey(key).verify(message, sig) for name, key, sig in cases}
    browser = {name: r["ok"] for (name, _, _), r in zip(cases, run_cases(sent, tmp_path), strict=True)}
    assert browser == libsodium
    assert list(libsodium.values()) == [True] + [False] * 35
