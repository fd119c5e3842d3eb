"""C2SP signed notes with Ed25519 (c2sp.org/signed-note; golang.org/x/mod/sumdb/note).

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <name> <base64(4-byte key id || signature)>``. Key ids bind the key's name, its algorithm byte and
its public key: ``SHA-256(name || 0x0A || alg || public key)[:4]``.

Invariants:
- :func:`open_note` returns a note only if at least one signature by a known key verifies; a known key
  whose signature fails makes the whole note invalid; signatures by unknown keys are kept apart as
  unverified (they are neither trusted nor an error).
- Private keys never appear in ``repr`` or in error messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import nacl.exceptions
import nacl.signing

from detente.errors import MalformedError, VerificationError

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
SIG_PREFIX = "\u2014 "
MAX_SIGNATURES = 100  # as Go's note.Open: accept at least the 16 the spec requires, stop spending at 100


def b64encode(data: bytes) -> str:
    """Standard base64 (RFC 4648 section 4), as every C2SP format uses."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: refuse anything that does not round-trip exactly."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"{what} is not valid base64") from exc
    if b64encode(data) != text:
        raise MalformedError(f"{what} is not canonical base64")
    return data


def is_valid_name(name: str) -> bool:
    """A key name is non-empty, has no whitespace and no ``+`` (as Go's note package requires)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, alg: int, public_key: bytes) -> int:
    """Return the 4-byte key id of a named key, as an integer."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


class Verifier(Protocol):
    """One public key that can check note signatures."""

    @property
    def name(self) -> str:
        """The key's name (for checkpoints, the log's origin)."""
        ...

    @property
    def key_id(self) -> int:
        """The 4-byte key id."""
        ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` (without the key id) is valid for ``text``."""
        ...


@dataclass(frozen=True)
class Ed25519Verifier:
    """A signed-note verifier for algorithm 0x01 (Ed25519 over the note text)."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> int:
        """The 4-byte key id."""
        return key_id(self.name, ALG_ED25519, self.public_key)

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex id>+<base64(0x01 || public key)>``."""
        return f"{self.name}+{self.key_id:08x}+{b64encode(bytes([ALG_ED25519]) + self.public_key)}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is a valid Ed25519 signature of ``text``."""
        try:
            nacl.signing.VerifyKey(self.public_key).verify(text, signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """An Ed25519 signing key with a name. The seed is kept out of ``repr``."""

    name: str
    seed: bytes = field(repr=False)
    alg: int = ALG_ED25519

    @classmethod
    def generate(cls, name: str, alg: int = ALG_ED25519) -> Signer:
        """Create a new random key (randomness from the operating system)."""
        if not is_valid_name(name):
            raise MalformedError(f"invalid key name {name!r}: no spaces or '+', not empty")
        return cls(name, bytes(nacl.signing.SigningKey.generate()), alg)

    @cached_property
    def _key(self) -> nacl.signing.SigningKey:
        """PyNaCl's key, derived from the seed once (a derivation costs about what a signature does,
        and the log's writer signs a checkpoint for every batch)."""
        return nacl.signing.SigningKey(self.seed)

    @cached_property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return bytes(self._key.verify_key)

    @property
    def key_id(self) -> int:
        """The 4-byte key id."""
        return key_id(self.name, self.alg, self.public_key)

    @property
    def private_key_string(self) -> str:
        """``PRIVATE+KEY+<name>+<hex id>+<base64(alg || seed)>``, as Go's note package writes it."""
        encoded = b64encode(bytes([self.alg]) + self.seed)
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{encoded}"

    @property
    def vkey(self) -> str:
        """The verifier key string for this key."""
        encoded = b64encode(bytes([self.alg]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verifier(self) -> Ed25519Verifier:
        """The matching verifier (algorithm 0x01 only)."""
        return Ed25519Verifier(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message).signature


def _split_key(text: str, parts: int, what: str) -> list[str]:
    fields = text.split("+", parts - 1)  # the base64 at the end may itself contain '+'
    if len(fields) != parts:
        raise MalformedError(f"{what} must have {parts} '+'-separated fields")
    return fields


def parse_private_key(text: str) -> Signer:
    """Parse ``PRIVATE+KEY+<name>+<hex id>+<base64>``; the message never contains the key."""
    fields = _split_key(text.strip(), 5, "a private key")
    if fields[:2] != ["PRIVATE", "KEY"]:
        raise MalformedError("a private key must start with PRIVATE+KEY+")
    name, id_hex, encoded = fields[2:]
    raw = b64decode(encoded, "private key")
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1) or not is_valid_name(name):
        raise MalformedError("private key is not a named Ed25519 key")
    signer = Signer(name, raw[1:], raw[0])
    if f"{signer.key_id:08x}" != id_hex:
        raise MalformedError(f"private key for {name!r} has the wrong key id")
    return signer


def parse_vkey(text: str) -> tuple[str, int, int, bytes]:
    """Parse a verifier key string into ``(name, key id, algorithm, public key)``."""
    name, id_hex, encoded = _split_key(text.strip(), 3, "a verifier key")
    raw = b64decode(encoded, "verifier key")
    if not is_valid_name(name) or len(raw) != 33 or len(id_hex) != 8:
        raise MalformedError(f"verifier key for {name!r} is not a named 32-byte key")
    if f"{key_id(name, raw[0], raw[1:]):08x}" != id_hex.lower():
        raise MalformedError(f"verifier key for {name!r} has the wrong key id")
    return name, int(id_hex, 16), raw[0], raw[1:]


def parse_ed25519_vkey(text: str) -> Ed25519Verifier:
    """Parse an Ed25519 (algorithm 0x01) verifier key string."""
    name, _, alg, public_key = parse_vkey(text)
    if alg != ALG_ED25519:
        raise MalformedError(f"verifier key for {name!r} is algorithm {alg}, not Ed25519 (1)")
    return Ed25519Verifier(name, public_key)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: int
    signature: bytes  # without the key id

    def line(self) -> str:
        """Format as a signature line (with its trailing newline)."""
        payload = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIG_PREFIX}{self.name} {b64encode(payload)}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures that verified, and those by unknown keys."""

    text: str
    sigs: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...] = ()

    def format(self) -> str:
        """Return the note with all its signature lines, verified first."""
        return self.text + "\n" + "".join(s.line() for s in (*self.sigs, *self.unverified))


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise MalformedError("note text must not contain control characters other than newline")


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """Sign ``text`` with each signer and return the signed note."""
    _check_text(text)
    if "\n\n" in text:
        raise MalformedError("note text must not contain a blank line")
    lines = [NoteSignature(s.name, s.key_id, s.sign(text.encode())).line() for s in signers]
    return text + "\n" + "".join(lines)


def _parse_sig_line(line: str) -> NoteSignature:
    if not line.startswith(SIG_PREFIX):
        raise MalformedError(f"signature line does not start with an em dash and space: {line[:40]!r}")
    name, _, encoded = line[len(SIG_PREFIX) :].partition(" ")
    raw = b64decode(encoded, f"signature of {name!r}") if encoded else b""
    if not is_valid_name(name) or len(raw) < 5:
        raise MalformedError(f"malformed signature line for {name!r}")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def split_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into text and parsed signature lines, checking only the syntax."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError("note is not valid UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise MalformedError("note contains control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedError("note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedError(f"note has more than {MAX_SIGNATURES} signatures")
    return text, [_parse_sig_line(line) for line in lines]


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse a signed note and verify its signatures by the known ``verifiers``.

    Raises:
        MalformedError: the note is not a syntactically valid signed note.
        VerificationError: a known key's signature is invalid, or no known key signed it.
    """
    text, lines = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    sigs: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, int]] = set()
    for sig in lines:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not verifier.verify(text.encode(), sig.signature):
            raise VerificationError(f"invalid signature by {sig.name} ({sig.key_id:08x})")
        sigs.append(sig)
    if not sigs:
        names = ", ".join(f"{v.name}+{v.key_id:08x}" for v in known.values()) or "none given"
        raise VerificationError(f"note is not signed by any known key (known: {names})")
    return Note(text, tuple(sigs), tuple(unverified))
