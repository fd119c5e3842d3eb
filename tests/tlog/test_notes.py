"""Signed notes, checkpoints, cosignatures and tlog-proof files, against the spec vectors."""

from __future__ import annotations

import json

import pytest

from detente.errors import MalformedError, VerificationError
from detente.tlog.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint_body
from detente.tlog.cosignature import (
    CosignatureVerifier,
    cosign,
    cosigned_message,
    parse_cosignature_vkey,
    require_cosignatures,
)
from detente.tlog.merkle import EMPTY_ROOT, leaf_hash
from detente.tlog.note import (
    NoteSignature,
    Signer,
    open_note,
    parse_ed25519_vkey,
    parse_private_key,
    sign_note,
    split_note,
)
from detente.tlog.proof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof
from tests.conftest import VECTORS

VECTOR = json.loads((VECTORS / "note-and-tiles.json").read_text())
LOG = Signer.generate("example.org/log")


def test_go_test_sign_reproduces_byte_for_byte() -> None:
    case = VECTOR["go_test_sign"]
    signer = parse_private_key(case["private_key"])
    assert signer.vkey == case["verifier_key"]
    assert sign_note(case["text"], [signer]) == case["signed_note"]
    assert "PRIVATE" not in repr(signer)
    assert signer.private_key_string == case["private_key"]


def test_c2sp_example_verifies() -> None:
    case = VECTOR["c2sp_example"]
    verifier = parse_ed25519_vkey(case["verifier_key"])
    note = open_note(case["text"] + "\n" + case["signature_line"], [verifier])
    assert note.text == case["text"]
    assert [s.name for s in note.sigs] == ["example.com/foo"]


def test_unknown_signers_are_kept_apart_and_a_known_one_is_required() -> None:
    other = Signer.generate("someone.else")
    signed = sign_note("hello\n", [other, LOG])
    note = open_note(signed, [LOG.verifier()])
    assert [s.name for s in note.sigs] == ["example.org/log"]
    assert [s.name for s in note.unverified] == ["someone.else"]
    with pytest.raises(VerificationError, match="not signed by any known key"):
        open_note(sign_note("hello\n", [other]), [LOG.verifier()])


def test_at_least_sixteen_signatures_are_accepted() -> None:
    signers = [Signer.generate(f"w{i}") for i in range(20)]
    signed = sign_note("many\n", [*signers, LOG])
    assert len(open_note(signed, [LOG.verifier()]).unverified) == 20


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("no blank line\n— x AAAA\n", "blank line"),
        ("text\n\n— example.org/log !!!!\n", "base64"),
        ("text\n\n- example.org/log AAAAAAAA\n", "em dash"),
        ("text\n\n— example.org/log AAAAAA==", "newline"),
        ("te\x01xt\n\n— a AAAAAAAA\n", "control"),
        ("text\n\n— bad+name AAAAAAAA\n", "malformed signature"),
    ],
)
def test_malformed_notes_say_what_is_wrong(note: str, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        split_note(note)


def test_a_changed_text_invalidates_a_known_signature() -> None:
    signed = sign_note("pay 10\n", [LOG])
    with pytest.raises(VerificationError, match="invalid signature"):
        open_note(signed.replace("10", "99"), [LOG.verifier()])


def test_checkpoint_round_trip_and_strict_parsing() -> None:
    cp = Checkpoint("example.org/log", 5, leaf_hash(b"x"), ("ext line",))
    opened = open_checkpoint(cp.sign([LOG]), LOG.verifier())
    assert opened.checkpoint == cp
    for bad in ["o\n05\n" + "A" * 43 + "=\n", "o\n5\nAAAA\n", "o\n5\n", "\n5\n" + "A" * 43 + "=\n"]:
        with pytest.raises(MalformedError):
            parse_checkpoint_body(bad)


def test_checkpoint_origin_must_be_the_key_name() -> None:
    impostor = Signer("example.org/log", LOG.seed)
    note = Checkpoint("other.origin", 0, EMPTY_ROOT).sign([impostor])
    with pytest.raises(VerificationError):
        open_checkpoint(note, parse_ed25519_vkey(Signer.generate("x").vkey))
    with pytest.raises(VerificationError):
        open_checkpoint(note, LOG.verifier())


def test_cosignature_v1_signs_and_verifies() -> None:
    witness = Signer.generate("witness.example", alg=0x04)
    verifier = parse_cosignature_vkey(witness.vkey)
    body = Checkpoint("example.org/log", 3, leaf_hash(b"y")).body()
    line = cosign(body, witness, 1_700_000_000)
    cosigned = sign_note(body, [LOG]) + line.line()
    note = open_note(cosigned, [LOG.verifier(), verifier])
    assert len(note.sigs) == 2
    assert CosignatureVerifier.timestamp(note.sigs[1]) == 1_700_000_000
    forged = cosigned.replace(body.split("\n")[1] + "\n", "4\n", 1)
    with pytest.raises(VerificationError):
        open_note(forged, [verifier])
    with pytest.raises(MalformedError, match="algorithm 1"):
        parse_cosignature_vkey(LOG.vkey)


@pytest.mark.parametrize("timestamp", [1 << 63, (1 << 64) - 1])
def test_a_cosignature_time_above_2_63_minus_1_is_never_signed_nor_accepted(timestamp: int) -> None:
    witness = Signer.generate("witness.example", alg=0x04)
    verifier = parse_cosignature_vkey(witness.vkey)
    checkpoint = Checkpoint("example.org/log", 3, leaf_hash(b"y"))
    body, signed = checkpoint.body(), checkpoint.sign([LOG])
    with pytest.raises(ValueError, match="2\\^63-1"):
        cosign(body, witness, timestamp)
    # a witness that signs one all the same: good Ed25519, a time the spec forbids (C2SP tlog-cosignature)
    ed25519 = witness.sign(cosigned_message(body, timestamp))
    line = NoteSignature(witness.name, verifier.key_id, timestamp.to_bytes(8, "big") + ed25519).line()
    with pytest.raises(VerificationError, match=r"invalid signature by witness\.example"):
        require_cosignatures(signed + line, LOG.verifier(), [verifier], 1)
    latest = cosign(body, witness, (1 << 63) - 1).line()
    assert require_cosignatures(signed + latest, LOG.verifier(), [verifier], 1).checkpoint == checkpoint


def test_tlog_proof_round_trip_and_refusals() -> None:
    body = Checkpoint("example.org/log", 1, leaf_hash(b"only")).sign([LOG])
    text = format_tlog_proof(0, [], body, extra=b"context")
    proof, signed = verify_tlog_proof(text, b"only", LOG.verifier())
    assert (proof.index, proof.extra, signed.checkpoint.size) == (0, b"context", 1)
    with pytest.raises(VerificationError):
        verify_tlog_proof(text, b"other", LOG.verifier())
    for bad, message in [
        (text.replace("index 0", "index 00"), "index"),
        (text.replace("c2sp.org/tlog-proof@v1", "tlog-proof"), "must start"),
        (text.replace("\n\n", "\n"), "empty line"),
    ]:
        with pytest.raises(MalformedError, match=message):
            parse_tlog_proof(bad)
