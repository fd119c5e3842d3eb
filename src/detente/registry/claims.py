"""Claims that bundles prove, recomputed from the statements alone.

A claim is never taken on trust: :func:`recompute_claim` derives it from exactly the statements it needs
(in log order, of exactly the expected kinds), and the verifier compares the result with the stated one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detente.accords.contract import Trust, find_contract
from detente.accords.projection import check_incident_figures
from detente.errors import MalformedError, VerificationError
from detente.statements.canonical import format_time
from detente.statements.keys import PublicKey
from detente.statements.schema import ID, PARTY, TIME
from detente.statements.statement import Statement

from .entry import LogEntry

CLAIM_TYPES = ("offered", "refused", "concluded", "declared", "protested", "replied", "incident")
_SENTENCES = {
    "offered": "{party} offered {counterparty} the exchange of letters {ref}",
    "refused": "{party} refused the exchange of letters {ref} offered by {counterparty}",
    "concluded": "the exchange of letters {ref} between {party} and {counterparty} was concluded",
    "declared": "{party} made the unilateral declaration {ref} (addressed to {counterparty})",
    "protested": "{party} protested to {counterparty} ({ref})",
    "replied": "{party} replied to the protest {ref} of {counterparty}",
    "incident": "{party} reported incident {ref} from the territory of {counterparty}",
}


@dataclass(frozen=True)
class Claim:
    """A positive fact: who did what, about which id, when the registry received the proving statement."""

    type: str
    ref: str
    party: str
    counterparty: str | None
    on: str

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "counterparty": self.counterparty,
            "on": self.on,
            "party": self.party,
            "ref": self.ref,
            "type": self.type,
        }

    @classmethod
    def from_json(cls, value: Any) -> Claim:
        """Read a claim strictly."""
        if not isinstance(value, dict) or set(value) != {"type", "ref", "party", "counterparty", "on"}:
            raise MalformedError("a claim has exactly type, ref, party, counterparty and on")
        checks = [
            value["type"] in CLAIM_TYPES,
            isinstance(value["ref"], str) and re.fullmatch(ID, value["ref"]) is not None,
            isinstance(value["party"], str) and re.fullmatch(PARTY, value["party"]) is not None,
            value["counterparty"] is None
            or (
                isinstance(value["counterparty"], str)
                and re.fullmatch(PARTY, value["counterparty"]) is not None
            ),
            isinstance(value["on"], str) and re.fullmatch(TIME, value["on"]) is not None,
        ]
        if not all(checks):
            raise MalformedError("the claim has a malformed field")
        return cls(value["type"], value["ref"], value["party"], value["counterparty"], value["on"])

    def sentence(self) -> str:
        """The claim in words."""
        text = _SENTENCES[self.type].format(
            party=self.party, counterparty=self.counterparty or "all", ref=self.ref
        )
        return f"{text}; received by the registry on {self.on}"


def _kinds(statements: Sequence[Statement], *expected: tuple[str, ...]) -> None:
    got = tuple(s.kind for s in statements)
    if got not in expected:
        raise VerificationError(
            f"a claim of this type needs statements {' or '.join(map(str, expected))}, not {got}"
        )


def recompute_claim(
    claim_type: str, claimed: Sequence[tuple[int, LogEntry]], notaries: Mapping[str, PublicKey] | None = None
) -> Claim:
    """Derive the claim that exactly these statements prove.

    Raises:
        VerificationError: the statements are not exactly what such a claim needs, or do not prove it.
    """
    sts = [e.statement for _, e in claimed]
    on = format_time(claimed[-1][1].received) if claimed else ""
    if claim_type == "offered":
        _kinds(sts, ("offer",), ("counter",))
        return Claim(claim_type, sts[0].body["xid"], sts[0].party, sts[0].body["to"], on)
    if claim_type == "refused":
        _kinds(sts, ("offer", "refuse"), ("counter", "refuse"))
        m1, no = sts
        if no.body["offer"] != m1.sid or no.party != m1.body["to"]:
            raise VerificationError("the refusal is not the addressee's refusal of this offer")
        return Claim(claim_type, m1.body["xid"], no.party, m1.party, on)
    if claim_type == "concluded":
        return _concluded(sts, on, notaries or {})
    if claim_type in ("declared", "protested", "incident"):
        kind = {"declared": "declaration", "protested": "protest", "incident": "incident"}[claim_type]
        _kinds(sts, (kind,))
        ref = sts[0].body.get("did") or sts[0].body.get("pid") or sts[0].body["iid"]
        if kind == "incident":
            if sts[0].body["origin"]["country"] != sts[0].body["to"]:
                raise VerificationError("the incident's origin state is not the state it is addressed to")
            check_incident_figures(sts[0].body)
        return Claim(claim_type, ref, sts[0].party, sts[0].body["to"], on)
    if claim_type == "replied":
        _kinds(sts, ("protest", "reply"))
        protest, answer = sts
        if answer.body["pid"] != protest.body["pid"] or answer.party != protest.body["to"]:
            raise VerificationError("the reply is not by the addressee of this protest")
        return Claim(claim_type, protest.body["pid"], answer.party, protest.party, on)
    raise MalformedError(f"unknown claim type {claim_type!r}")


def _concluded(sts: list[Statement], on: str, notaries: Mapping[str, PublicKey]) -> Claim:
    _kinds(
        sts,
        ("offer", "accept", "reveal", "reveal"),
        ("counter", "accept", "reveal", "reveal"),
        ("offer", "accept", "decision"),
        ("counter", "accept", "decision"),
    )
    xid = sts[0].body["xid"]
    if any(s.body["xid"] != xid for s in sts):
        raise VerificationError("the statements belong to different exchanges")
    trust = Trust({}, notaries)
    contract = find_contract([s.envelope for s in sts], [], trust, xid, authorised=lambda _: True)
    if contract is None:
        raise VerificationError(f"the statements do not make a contract for exchange {xid}")
    return Claim("concluded", xid, contract.offer.party, contract.accept.party, on)


def required_blobs(statements: Sequence[Statement]) -> list[str]:
    """The blobs the statements cite and a bundle must carry (terms and texts; evidence stays private)."""
    cited = []
    for st in statements:
        if st.kind in ("offer", "counter"):
            cited.append(st.body["terms"])
        elif st.kind in ("declaration", "protest", "reply") and st.body["text"] is not None:
            cited.append(st.body["text"])
    return sorted(set(cited))
