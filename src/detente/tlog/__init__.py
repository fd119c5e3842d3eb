"""The transparency log: RFC 9162 Merkle tree, C2SP checkpoints, notes, cosignatures, tiles and proofs.

The public surface is pinned in ``__all__`` (and by a test). Modules:

- ``merkle``: hashing and proofs, pure;
- ``note``, ``checkpoint``, ``cosignature``, ``proof``: C2SP text formats, pure;
- ``tiles``, ``edge``: tile arithmetic and the writer's right edge, pure;
- ``storage``: the narrow store port and its memory, SQLite and PostgreSQL adapters;
- ``log``, ``sequencer``: the one writer and its group-commit thread;
- ``home``, ``backup``, ``export``, ``published``: files and folders around a log;
- ``cli``: ``detente log``.
"""

from detente.tlog.checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint
from detente.tlog.cosignature import CosignatureVerifier, cosign, parse_cosignature_vkey
from detente.tlog.log import Integration, Log
from detente.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from detente.tlog.note import Ed25519Verifier, Signer, open_note, parse_ed25519_vkey, sign_note
from detente.tlog.proof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof
from detente.tlog.sequencer import BatchHandler, GroupCommit, RawEntries, Receipt, Sequencer

__all__ = [
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
