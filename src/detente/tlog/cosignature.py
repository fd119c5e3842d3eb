"""C2SP tlog-cosignature: cosignature/v1, a witness's timestamped signature of a checkpoint.

Key id = ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``. The signature is an 8-byte big-endian UNIX
time followed by Ed25519 over ``cosignature/v1\\ntime <T>\\n`` + the checkpoint body. The time is at most
2^63 - 1: a larger one is never signed, and a cosignature claiming one does not verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from detente.errors import MalformedError, VerificationError
from detente.tlog.checkpoint import SignedCheckpoint, open_checkpoint, parse_checkpoint_body
from detente.tlog.note import (
    ALG_COSIGNATURE_V1,
    NoteSignature,
    Signer,
    Verifier,
    b64encode,
    key_id,
    parse_vkey,
)

# C2SP tlog-cosignature, "timestamped_signature": the timestamp "MUST NOT exceed 2^63 - 1" (it fits a
# signed 64-bit integer, as Go's int64 time does).
MAX_TIMESTAMP = (1 << 63) - 1


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


@dataclass(frozen=True)
class CosignatureVerifier:
    """A note verifier for cosignature/v1 witness keys."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> int:
        """The 4-byte key id (algorithm 0x04)."""
        return key_id(self.name, ALG_COSIGNATURE_V1, self.public_key)

    @property
    def vkey(self) -> str:
        """The verifier key string."""
        encoded = b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` (timestamp || Ed25519) cosigns the checkpoint ``text``."""
        if len(signature) != 8 + 64:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            parse_checkpoint_body(text.decode())
            message = cosigned_message(text.decode(), timestamp)
            nacl.signing.VerifyKey(self.public_key).verify(message, signature[8:])
        except (nacl.exceptions.BadSignatureError, ValueError, MalformedError):
            return False
        return True

    @staticmethod
    def timestamp(signature: NoteSignature) -> int:
        """The UNIX time a cosignature claims."""
        return int.from_bytes(signature.signature[:8], "big")


def parse_cosignature_vkey(text: str) -> CosignatureVerifier:
    """Parse a cosignature/v1 verifier key string (algorithm 0x04)."""
    name, _, alg, public_key = parse_vkey(text)
    if alg != ALG_COSIGNATURE_V1:
        raise MalformedError(f"verifier key for {name!r} is algorithm {alg}, not cosignature/v1 (4)")
    return CosignatureVerifier(name, public_key)


def cosign(body: str, witness: Signer, timestamp: int) -> NoteSignature:
    """Return the cosignature/v1 signature line of ``witness`` over a checkpoint body.

    Raises:
        ValueError: ``timestamp`` is negative or above 2^63 - 1 (a clock gone wrong: nothing is signed).
    """
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"a cosignature's timestamp must be 0..2^63-1, not {timestamp}")
    parse_checkpoint_body(body)
    signature = witness.sign(cosigned_message(body, timestamp))
    ident = key_id(witness.name, ALG_COSIGNATURE_V1, witness.public_key)
    return NoteSignature(witness.name, ident, timestamp.to_bytes(8, "big") + signature)


def require_cosignatures(
    signed: str, log_key: Verifier, witnesses: Sequence[CosignatureVerifier], k: int
) -> SignedCheckpoint:
    """Open a checkpoint and require valid cosignatures from at least ``k`` of the given witnesses.

    Raises:
        VerificationError: the log signature is bad, or fewer than ``k`` witnesses cosigned.
        ValueError: ``k`` is not between 1 and the number of witnesses (a policy that cannot be met, or
            that would pass vacuously, is a mistake, not a policy).
    """
    if not 1 <= k <= len(witnesses):
        raise ValueError(f"cannot require {k} of {len(witnesses)} witnesses")
    opened = open_checkpoint(signed, log_key, witnesses)
    ids = {(w.name, w.key_id) for w in witnesses}
    got = {(s.name, s.key_id) for s in opened.note.sigs} & ids
    if len(got) < k:
        raise VerificationError(f"checkpoint has {len(got)} valid witness cosignatures; {k} are required")
    return opened
