"""C2SP tlog-checkpoint: the signed tree head of a log.

Body: ``<origin>\\n<size>\\n<base64 root>\\n`` then optional non-empty extension lines; signed as a note
by the log key, whose name is the origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from detente.errors import MalformedError, VerificationError
from detente.tlog.merkle import HASH_SIZE
from detente.tlog.note import Note, Signer, Verifier, b64decode, b64encode, open_note, sign_note

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's origin, tree size and root hash, with any extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """Return the checkpoint text that is signed."""
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        return "\n".join(lines) + "\n"

    def sign(self, signers: list[Signer]) -> str:
        """Return the checkpoint as a signed note."""
        return sign_note(self.body(), signers)


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse a checkpoint body strictly.

    Raises:
        MalformedError: naming the line that is wrong.
    """
    if not text.endswith("\n"):
        raise MalformedError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedError("checkpoint needs origin, size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not origin or origin.strip() != origin:
        raise MalformedError("checkpoint origin line is empty or has surrounding spaces")
    if not _SIZE.fullmatch(size_text) or int(size_text) >= 1 << 63:
        raise MalformedError(f"checkpoint size {size_text[:24]!r} is not a decimal without leading zeros")
    root = b64decode(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise MalformedError(f"checkpoint root hash is {len(root)} bytes, not {HASH_SIZE}")
    if any(not line for line in extensions):
        raise MalformedError("checkpoint extension lines must not be empty")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint opened from a signed note whose log signature verified."""

    checkpoint: Checkpoint
    note: Note

    @property
    def text(self) -> str:
        """The full signed note."""
        return self.note.format()


def open_checkpoint(
    signed: str | bytes, log_key: Verifier, others: Iterable[Verifier] = ()
) -> SignedCheckpoint:
    """Verify a signed checkpoint by the log key (and any known witnesses) and parse it.

    Raises:
        MalformedError: the note or body is malformed.
        VerificationError: the log's signature is missing or invalid, or the origin is not its name.
    """
    note = open_note(signed, [log_key, *others])
    if not any(s.name == log_key.name and s.key_id == log_key.key_id for s in note.sigs):
        raise VerificationError(f"checkpoint is not signed by the log key {log_key.name}")
    checkpoint = parse_checkpoint_body(note.text)
    if checkpoint.origin != log_key.name:
        raise VerificationError(
            f"checkpoint origin {checkpoint.origin!r} is not the log key's name {log_key.name!r}"
        )
    return SignedCheckpoint(checkpoint, note)
