"""Golden vectors: one signed example of every kind, from fixed seeds, and the generated parts of
docs/formats.md. Regenerate the document with ``python -m tests.statements.golden --write`` (only when
the format version changes)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from detente.accords import acts
from detente.accords.acts import Authority
from detente.statements.canonical import sha256_hex
from detente.statements.keys import SigningKey
from detente.statements.keysets import keyset_body, sign_keyset
from detente.statements.kinds import KINDS, header_schema
from detente.statements.statement import Statement

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
ISSUED = "2018-06-07T09:00:00Z"
DEADLINE = "2018-07-16T00:00:00Z"


def seed_key(label: str) -> SigningKey:
    """The golden key ``label``: its seed is SHA-256 of ``detente golden <label>``."""
    return SigningKey(hashlib.sha256(f"detente golden {label}".encode()).digest())


def nonce(label: str) -> bytes:
    """A golden nonce: SHA-256 of ``detente golden nonce <label>``."""
    return hashlib.sha256(f"detente golden nonce {label}".encode()).digest()


def ident(label: str) -> str:
    """A golden id: the first 32 hex digits of SHA-256 of ``detente golden id <label>``."""
    return hashlib.sha256(f"detente golden id {label}".encode()).hexdigest()[:32]


def golden_statements() -> list[Statement]:
    """One signed example of every kind, in the order of :data:`KINDS`."""
    ru, us, notary = seed_key("RU foreign-minister"), seed_key("US foreign-minister"), seed_key("notary")
    root = seed_key("RU root")
    fm_ru, fm_us = Authority("RU", (ru,)), Authority("US", (us,))
    cert = Authority("RU", (seed_key("RU cert"),))
    roles = {
        "root": ([root.public], 1),
        "foreign-minister": ([ru.public], 1),
        "cert": ([cert.keys[0].public], 1),
    }
    keyset = sign_keyset("RU", ISSUED, keyset_body(1, None, roles), [root])
    terms = sha256_hex(b"golden terms")
    xid = ident("exchange")
    m1 = acts.offer(
        fm_ru, ISSUED, xid=xid, to="US", notary=notary.keyid, deadline=DEADLINE, terms=terms, nonce=nonce("A")
    )
    counter = acts.offer(
        fm_us, ISSUED, xid=ident("counter"), to="RU", notary=notary.keyid, deadline=DEADLINE, terms=terms,
        nonce=nonce("C"), answers=xid,
    )  # fmt: skip
    m2 = acts.accept(fm_us, ISSUED, m1, nonce("B"))
    resolve = acts.resolve(fm_us, ISSUED, m1, m2)
    decision = Authority("notary.example", (notary,)).sign(
        "decision",
        ISSUED,
        {"xid": xid, "offer": m1.sid, "outcome": "resolved", "accept": m2.sid, "request": resolve.sid},
    )
    did, pid, iid = ident("declaration"), ident("protest"), ident("incident")
    incident_body = {
        "iid": iid, "to": "US", "monitor_id": "3f0c9a1b2c3d4e5f",
        "asset": {"name": "cec", "kind": "election-body"}, "attack": "distributed-flood",
        "start": "2018-03-18T03:00:00Z", "end": "2018-03-18T03:40:00Z", "requests": 120000,
        "peak_per_minute": 9000, "sources": 800,
        "origin": {"country": "US", "requests": 50000, "sources": 300},
        "networks": [{"asn": 64500, "name": "Example Net", "requests": 20000}], "clauses": [],
        "evidence": sha256_hex(b"golden evidence"), "attributed_actor": None,
    }  # fmt: skip
    by_kind = {
        "keyset": keyset,
        "offer": m1,
        "counter": counter,
        "accept": m2,
        "refuse": acts.refuse(fm_us, ISSUED, m1, "The proposal is declined."),
        "withdraw": acts.withdraw(fm_ru, ISSUED, m1, "Superseded."),
        "reveal": acts.reveal(fm_ru, ISSUED, m1, nonce("A")),
        "abort": acts.abort(fm_ru, ISSUED, m1),
        "resolve": resolve,
        "decision": decision,
        "declaration": acts.declaration(
            fm_ru,
            ISSUED,
            did=did,
            to="US",
            clauses=["L1", "M1"],
            summary="A unilateral assurance.",
            text=sha256_hex(b"golden declaration text"),
            effective=ISSUED,
            notice_days=180,
        ),
        "termination": acts.termination(fm_ru, ISSUED, did, "Revoked with notice.", "2019-01-01T00:00:00Z"),
        "protest": acts.protest(
            fm_us, ISSUED, pid=pid, to="RU", ref=did, clauses=["L1"], summary="A protest."
        ),
        "reply": acts.reply(fm_ru, ISSUED, pid, "rejects", "No obligation was breached."),
        "incident": cert.sign("incident", ISSUED, incident_body),
        "incident-reply": acts.incident_reply(fm_us, ISSUED, iid, "neither", "Under review."),
    }
    return [by_kind[kind] for kind in KINDS]


def schemas_section() -> str:
    """The generated schema section of docs/formats.md."""
    parts = ["### 3.1 Schemas (generated from `detente.statements.kinds`)\n"]
    for kind in KINDS:
        text = json.dumps(header_schema(kind)["properties"]["body"], sort_keys=True, separators=(",", ":"))
        parts.append(f"`{kind}` body:\n\n```json\n{text}\n```\n")
    return "\n".join(parts)


def vectors_section() -> str:
    """The generated golden-vector section of docs/formats.md."""
    parts = [
        "## 8. Golden vectors (generated; checked by the tests)\n",
        'Keys: the seed of golden key `L` is `SHA-256("detente golden L")`; nonces are '
        '`SHA-256("detente golden nonce L")`; ids the first 32 hex digits of '
        '`SHA-256("detente golden id L")`. '
        "Each vector gives the payload (the exact bytes), its statement id, and the envelope (RFC 8785).\n",
    ]
    for st in golden_statements():
        signer = st.envelope.signatures[0].keyid
        parts.append(
            f"### `{st.kind}`\n\nsigned by key id `{signer}`; sid `{st.sid}`\n\n"
            f"```json\n{st.envelope.payload.decode()}\n```\n\n```json\n{st.envelope.encode().decode()}\n```\n"
        )
    return "\n".join(parts)


def render(doc: str) -> str:
    """``doc`` with its generated sections replaced by the current ones."""
    for name, body in (("schemas", schemas_section()), ("vectors", vectors_section())):
        start, end = f"<!-- generated:{name} -->", f"<!-- end:{name} -->"
        head, _, rest = doc.partition(start)
        _, found, tail = rest.partition(end)
        if not found:
            raise SystemExit(f"docs/formats.md lacks {end}")
        doc = f"{head}{start}\n{body}\n{end}{tail}"
    return doc


if __name__ == "__main__":
    if "--write" in sys.argv:
        DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
