"""The public surface of detente.tlog is deliberate: a change to it is a change to this test."""

from __future__ import annotations

import detente.tlog


def test_public_names_are_pinned() -> None:
    assert sorted(detente.tlog.__all__) == [
        "BatchHandler",
        "Checkpoint",
        "CosignatureVerifier",
        "Ed25519Verifier",
        "GroupCommit",
        "Integration",
        "Log",
        "RawEntries",
        "Receipt",
        "Sequencer",
        "SignedCheckpoint",
        "Signer",
        "cosign",
        "format_tlog_proof",
        "leaf_hash",
        "open_checkpoint",
        "open_note",
        "parse_cosignature_vkey",
        "parse_ed25519_vkey",
        "parse_tlog_proof",
        "sign_note",
        "verify_consistency",
        "verify_inclusion",
        "verify_tlog_proof",
    ]
    for name in detente.tlog.__all__:
        assert getattr(detente.tlog, name) is not None
