"""DSSE v1 envelopes (github.com/secure-systems-lab/dsse, envelope.md and protocol.md).

Invariants:
- Signatures are over ``PAE(payloadType, payload)``, never over the payload alone, so the type is bound.
- :meth:`Envelope.verified_by` returns the key ids whose signatures verify; a known key whose signature
  fails raises :class:`~detente.errors.VerificationError` (a forgery is never quietly ignored); unknown
  key ids count for nothing.
- Each key id appears at most once; at most :data:`MAX_SIGNATURES` signatures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from detente.errors import MalformedError, VerificationError
from detente.statements.canonical import b64d, b64e, canonical, parse_canonical
from detente.statements.keys import PublicKey, SigningKey

MAX_SIGNATURES = 16
KEYID_LENGTH = 64


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    """One DSSE signature."""

    keyid: str
    sig: bytes


def _check_keyid(keyid: Any) -> str:
    if not isinstance(keyid, str) or len(keyid) != KEYID_LENGTH or keyid.strip("0123456789abcdef"):
        raise MalformedError("a DSSE keyid must be 64 lower-case hex digits (SHA-256 of the public key)")
    return keyid


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def __post_init__(self) -> None:
        ids = [s.keyid for s in self.signatures]
        if len(ids) > MAX_SIGNATURES:
            raise MalformedError(f"an envelope carries at most {MAX_SIGNATURES} signatures")
        if len(set(ids)) != len(ids):
            raise MalformedError("an envelope carries each key id at most once")
        for keyid in ids:
            _check_keyid(keyid)

    def to_json(self) -> dict[str, Any]:
        """The envelope as a JSON value."""
        sigs = [{"keyid": s.keyid, "sig": b64e(s.sig)} for s in self.signatures]
        return {"payload": b64e(self.payload), "payloadType": self.payload_type, "signatures": sigs}

    def encode(self) -> bytes:
        """RFC 8785 bytes of the envelope."""
        return canonical(self.to_json())

    @classmethod
    def from_json(cls, value: Any) -> Envelope:
        """Read an envelope from a parsed JSON value, strictly (no unknown fields)."""
        if not isinstance(value, dict) or set(value) != {"payload", "payloadType", "signatures"}:
            raise MalformedError("an envelope has exactly payload, payloadType and signatures")
        sigs = value["signatures"]
        if not isinstance(sigs, list) or not all(
            isinstance(s, dict) and set(s) == {"keyid", "sig"} for s in sigs
        ):
            raise MalformedError("envelope signatures must be a list of {keyid, sig}")
        if not isinstance(value["payloadType"], str) or not isinstance(value["payload"], str):
            raise MalformedError("envelope payload and payloadType must be strings")
        parsed = tuple(Signature(_check_keyid(s["keyid"]), _sig_bytes(s["sig"])) for s in sigs)
        return cls(value["payloadType"], b64d(value["payload"], "envelope payload"), parsed)

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        """Parse canonical envelope bytes (a trailing newline, as in files, is allowed)."""
        return cls.from_json(parse_canonical(data.removesuffix(b"\n"), "envelope"))

    def verified_by(self, keys: Mapping[str, PublicKey]) -> frozenset[str]:
        """Return the key ids in ``keys`` whose signatures verify.

        Raises:
            VerificationError: a signature by a key in ``keys`` does not verify (a forgery).
        """
        message = pae(self.payload_type, self.payload)
        good = set()
        for signature in self.signatures:
            key = keys.get(signature.keyid)
            if key is None:
                continue
            if not key.verify(message, signature.sig):
                raise VerificationError(f"signature by key {signature.keyid[:16]}... does not verify")
            good.add(signature.keyid)
        return frozenset(good)

    def add(self, keys: Iterable[SigningKey]) -> Envelope:
        """Return the envelope with signatures by ``keys`` added (those already present are kept)."""
        message = pae(self.payload_type, self.payload)
        have = {s.keyid for s in self.signatures}
        new = [Signature(k.keyid, k.sign(message)) for k in keys if k.keyid not in have]
        return Envelope(self.payload_type, self.payload, (*self.signatures, *new))


def _sig_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise MalformedError("a DSSE sig must be a base64 string")
    sig = b64d(value, "signature")
    if len(sig) != 64:
        raise MalformedError("an Ed25519 signature is 64 bytes")
    return sig


def sign_envelope(payload_type: str, payload: bytes, keys: Iterable[SigningKey]) -> Envelope:
    """Sign ``payload`` with each key."""
    return Envelope(payload_type, payload, ()).add(keys)


def merge_envelopes(envelopes: Iterable[Envelope]) -> Envelope:
    """Merge signatures collected offline over the same payload (threshold collection).

    Raises:
        MalformedError: the envelopes are not over the same type and payload, or none is given.
    """
    items = list(envelopes)
    if not items:
        raise MalformedError("nothing to merge")
    first = items[0]
    sigs: dict[str, Signature] = {}
    for env in items:
        if (env.payload_type, env.payload) != (first.payload_type, first.payload):
            raise MalformedError("signatures to merge must be over the same payload and type")
        for sig in env.signatures:
            sigs.setdefault(sig.keyid, sig)
    return Envelope(first.payload_type, first.payload, tuple(sigs[k] for k in sorted(sigs)))
