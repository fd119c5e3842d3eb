"""Ed25519 keys with self-certifying key ids.

A key id is ``hex(SHA-256(raw public key))``: whoever holds a public key can check its id, so a key id
in a signed statement pins one key without trusting whoever delivered it. Seeds never appear in
``repr`` or messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import nacl.bindings
import nacl.exceptions

from detente.errors import MalformedError
from detente.statements.canonical import b64d, b64e, canonical, parse_canonical

KEY_FILE_SCHEMA = "detente.key/1"


def key_id(public_key: bytes) -> str:
    """Return the key id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise MalformedError(f"an Ed25519 public key is 32 bytes, not {len(self.raw)}")

    @cached_property
    def keyid(self) -> str:
        """The self-certifying key id."""
        return key_id(self.raw)

    @property
    def b64(self) -> str:
        """Standard base64 of the raw key."""
        return b64e(self.raw)

    @classmethod
    def from_b64(cls, text: str) -> PublicKey:
        """Parse a base64 public key."""
        return cls(b64d(text, "public key"))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is a valid Ed25519 signature of ``message``."""
        if len(signature) != nacl.bindings.crypto_sign_BYTES:
            return False
        # libsodium's check as PyNaCl's VerifyKey.verify makes it, without building a VerifyKey for
        # each signature (the key's length is checked once, above, in __post_init__)
        try:
            nacl.bindings.crypto_sign_open(signature + message, self.raw)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key (its 32-byte seed)."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise MalformedError("an Ed25519 seed is 32 bytes")

    @classmethod
    def generate(cls, random: Callable[[int], bytes]) -> SigningKey:
        """Make a key from ``random(32)`` (pass ``os.urandom``; tests pass a seeded source)."""
        return cls(random(32))

    @cached_property
    def _expanded(self) -> bytes:
        """libsodium's 64-byte secret key (the seed, then the public key), derived once per key: the
        derivation costs about what a signature does, and a signed statement needs both a signature
        and the key id."""
        return bytes(nacl.bindings.crypto_sign_seed_keypair(self.seed)[1])

    @cached_property
    def public(self) -> PublicKey:
        """The matching public key."""
        return PublicKey(self._expanded[32:])

    @property
    def keyid(self) -> str:
        """The key id of the public key."""
        return self.public.keyid

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return bytes(nacl.bindings.crypto_sign(message, self._expanded)[: nacl.bindings.crypto_sign_BYTES])

    def to_file(self) -> bytes:
        """The key file bytes (keep them 0600): canonical JSON of seed and key id, plus a newline."""
        return canonical({"keyid": self.keyid, "schema": KEY_FILE_SCHEMA, "seed": b64e(self.seed)}) + b"\n"

    @classmethod
    def from_file(cls, data: bytes) -> SigningKey:
        """Parse a key file; the message never contains the seed."""
        value = parse_canonical(data.rstrip(b"\n"), "key file")
        if not isinstance(value, dict) or value.get("schema") != KEY_FILE_SCHEMA:
            raise MalformedError(f"not a {KEY_FILE_SCHEMA} key file")
        key = cls(b64d(str(value.get("seed")), "key seed"))
        if key.keyid != value.get("keyid"):
            raise MalformedError("key file's key id does not match its seed")
        return key
