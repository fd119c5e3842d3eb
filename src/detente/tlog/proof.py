"""C2SP tlog-proof@v1: an offline proof that an entry is in a checkpointed tree.

Format: ``c2sp.org/tlog-proof@v1``, an optional ``extra <base64>`` line, ``index <N>``, zero or more
base64 proof hashes, an empty line, then the signed checkpoint verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from detente.errors import MalformedError
from detente.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from detente.tlog.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from detente.tlog.note import Verifier, b64decode, b64encode

HEADER = "c2sp.org/tlog-proof@v1"
_INDEX = re.compile(r"index (0|[1-9][0-9]{0,19})")


@dataclass(frozen=True)
class TlogProof:
    """A parsed (not yet verified) tlog-proof."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


def format_tlog_proof(
    index: int, hashes: Sequence[bytes], signed_checkpoint: str, extra: bytes | None = None
) -> str:
    """Write a tlog-proof@v1 text."""
    lines = [HEADER]
    if extra is not None:
        lines.append(f"extra {b64encode(extra)}")
    lines.append(f"index {index}")
    lines.extend(b64encode(h) for h in hashes)
    return "\n".join(lines) + "\n\n" + signed_checkpoint


def parse_tlog_proof(text: str) -> TlogProof:
    """Parse a tlog-proof@v1 text strictly.

    Raises:
        MalformedError: naming the line that is wrong.
    """
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise MalformedError("tlog-proof has no empty line before its checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise MalformedError(f"tlog-proof must start with {HEADER!r}")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = b64decode(rest.pop(0)[6:], "tlog-proof extra data")
    if not rest or not _INDEX.fullmatch(rest[0]):
        raise MalformedError("tlog-proof needs an 'index <N>' line (decimal, no leading zeros)")
    index = int(rest[0][6:])
    hashes = tuple(b64decode(line, f"tlog-proof hash {i}") for i, line in enumerate(rest[1:]))
    if any(len(h) != HASH_SIZE for h in hashes):
        raise MalformedError("tlog-proof hashes must each be 32 bytes")
    return TlogProof(index, hashes, checkpoint, extra)


def verify_tlog_proof(
    text: str, entry: bytes, log_key: Verifier, witnesses: Iterable[Verifier] = ()
) -> tuple[TlogProof, SignedCheckpoint]:
    """Check that ``entry`` is in the log at the proof's index, as of its checkpoint.

    Raises:
        MalformedError: the proof or checkpoint is malformed.
        VerificationError: the checkpoint signature or the inclusion proof does not verify.
    """
    proof = parse_tlog_proof(text)
    signed = open_checkpoint(proof.checkpoint, log_key, witnesses)
    cp = signed.checkpoint
    verify_inclusion(proof.index, cp.size, leaf_hash(entry), proof.hashes, cp.root)
    return proof, signed
