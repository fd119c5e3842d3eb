"""Evidence bundles: one file per claim, verifiable offline with nothing but the log's public key.

Invariants of :func:`verify_bundle` (docs/formats.md, section 7):
- the file is exactly RFC 8785 JSON plus one newline, with exactly the documented fields, so changing
  any byte of it makes the verifier refuse it;
- every signature line of the checkpoint is by the log key or a listed witness and verifies, one line a
  key;
- every entry is proven included in that checkpoint, in strictly increasing log order;
- each party's keysets form a chain from version 1, and each statement is checked against the keyset in
  force at its place in the log; decisions against the notary key that the offer names (a keyset
  version the bundle leaves out cannot be seen: docs/assurances.md says who would see it);
- the claim is recomputed from the statements and must equal the stated one; the statements other than
  keysets are exactly those the claim needs, and the blobs exactly those they cite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from detente.errors import MalformedError, NotFoundError, TooLargeError, VerificationError
from detente.statements.canonical import b64d, b64e, canonical, format_time, parse_canonical, sha256_hex
from detente.statements.keys import PublicKey
from detente.statements.keysets import Keyset, check_keyset_change
from detente.statements.kinds import SIGNERS
from detente.statements.statement import Statement
from detente.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from detente.tlog.cosignature import CosignatureVerifier, parse_cosignature_vkey
from detente.tlog.note import Ed25519Verifier, open_note, split_note
from detente.tlog.proof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof

from .claims import CLAIM_TYPES, Claim, recompute_claim, required_blobs
from .core import Registry
from .entry import LogEntry

SCHEMA = "detente.bundle/1"
FIELDS = {"schema", "claim", "checkpoint", "witnesses", "entries", "keys", "blobs"}
MAX_BUNDLE = 64 * 1024 * 1024  # bytes: far above any claim's, far below what exhausts a verifier's memory


@dataclass(frozen=True)
class BundleResult:
    """What a bundle proves, and as of which checkpoint."""

    claim: Claim
    origin: str
    size: int
    statements: tuple[tuple[int, LogEntry], ...]

    def describe(self) -> str:
        """A plain statement of what is proven."""
        return f"PROVEN as of checkpoint {self.size} of {self.origin}: {self.claim.sentence()}"


# --- building ------------------------------------------------------------------------------------


def build_bundle(registry: Registry, claim_type: str, ref: str, witnesses: tuple[str, ...] = ()) -> bytes:
    """Build the evidence bundle for a claim about ``ref`` (an xid, did, pid or iid), as of now.

    Raises:
        NotFoundError: the log does not (yet) support this claim.
    """
    if claim_type not in CLAIM_TYPES:
        raise MalformedError(f"unknown claim {claim_type!r}; one of {', '.join(CLAIM_TYPES)}")
    sids = _claim_sids(registry, claim_type, ref)
    found = registry.statements_by_sid(sids)
    parties = {e.statement.party for _, e in found if e.statement.kind != "decision"}
    last = max(i for i, _ in found)
    keysets = [
        (i, registry.entry(i))
        for p in sorted(parties)
        for i, _ in registry.projection.keyset_history[p]
        if i < last
    ]
    chosen = sorted(keysets + found, key=lambda item: item[0])
    checkpoint = registry.log.signed_checkpoint
    size = registry.log.size
    entries = []
    for index, _ in chosen:
        data = registry.log.entries(index, index + 1)[0]
        proof = format_tlog_proof(index, registry.log.inclusion_proof(index, size), checkpoint)
        entries.append({"entry": b64e(data), "proof": proof})
    statements = [e.statement for _, e in found]
    claim = recompute_claim(claim_type, found, {registry.notary.keyid: registry.notary.public})
    blobs = {}
    for digest in required_blobs(statements):
        blob = registry.blobs.get(digest)
        if blob is None:
            raise NotFoundError(f"blob {digest[:16]}... is missing from the registry")
        blobs[digest] = b64e(blob)
    keys = (
        {registry.notary.keyid: registry.notary.public.b64}
        if any(s.kind == "decision" for s in statements)
        else {}
    )
    value = {
        "schema": SCHEMA, "claim": claim.to_json(), "checkpoint": checkpoint, "witnesses": list(witnesses),
        "entries": entries, "keys": keys, "blobs": blobs,
    }  # fmt: skip
    return canonical(value) + b"\n"


def _claim_sids(registry: Registry, claim_type: str, ref: str) -> list[str]:
    proj = registry.projection
    acts = [a for a in proj.acts if a.ref == ref]
    by_kind = {a.kind: a.sid for a in acts}
    opening = by_kind.get("offer") or by_kind.get("counter")
    wanted: dict[str, list[str | None]] = {
        "offered": [opening],
        "refused": [opening, by_kind.get("refuse")],
        "declared": [by_kind.get("declaration")],
        "protested": [by_kind.get("protest")],
        "replied": [by_kind.get("protest"), by_kind.get("reply")],
        "incident": [by_kind.get("incident")],
    }
    if claim_type == "concluded":
        return _concluded_sids(registry, ref, opening)
    sids = wanted[claim_type]
    if None in sids:
        raise NotFoundError(f"the log holds no {claim_type} statement for {ref}")
    return [s for s in sids if s is not None]


def _concluded_sids(registry: Registry, xid: str, opening: str | None) -> list[str]:
    ex = registry.projection.exchanges.get(xid)
    if ex is None or opening is None or not ex.in_force or ex.accept is None:
        raise NotFoundError(f"exchange {xid} is not concluded in the log")
    acts = [a for a in registry.projection.acts if a.ref == xid]
    decision = [a.sid for a in acts if a.kind == "decision"]
    if ex.decision is not None and ex.decision.value == "resolved":
        return [opening, ex.accept, *decision]
    return [opening, ex.accept, *[a.sid for a in acts if a.kind == "reveal"]]


# --- verifying -----------------------------------------------------------------------------------


def _parse(data: bytes) -> dict[str, Any]:
    if not data.endswith(b"\n"):
        raise MalformedError("a bundle ends with exactly one newline")
    value = parse_canonical(data[:-1], "bundle")
    if not isinstance(value, dict) or set(value) != FIELDS or value["schema"] != SCHEMA:
        raise MalformedError(f"not a {SCHEMA} document with exactly the fields {sorted(FIELDS)}")
    for name, kind in (
        ("witnesses", list),
        ("entries", list),
        ("keys", dict),
        ("blobs", dict),
        ("checkpoint", str),
    ):
        if not isinstance(value[name], kind):
            raise MalformedError(f"bundle {name} must be a {kind.__name__}")
    return value


def check_bundle_size(size: int) -> None:
    """Refuse a bundle of ``size`` bytes if it is over :data:`MAX_BUNDLE` (before reading it whole)."""
    if size > MAX_BUNDLE:
        raise TooLargeError(
            f"the bundle is {size} bytes; a bundle is at most {MAX_BUNDLE} bytes (a claim's, far less)"
        )


def _open_bundle_checkpoint(text: str, log_key: Ed25519Verifier, vkeys: list[Any]) -> SignedCheckpoint:
    witnesses: list[CosignatureVerifier] = [parse_cosignature_vkey(str(v)) for v in vkeys]
    note = open_note(text, [log_key, *witnesses])
    # open_note, as the signed-note readers it interoperates with, passes over lines by unknown keys and
    # a second line by a key it has already verified; in a bundle each line is one verified signature
    # by the log key or a listed witness (formats.md), as the browser's verifier also checks
    if note.unverified or len(split_note(text)[1]) != len(note.sigs):
        raise VerificationError(
            "the checkpoint carries a signature line that is not one verified signature by the log key "
            "or a listed witness"
        )
    return open_checkpoint(text, log_key, witnesses)


def _entries(
    value: dict[str, Any], signed: SignedCheckpoint, log_key: Ed25519Verifier
) -> list[tuple[int, LogEntry]]:
    out: list[tuple[int, LogEntry]] = []
    for n, item in enumerate(value["entries"]):
        if (
            not isinstance(item, dict)
            or set(item) != {"entry", "proof"}
            or not isinstance(item["proof"], str)
        ):
            raise MalformedError(f"bundle entry {n} must be exactly {{entry, proof}}")
        data = b64d(str(item["entry"]), f"bundle entry {n}")
        proof = parse_tlog_proof(item["proof"])
        if proof.checkpoint != value["checkpoint"] or proof.extra is not None:
            raise VerificationError(f"the proof of bundle entry {n} is not against the bundle's checkpoint")
        verify_tlog_proof(item["proof"], data, log_key, [])
        if out and proof.index <= out[-1][0]:
            raise MalformedError("bundle entries must be in strictly increasing log order")
        out.append((proof.index, LogEntry.decode(data)))
    if signed.checkpoint.size <= (out[-1][0] if out else -1):
        raise VerificationError("an entry lies beyond the checkpoint")
    return out


def _check_authority(
    entries: list[tuple[int, LogEntry]], notaries: dict[str, PublicKey]
) -> list[tuple[int, LogEntry]]:
    """Replay keyset chains; check every other statement; return the non-keyset entries."""
    keysets: dict[str, Keyset] = {}
    claimed = []
    offers: dict[str, Statement] = {}
    for index, entry in entries:
        st = entry.statement
        if st.kind == "keyset":
            keysets[st.party] = check_keyset_change(keysets.get(st.party), st)
            continue
        if st.kind == "decision":
            m1 = offers.get(st.body["offer"])
            key = notaries.get(m1.body["notary"]) if m1 is not None else None
            if key is None or key.keyid not in st.envelope.verified_by({key.keyid: key}):
                raise VerificationError(
                    f"the decision at {index} is not signed by the notary its offer names"
                )
        else:
            keyset = keysets.get(st.party)
            if keyset is None or keyset.authorised(st.envelope, SIGNERS[st.kind]) is None:
                raise VerificationError(
                    f"the {st.kind} at {index} is not signed under {st.party}'s keyset in force"
                )
        if st.kind in ("offer", "counter"):
            offers[st.sid] = st
        claimed.append((index, entry))
    return claimed


def _notary_keys(value: dict[str, Any]) -> dict[str, PublicKey]:
    keys = {}
    for keyid, encoded in value["keys"].items():
        key = PublicKey.from_b64(str(encoded))
        if key.keyid != keyid:
            raise VerificationError(f"bundle key {keyid[:16]}... is not the hash of its public key")
        keys[keyid] = key
    return keys


def verify_bundle(data: bytes, log_key: Ed25519Verifier) -> BundleResult:
    """Verify an evidence bundle offline.

    Raises:
        TooLargeError: the bundle is over :data:`MAX_BUNDLE` bytes.
        MalformedError: the bundle is not exactly a canonical ``detente.bundle/1`` document.
        VerificationError: a signature, proof, keyset chain or the claim does not hold.
    """
    check_bundle_size(len(data))
    value = _parse(data)
    signed = _open_bundle_checkpoint(value["checkpoint"], log_key, value["witnesses"])
    entries = _entries(value, signed, log_key)
    notaries = _notary_keys(value)
    claimed = _check_authority(entries, notaries)
    statements = [e.statement for _, e in claimed]
    claim = Claim.from_json(value["claim"])
    if recompute_claim(claim.type, claimed, notaries) != claim:
        raise VerificationError("the statements in the bundle do not prove its claim")
    decisions = any(s.kind == "decision" for s in statements)
    needed_keys = (
        {s.body["notary"] for s in statements if s.kind in ("offer", "counter")} if decisions else set()
    )
    if set(notaries) != needed_keys:
        raise VerificationError("the bundle's keys are not exactly the notary keys its decisions need")
    _check_blobs(value["blobs"], statements)
    cp = signed.checkpoint
    return BundleResult(claim, cp.origin, cp.size, tuple(entries))


def _check_blobs(blobs: dict[str, Any], statements: list[Statement]) -> None:
    if set(blobs) != set(required_blobs(statements)):
        raise VerificationError("the bundle's blobs are not exactly those its statements cite")
    for digest, encoded in blobs.items():
        if sha256_hex(b64d(str(encoded), "blob")) != digest:
            raise VerificationError(f"blob {digest[:16]}... does not match its hash")


def when(moment: datetime) -> str:
    """Format a time as bundles do."""
    return format_time(moment)
