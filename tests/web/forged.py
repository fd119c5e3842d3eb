"""Bundles that a dishonest registry could sign with its real log key, each spoiled in one way.

Every bundle is built over a fresh log: a keyset of US, then a declaration by its foreign minister, the
statement and entry bytes written directly (not by ``make_payload`` or ``LogEntry.encode``, which would
refuse them); or the keysets of US and RU, then an exchange of letters between them (:func:`concluded`).
:data:`REFUSED` names those that ``detente verify`` refuses, :data:`ACCEPTED` those that it
accepts; the browser's verifier must say the same of each (tests/web/test_bundle_js.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from detente.accords import acts
from detente.statements.canonical import b64e, canonical, sha256_hex
from detente.statements.dsse import pae, sign_envelope
from detente.statements.keys import PublicKey, SigningKey
from detente.statements.keysets import keyset_body
from detente.statements.kinds import payload_type
from detente.tlog.checkpoint import Checkpoint
from detente.tlog.cosignature import cosign
from detente.tlog.log import Log
from detente.tlog.merkle import leaf_hash, node_hash
from detente.tlog.note import ALG_COSIGNATURE_V1, ALG_ED25519, NoteSignature, Signer
from detente.tlog.proof import format_tlog_proof
from detente.tlog.storage.memory import MemoryStore
from tests.accords.world import LOG_SIGNER, NOTARY, PartyKeys, key
from tests.web.ed25519_edges import IDENTITY, encode, forged_by_small_order

US = PartyKeys.make("US")
T = "2018-06-07T09:00:00Z"
DID = "ab" * 16
TEXT = b"We will not interfere."
BLOBS = {sha256_hex(TEXT): b64e(TEXT)}
BODY: dict[str, Any] = {
    "did": DID, "to": None, "clauses": ["L1"], "summary": "No interference", "text": sha256_hex(TEXT),
    "effective": T, "notice_days": 30,
}  # fmt: skip
CLAIM = {"type": "declared", "ref": DID, "party": "US", "counterparty": None, "on": T}
UNKNOWN_KEYID = "ee" * 32


def payload(body: dict[str, Any] | None = None, issued: str = T, kind: str = "declaration") -> bytes:
    """The canonical payload of a statement by US (unchecked)."""
    return canonical({"body": BODY if body is None else body, "issued": issued, "kind": kind, "party": "US"})


def envelope(
    data: bytes, keys: tuple[SigningKey, ...] = (US.minister,), kind: str = "declaration"
) -> dict[str, Any]:
    """A DSSE envelope of ``data`` signed by ``keys``, as JSON."""
    return sign_envelope(payload_type(kind), data, keys).to_json()


def entry(env: dict[str, Any], received: str = T) -> bytes:
    """The entry bytes of an envelope (canonical, unchecked)."""
    return canonical({"envelope": env, "received": received})


KEYSET = entry(US.keyset(T).envelope.to_json())


def bundle(
    entries: list[bytes],
    claim: dict[str, Any] | None = None,
    witnesses: tuple[Signer, ...] = (),
    edit: Callable[[bytes], bytes] = lambda b: b,
    checkpoint: Callable[[Checkpoint], str] | None = None,
    blobs: dict[str, str] = BLOBS,
) -> bytes:
    """A bundle of ``entries`` (citing ``blobs``), appended to a fresh log and proven under its key.

    The checkpoint is signed by the log key and ``witnesses``, or written by ``checkpoint``.
    """
    log = Log.create(MemoryStore(), LOG_SIGNER)
    log.append(entries)
    body = Checkpoint(LOG_SIGNER.name, log.size, log.checkpoint.root)
    note = checkpoint(body) if checkpoint is not None else body.sign([LOG_SIGNER, *witnesses])
    proofs = [log.inclusion_proof(i, log.size) for i in range(len(entries))]
    return assemble(entries, proofs, note, claim, witnesses, edit, blobs)


def assemble(
    entries: list[bytes],
    proofs: list[list[bytes]],
    note: str,
    claim: dict[str, Any] | None = None,
    witnesses: tuple[Signer, ...] = (),
    edit: Callable[[bytes], bytes] = lambda b: b,
    blobs: dict[str, str] = BLOBS,
) -> bytes:
    """The bundle of ``entries`` with these inclusion proofs against the signed checkpoint ``note``."""
    items = [
        {"entry": b64e(e), "proof": format_tlog_proof(i, proof, note)}
        for i, (e, proof) in enumerate(zip(entries, proofs, strict=True))
    ]
    value = {
        "schema": "detente.bundle/1", "claim": CLAIM if claim is None else claim, "checkpoint": note,
        "witnesses": [w.vkey for w in witnesses], "entries": items, "keys": {}, "blobs": blobs,
    }  # fmt: skip
    return edit(canonical(value) + b"\n")


def declared(data: bytes, received: str = T) -> bytes:
    """A bundle claiming the declaration of ``data``, received at ``received``."""
    return bundle([KEYSET, entry(envelope(data), received)], {**CLAIM, "on": received})


IID = "cd" * 16
INCIDENT: dict[str, Any] = {
    "iid": IID, "to": "RU", "monitor_id": "3f0c9a1b2c3d4e5f",
    "asset": {"kind": "election-body", "name": "cec"}, "attack": "flood", "attributed_actor": None,
    "start": "2018-06-07T03:00:00Z", "end": "2018-06-07T03:40:00Z", "requests": 12, "peak_per_minute": 9,
    "sources": 8, "origin": {"country": "RU", "requests": 5, "sources": 3}, "networks": [], "clauses": [],
    "evidence": "ef" * 32,
}  # fmt: skip


def reported(**changes: Any) -> bytes:
    """A bundle claiming US's incident report to RU, its body changed by ``changes``."""
    env = envelope(payload({**INCIDENT, **changes}, kind="incident"), (US.cert,), kind="incident")
    claim = {"type": "incident", "ref": IID, "party": "US", "counterparty": "RU", "on": T}
    return bundle([KEYSET, entry(env)], claim, blobs={})


def with_signatures(extra: list[dict[str, str]]) -> bytes:
    """The valid declaration with signatures added to its envelope."""
    env = envelope(payload())
    env["signatures"] += extra
    return bundle([KEYSET, entry(env)])


def non_canonical_base64() -> bytes:
    """The declaration with an unused bit of its payload's base64 set (it decodes to the same bytes)."""
    for dots in range(3):
        env = envelope(payload({**BODY, "summary": "No interference" + "." * dots}))
        text = env["payload"]
        if text.endswith("="):  # the last digit before the padding has unused bits, all 0
            last = len(text.rstrip("=")) - 1
            env["payload"] = text[:last] + chr(ord(text[last]) + 1) + text[last + 1 :]
            assert base64.b64decode(env["payload"]) == base64.b64decode(text)
            return bundle([KEYSET, entry(env)])
    raise AssertionError("one of three lengths needs padding")


def keyset_with_unknown_role() -> bytes:
    """A keyset whose roles name one more than the schema knows, signed by its root keys."""
    roles = {"root": ([k.public for k in US.roots], 2), "foreign-minister": ([US.minister.public], 1)}
    body = keyset_body(1, None, roles)
    body["roles"]["admin"] = body["roles"]["foreign-minister"]
    keyset = entry(envelope(payload(body, kind="keyset"), US.roots, kind="keyset"))
    return bundle([keyset, entry(envelope(payload()))])


def replaced(old: bytes, new: bytes) -> bytes:
    """The declaration's payload with ``old`` replaced by ``new`` (signed after the change)."""
    data = payload()
    assert old in data
    return declared(data.replace(old, new, 1))


def bom(data: bytes) -> bytes:
    """``data`` after a UTF-8 byte order mark."""
    return b"\xef\xbb\xbf" + data


def witnessed_by_an_ed25519_key() -> bytes:
    """The declaration, its checkpoint also signed by a listed witness key of algorithm 1, not 4."""
    witness = Signer("witness.test", key("witness").seed, ALG_ED25519)
    return bundle([KEYSET, entry(envelope(payload()))], witnesses=(witness,))


def minister() -> dict[str, Any]:
    """The minister's signature on the declaration, as JSON."""
    sig: dict[str, Any] = envelope(payload())["signatures"][0]
    return sig


def signed_by_the_log(text: str) -> str:
    """``text`` signed by the log key as a note, whatever its lines (``sign_note`` would refuse some)."""
    return (
        text + "\n" + NoteSignature(LOG_SIGNER.name, LOG_SIGNER.key_id, LOG_SIGNER.sign(text.encode())).line()
    )


def cosigned_by_100() -> bytes:
    """The declaration, its checkpoint cosigned by 100 listed witnesses: 101 signature lines."""
    witnesses = tuple(Signer.generate(f"w{i}.test", alg=ALG_COSIGNATURE_V1) for i in range(100))

    def note(cp: Checkpoint) -> str:
        return cp.sign([LOG_SIGNER]) + "".join(cosign(cp.body(), w, 1_800_000_000).line() for w in witnesses)

    return bundle([KEYSET, entry(envelope(payload()))], witnesses=witnesses, checkpoint=note)


def signed_by_the_identity_point() -> bytes:
    """A keyset of US whose one key, for every role, is the identity point, and the declaration: each
    "signed" by it (any R = sB with S = s verifies under a key of small order, where WebCrypto checks)."""
    identity = encode(IDENTITY)
    keyid = PublicKey(identity).keyid

    def envelope_of(data: bytes, kind: str) -> dict[str, Any]:
        sig = forged_by_small_order(identity, pae(payload_type(kind), data))
        return {"payload": b64e(data), "payloadType": payload_type(kind), "signatures": [
            {"keyid": keyid, "sig": b64e(sig)},
        ]}  # fmt: skip

    roles = {role: ([PublicKey(identity)], 1) for role in ("root", "foreign-minister")}
    keyset = payload(keyset_body(1, None, roles), kind="keyset")
    return bundle([entry(envelope_of(keyset, "keyset")), entry(envelope_of(payload(), "declaration"))])


def a_tree_of_2_to_the_60(hashes: int = 60) -> bytes:
    """The keyset and the declaration as the first two leaves of a checkpoint of 2^60 entries, with
    ``hashes`` hashes in each proof: RFC 9162 asks 60 for that size (beyond 2^53, the browser computes in
    BigInts); floating-point arithmetic on 2^60 - 1 asked 61."""
    entries = [KEYSET, entry(envelope(payload()))]
    first, second = (leaf_hash(e) for e in entries)
    rest = [hashlib.sha256(b"%d" % i).digest() for i in range(hashes - 1)]
    root = node_hash(first, second)
    for sibling in rest:
        root = node_hash(root, sibling)
    note = Checkpoint(LOG_SIGNER.name, 2**60, root).sign([LOG_SIGNER])
    return assemble(entries, [[second, *rest], [first, *rest]], note)


RU = PartyKeys.make("RU")
XID = "ef" * 16
TERMS = b"The terms of the exchange."
NA, NB = (hashlib.sha256(b"detente forged nonce %d" % i).digest() for i in (1, 2))


def concluded(reuse: bool = False) -> bytes:
    """A bundle claiming that US and RU concluded exchange XID: US offers, RU accepts (committing to NB,
    or with ``reuse`` to the offer's own commitment), each reveals its nonce; all properly signed."""
    m1 = acts.offer(
        US.fm, T, xid=XID, to="RU", notary=NOTARY.keyid, deadline="2018-06-14T09:00:00Z",
        terms=sha256_hex(TERMS), nonce=NA,
    )  # fmt: skip
    commitment = m1.body["commitment"] if reuse else acts.commitment(NB)
    m2 = RU.fm.sign("accept", T, {"xid": XID, "offer": m1.sid, "commitment": commitment})
    sts = [US.keyset(T), RU.keyset(T), m1, m2, acts.reveal(US.fm, T, m1, NA), acts.reveal(RU.fm, T, m1, NB)]
    claim = {"type": "concluded", "ref": XID, "party": "US", "counterparty": "RU", "on": T}
    return bundle([entry(st.envelope.to_json()) for st in sts], claim, blobs={sha256_hex(TERMS): b64e(TERMS)})


REFUSED: dict[str, Callable[[], bytes]] = {
    "a declaration body without most of its fields": lambda: declared(
        payload({"did": DID, "to": None, "text": BODY["text"]})
    ),
    "received on 30 February": lambda: declared(payload(), "2018-02-30T09:00:00Z"),
    "received on 29 February 1900": lambda: declared(payload(), "1900-02-29T09:00:00Z"),
    "received at hour 24": lambda: declared(payload(), "2018-06-07T24:00:00Z"),
    "received in year 0": lambda: declared(payload(), "0000-06-07T09:00:00Z"),
    "issued yesterday": lambda: declared(payload(issued="yesterday")),
    "notice of 5000 days": lambda: declared(payload({**BODY, "notice_days": 5000})),
    "a field the schema does not know": lambda: declared(payload({**BODY, "place": "Yalta"})),
    "a payload over 32,768 bytes": lambda: declared(payload({**BODY, "summary": "x" * 40_000})),
    "a lone surrogate escaped in a string": lambda: replaced(b"No interference", b"\\ud800"),
    "a key given twice in the payload": lambda: replaced(b'"kind":', b'"kind":"declaration","kind":'),
    "an integer beyond the safe range": lambda: replaced(b":30,", b":9007199254740993,"),
    "a number with a fraction": lambda: replaced(b":30,", b":30.0,"),
    "non-canonical base64 of the payload": non_canonical_base64,
    "a byte order mark before the entry": lambda: bundle([KEYSET, bom(entry(envelope(payload())))]),
    "a byte order mark before the bundle": lambda: bundle([KEYSET, entry(envelope(payload()))], edit=bom),
    "a signature of 32 bytes by an unknown key": lambda: with_signatures(
        [{"keyid": UNKNOWN_KEYID, "sig": b64e(bytes(32))}]
    ),
    "17 signatures": lambda: with_signatures(
        [{"keyid": f"{i:064x}", "sig": b64e(bytes(64))} for i in range(16)]
    ),
    "the minister's signature twice": lambda: with_signatures([minister()]),
    "a keyset with a role the schema does not know": keyset_with_unknown_role,
    "a witness key that is not a cosignature key": witnessed_by_an_ed25519_key,
    "more after a checkpoint signature": lambda: bundle(
        [KEYSET, entry(envelope(payload()))], checkpoint=lambda cp: cp.sign([LOG_SIGNER])[:-1] + " more\n"
    ),
    "an empty checkpoint extension line": lambda: bundle(
        [KEYSET, entry(envelope(payload()))], checkpoint=lambda cp: signed_by_the_log(cp.body() + "\nmore\n")
    ),
    "101 checkpoint signatures": cosigned_by_100,
    "a checkpoint of 2^60 entries, with a hash too many in each proof": lambda: a_tree_of_2_to_the_60(61),
    "a keyset whose key is the identity point": signed_by_the_identity_point,
    # find_contract: with the offer's commitment in the acceptance, US's nonce alone would open both
    "an acceptance that reuses the offer's commitment": lambda: concluded(reuse=True),
    "an incident that ends before it starts": lambda: reported(end="2018-06-07T02:59:59Z"),
    "an incident whose peak minute is above its requests": lambda: reported(peak_per_minute=13),
    "an incident whose origin sent more requests than it counts": lambda: reported(
        origin={"country": "RU", "requests": 13, "sources": 3}
    ),
    "an incident whose origin has more sources than it counts": lambda: reported(
        origin={"country": "RU", "requests": 5, "sources": 9}
    ),
}

ACCEPTED: dict[str, Callable[[], bytes]] = {
    "the declaration": lambda: bundle([KEYSET, entry(envelope(payload()))]),
    "an incident report": reported,
    "an exchange concluded by both nonces": concluded,
    "a checkpoint of 2^60 entries": a_tree_of_2_to_the_60,
    "received on 29 February 2016": lambda: declared(payload(), "2016-02-29T09:00:00Z"),
    "a summary of 4,000 characters beyond the BMP": lambda: declared(
        payload({**BODY, "summary": "\U0001f54a" * 4000})
    ),
}
