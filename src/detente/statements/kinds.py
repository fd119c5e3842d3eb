"""Statement kinds: their ``payloadType``, body schema and the roles allowed to sign them.

Every schema here is printed in ``docs/formats.md`` (a test keeps the two equal). Bodies are closed
objects: an unknown field is refused, so the registry never logs a statement it cannot fully read.
"""

from __future__ import annotations

from typing import Final

from detente.statements.schema import (
    B64_32,
    CLAUSE,
    HEX64,
    ID,
    PARTY,
    TIME,
    Schema,
    Validator,
    array,
    compile_schema,
    integer,
    nullable,
    obj,
    string,
)

MINISTERS: Final = ("head-of-state", "head-of-government", "foreign-minister")
ROLES: Final = ("root", *MINISTERS, "cert")
NOTARY_NAME: Final = "^[a-z0-9][a-z0-9.-]{0,62}$"
ATTACKS: Final = ("flood", "distributed-flood", "scan", "brute-force", "credential-stuffing")
POSITIONS: Final = ("accepts", "rejects", "neither")

_xid = string(ID)
_sid = string(HEX64)
_summary = string(max_length=4000)
_role = obj({"keys": array(string(HEX64), max_items=16, min_items=1), "threshold": integer(1, 16)})
_offer = {
    "xid": _xid,
    "to": string(PARTY),
    "notary": string(HEX64),
    "deadline": string(TIME),
    "terms": _sid,
    "commitment": _sid,
}

BODIES: Final[dict[str, Schema]] = {
    "keyset": obj(
        {
            "version": integer(1),
            "previous": nullable(string(HEX64)),
            "keys": array(obj({"keyid": string(HEX64), "public": string(B64_32)}), max_items=64, min_items=1),
            "roles": obj(dict.fromkeys(ROLES, _role), optional=(*MINISTERS, "cert")),
        }
    ),
    "offer": obj(_offer),
    "counter": obj({**_offer, "answers": _xid}),
    "accept": obj({"xid": _xid, "offer": _sid, "commitment": _sid}),
    "refuse": obj({"xid": _xid, "offer": _sid, "reason": _summary}),
    "withdraw": obj({"xid": _xid, "offer": _sid, "reason": _summary}),
    "reveal": obj({"xid": _xid, "offer": _sid, "nonce": string(B64_32)}),
    "abort": obj({"xid": _xid, "offer": _sid}),
    "resolve": obj({"xid": _xid, "offer": _sid, "accept": _sid}),
    "decision": obj(
        {
            "xid": _xid,
            "offer": _sid,
            "outcome": {"type": "string", "enum": ["resolved", "aborted", "lapsed"]},
            "accept": nullable(string(HEX64)),
            "request": nullable(string(HEX64)),
        }
    ),
    "declaration": obj(
        {
            "did": _xid,
            "to": nullable(string(PARTY)),
            "clauses": array(string(CLAUSE), max_items=16, min_items=1),
            "summary": _summary,
            "text": _sid,
            "effective": string(TIME),
            "notice_days": integer(0, 3650),
        }
    ),
    "termination": obj({"ref": _xid, "summary": _summary, "effective": string(TIME)}),
    "protest": obj(
        {
            "pid": _xid,
            "to": string(PARTY),
            "ref": _xid,
            "clauses": array(string(CLAUSE), max_items=16, min_items=1),
            "incidents": array(_xid, max_items=64),
            "summary": _summary,
            "text": nullable(string(HEX64)),
        }
    ),
    "reply": obj(
        {
            "pid": _xid,
            "position": {"type": "string", "enum": list(POSITIONS)},
            "summary": _summary,
            "text": nullable(string(HEX64)),
        }
    ),
    "incident": obj(
        {
            "iid": _xid,
            "to": string(PARTY),
            "monitor_id": string("^[0-9a-f]{16}$"),
            "asset": obj(
                {
                    "name": string(max_length=100, min_length=1),
                    "kind": {"type": "string", "enum": ["state-agency", "election-body"]},
                }
            ),
            "attack": {"type": "string", "enum": list(ATTACKS)},
            "start": string(TIME),
            "end": string(TIME),
            "requests": integer(),
            "peak_per_minute": integer(),
            "sources": integer(),
            "origin": obj({"country": string(PARTY), "requests": integer(), "sources": integer()}),
            "networks": array(
                obj({"asn": integer(), "name": string(max_length=200), "requests": integer()}), max_items=10
            ),
            "clauses": array(string(CLAUSE), max_items=16),
            "evidence": _sid,
            "attributed_actor": {"type": "null"},
        }
    ),
    "incident-reply": obj(
        {
            "iid": _xid,
            "position": {"type": "string", "enum": list(POSITIONS)},
            "summary": _summary,
            "text": nullable(string(HEX64)),
        }
    ),
}

KINDS: Final = tuple(BODIES)

SIGNERS: Final[dict[str, tuple[str, ...]]] = {
    **dict.fromkeys(KINDS, MINISTERS),
    "keyset": ("root",),
    "incident": ("cert",),
    "incident-reply": ("cert", *MINISTERS),
    "decision": (),  # the notary key named by the offer, not a keyset role
}

EXCHANGE_KINDS: Final = ("offer", "counter", "accept", "refuse", "withdraw", "reveal", "abort", "resolve")


def payload_type(kind: str) -> str:
    """The DSSE payloadType of a kind."""
    return f"application/vnd.detente.{kind}.v1+json"


PAYLOAD_TYPES: Final = {payload_type(kind): kind for kind in KINDS}


def header_schema(kind: str) -> Schema:
    """The full payload schema of a kind: the common header and its body."""
    party = string(NOTARY_NAME, max_length=63) if kind == "decision" else string(PARTY)
    return obj(
        {
            "kind": {"type": "string", "const": kind},
            "party": party,
            "issued": string(TIME),
            "body": BODIES[kind],
        }
    )


# Each kind's payload schema compiled once; compiling also refuses a keyword the compiler lacks.
PAYLOAD_SCHEMAS: Final[dict[str, Validator]] = {kind: compile_schema(header_schema(kind)) for kind in KINDS}
