"""DSSE v1 envelopes (github.com/secure-systems-lab/dsse, envelope.md and protocol.md).

Invariants:
- Signatures are over ``PAE(payloadType, payload)``, never over the payload alone, so the type is bound.
- :meth:`Envelope.verified_by` returns the key ids whose signatures verify; a known key whose signature
  fails raises :class:`~detente.errors.VerificationError` (a forgery is never quietly ignored); unknown
  key ids count for nothing.
- Each key id appears at most once; at most :data:`MAX_SIGNATURES` signatures.
- An envelope remembers the outcome of each signature check it made, with the exact public key it was
  checked against; a remembered outcome is reused only for that same key. So checks may run early, in
  another process, against every key the registry knows (:meth:`Envelope.check_signatures`), while the
  decision of whose signature counts stays with :meth:`Envelope.verified_by`, given the keys in force.
- :meth:`Envelope.decode` keeps the canonical bytes it read, and :meth:`Envelope.encode` returns them:
  they are exactly ``canonical(to_json())`` (the parse is strict and lossless).
- :meth:`Envelope.decode` reads an envelope as :meth:`Envelope.from_json` of :func:`parse_canonical`
  would, and refuses exactly what that refuses, with the same message: a typed reading is tried first
  and kept only where every check passes and its canonical spelling is the very bytes read; anything
  else is left to the strict reading, which names the fault (a property test holds the two together).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeGuard

import msgspec

from detente.errors import MalformedError, VerificationError
from detente.statements.canonical import b64d, b64e, canonical, parse_canonical
from detente.statements.keys import PublicKey, SigningKey

MAX_SIGNATURES = 16
KEYID_LENGTH = 64
# Signature checks made: key id -> (raw public key checked against, valid).
Outcomes = Mapping[str, tuple[bytes, bool]]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


class Signature(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One DSSE signature, as its canonical JSON spells it (``sig`` base64 in JSON).

    A struct, so that the typed reading of an envelope (:data:`_WIRE_DECODER`) builds the signatures
    itself, in C, for the writer and every pre-verifier alike. The lengths are checked there too (a
    struct built here is checked by :class:`Envelope`)."""

    keyid: Annotated[str, msgspec.Meta(min_length=KEYID_LENGTH, max_length=KEYID_LENGTH)]
    sig: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]


def _is_keyid(keyid: Any) -> TypeGuard[str]:
    return isinstance(keyid, str) and len(keyid) == KEYID_LENGTH and not keyid.strip("0123456789abcdef")


def _check_keyid(keyid: Any) -> str:
    if not _is_keyid(keyid):
        raise MalformedError("a DSSE keyid must be 64 lower-case hex digits (SHA-256 of the public key)")
    return keyid


class _Wire(msgspec.Struct, forbid_unknown_fields=True):
    """An envelope as its canonical JSON spells it: the fields in RFC 8785's order, base64 as bytes."""

    payload: bytes
    payloadType: str  # noqa: N815 (the DSSE field name)
    signatures: Annotated[list[Signature], msgspec.Meta(max_length=MAX_SIGNATURES)]


# msgspec writes bytes as padded standard base64 and strings as the canonical encoder does
# (detente.statements.canonical): re-encoding what it read gives canonical bytes, so equality with the
# input proves the input canonical, its base64 included.
_WIRE_DECODER = msgspec.json.Decoder(_Wire)
_WIRE_ENCODER = msgspec.json.Encoder()


def _read_wire(data: bytes) -> _Wire | None:
    """The envelope in ``data`` if it is canonical and passes every check of the strict reading; else
    None (the strict reading then decides, and names the fault)."""
    try:
        wire = _WIRE_DECODER.decode(data)  # the lengths and the number of signatures checked
        # a lone surrogate cannot be encoded: refused
        if _WIRE_ENCODER.encode(wire) == data and _hex_and_distinct(wire.signatures):
            return wire
    except (msgspec.MsgspecError, ValueError, RecursionError):
        pass
    return None


def _hex_and_distinct(signatures: list[Signature]) -> bool:
    """Whether the key ids are key ids, each once (a loop, not generators: this runs for every envelope
    read)."""
    seen = set()
    for signature in signatures:
        keyid = signature.keyid
        if keyid in seen or not _is_keyid(keyid):
            return False
        seen.add(keyid)
    return True


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]
    # The RFC 8785 bytes of the envelope, once known (decoded from or encoded to).
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)
    # Signature checks made so far: key id -> (raw public key checked against, valid). Written only by
    # _valid after it verified; the message and signatures never change, so an outcome never goes stale.
    _checked: dict[str, tuple[bytes, bool]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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
        if self._encoded is None:
            object.__setattr__(self, "_encoded", canonical(self.to_json()))
        assert self._encoded is not None
        return self._encoded

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
        data = data.removesuffix(b"\n")
        wire = _read_wire(data)
        if wire is not None:  # every check of the strict reading passed
            return cls._assemble(wire, data, {})
        envelope = cls.from_json(parse_canonical(data, "envelope"))
        # The bytes are canonical and from_json reads them losslessly (strict base64, exact fields), so
        # they are the envelope's encoding: logging the envelope need not encode it again.
        object.__setattr__(envelope, "_encoded", data)
        return envelope

    @classmethod
    def reopen(cls, data: bytes, outcomes: Outcomes) -> Envelope:
        """The envelope :meth:`decode` read from ``data`` elsewhere, with the outcomes checked there.

        Nothing is checked again: only for bytes that :meth:`decode` accepted in this service (a
        pre-verifier's), whose outcomes (:meth:`outcomes`) came with them. The result equals what
        :meth:`decode` returned there, outcomes included.
        """
        data = data.removesuffix(b"\n")
        return cls._assemble(_WIRE_DECODER.decode(data), data, outcomes)

    @classmethod
    def _assemble(cls, wire: _Wire, data: bytes, outcomes: Outcomes) -> Envelope:
        """The envelope of canonical ``data`` read as ``wire``, its checks made (no second pass)."""
        envelope = object.__new__(cls)
        envelope.__dict__.update(
            payload_type=wire.payloadType,
            payload=wire.payload,
            signatures=tuple(wire.signatures),
            _encoded=data,
            _checked=dict(outcomes),
        )
        return envelope

    def outcomes(self) -> Outcomes:
        """The signature checks made so far: key id -> (public key checked against, valid)."""
        return dict(self._checked)

    def verified_by(self, keys: Mapping[str, PublicKey]) -> frozenset[str]:
        """Return the key ids in ``keys`` whose signatures verify.

        Raises:
            VerificationError: a signature by a key in ``keys`` does not verify (a forgery).
        """
        good = set()
        for signature in self.signatures:
            key = keys.get(signature.keyid)
            if key is None:
                continue
            if not self._valid(key, signature):
                raise VerificationError(f"signature by key {signature.keyid[:16]}... does not verify")
            good.add(signature.keyid)
        return frozenset(good)

    def check_signatures(self, keys: Mapping[str, PublicKey]) -> None:
        """Verify now each signature whose key id is in ``keys``, and remember the outcomes.

        This decides nothing and raises nothing: :meth:`verified_by` later counts a remembered outcome
        only for the very key it is then given, and verifies any other signature itself. It lets the
        costly part of :meth:`verified_by` run early, in another thread or process.
        """
        for signature in self.signatures:
            key = keys.get(signature.keyid)
            if key is not None:
                self._valid(key, signature)

    def _valid(self, key: PublicKey, signature: Signature) -> bool:
        known = self._checked.get(signature.keyid)
        if known is not None and known[0] == key.raw:
            return known[1]
        valid = key.verify(pae(self.payload_type, self.payload), signature.sig)
        self._checked[signature.keyid] = (key.raw, valid)
        return valid

    def add(self, keys: Iterable[SigningKey]) -> Envelope:
        """Return the envelope with signatures by ``keys`` added (those already present are kept, and a
        key given twice signs once)."""
        message = pae(self.payload_type, self.payload)
        have = {s.keyid for s in self.signatures}
        new = []
        for key in keys:
            if key.keyid not in have:
                have.add(key.keyid)
                new.append(Signature(key.keyid, key.sign(message)))
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

    Ed25519 signatures are deterministic: one key signing one payload always gives the same bytes, so
    two copies carrying different signatures by one key cannot both be genuine.

    Raises:
        MalformedError: the envelopes are not over the same type and payload, or none is given.
        VerificationError: two envelopes carry different signatures by the same key.
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
            if sigs.setdefault(sig.keyid, sig).sig != sig.sig:
                raise VerificationError(
                    f"two copies carry different signatures by key {sig.keyid[:16]}...: at most one of "
                    "them is genuine (the same key signs the same statement the same way); sign again "
                    "from the key file"
                )
    return Envelope(first.payload_type, first.payload, tuple(sigs[k] for k in sorted(sigs)))
