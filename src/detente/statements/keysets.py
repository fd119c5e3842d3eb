"""Party keysets: roles with keys and thresholds, and root-signed rotation.

Invariants:
- A keyset lists each key by its self-certifying key id; every role's keys are in the keyset and its
  threshold is between 1 and the number of its keys; a ``root`` role is always present.
- :func:`check_keyset_change` accepts version 1 only when self-signed by its own root threshold, and
  version ``n+1`` only when it names version ``n`` and carries the root thresholds of both versions: no
  one without the current root keys can speak for a party, even after a key is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from detente.errors import MalformedError, VerificationError
from detente.statements.dsse import Envelope
from detente.statements.keys import PublicKey, SigningKey
from detente.statements.statement import Statement, sign_statement


@dataclass(frozen=True)
class Role:
    """The keys of one role and how many of them must sign."""

    keys: frozenset[str]
    threshold: int


@dataclass(frozen=True)
class Keyset:
    """One version of a party's keyset."""

    party: str
    version: int
    previous: str | None
    keys: Mapping[str, PublicKey] = field(hash=False)
    roles: Mapping[str, Role] = field(hash=False)
    sid: str = ""

    @classmethod
    def from_statement(cls, statement: Statement) -> Keyset:
        """Read a keyset statement (already schema-checked) and check its internal consistency."""
        if statement.kind != "keyset":
            raise MalformedError(f"a {statement.kind} statement is not a keyset")
        body = statement.body
        keys = {}
        for item in body["keys"]:
            key = PublicKey.from_b64(item["public"])
            if key.keyid != item["keyid"]:
                raise MalformedError(f"keyset key id {item['keyid'][:16]}... is not the hash of its key")
            keys[key.keyid] = key
        roles = {name: _role(name, spec, keys) for name, spec in body["roles"].items()}
        return cls(statement.party, body["version"], body["previous"], keys, roles, statement.sid)

    def authorised(self, envelope: Envelope, roles: Iterable[str]) -> str | None:
        """Return the first of ``roles`` whose threshold the envelope's valid signatures meet, or None.

        Raises:
            VerificationError: a signature by any key of this keyset does not verify, whatever role is
                asked (formats.md: a known key's failed signature makes the whole envelope a forgery).
        """
        valid = envelope.verified_by(self.keys)
        for role in roles:
            spec = self.roles.get(role)
            if spec is not None and len(valid & spec.keys) >= spec.threshold:
                return role
        return None


def _role(name: str, spec: Mapping[str, Any], keys: Mapping[str, PublicKey]) -> Role:
    missing = [k for k in spec["keys"] if k not in keys]
    if missing:
        raise MalformedError(f"role {name} names a key not in the keyset: {missing[0][:16]}...")
    if spec["threshold"] > len(spec["keys"]):
        raise MalformedError(f"role {name} has threshold {spec['threshold']} but {len(spec['keys'])} keys")
    return Role(frozenset(spec["keys"]), spec["threshold"])


def keyset_body(
    version: int, previous: str | None, roles: Mapping[str, tuple[Iterable[PublicKey], int]]
) -> dict[str, Any]:
    """Build a keyset body from roles given as ``(public keys, threshold)``."""
    keys: dict[str, PublicKey] = {}
    role_json: dict[str, Any] = {}
    for name, (members, threshold) in roles.items():
        ids = []
        for key in members:
            keys[key.keyid] = key
            ids.append(key.keyid)
        role_json[name] = {"keys": sorted(ids), "threshold": threshold}
    listed = [{"keyid": k, "public": keys[k].b64} for k in sorted(keys)]
    return {"version": version, "previous": previous, "keys": listed, "roles": role_json}


def sign_keyset(party: str, issued: str, body: Mapping[str, Any], keys: Iterable[SigningKey]) -> Statement:
    """Sign a keyset body (by the new root keys, and for a rotation the current root keys too)."""
    return sign_statement("keyset", party, issued, body, keys)


def check_keyset_change(current: Keyset | None, statement: Statement) -> Keyset:
    """Check that ``statement`` is a valid next keyset after ``current`` (None: the first one).

    Raises:
        MalformedError: not a keyset, or inconsistent.
        VerificationError: the root thresholds are not met, or the version chain is broken.
    """
    new = Keyset.from_statement(statement)
    if new.authorised(statement.envelope, ["root"]) is None:
        raise VerificationError(f"keyset version {new.version} of {new.party} lacks its own root threshold")
    if current is None:
        if new.version != 1 or new.previous is not None:
            raise VerificationError(f"the first keyset of {new.party} must be version 1 with no previous")
        return new
    if new.party != current.party:
        raise VerificationError(f"a keyset of {new.party} cannot replace one of {current.party}")
    if new.version != current.version + 1 or new.previous != current.sid:
        raise VerificationError(
            f"keyset version {new.version} must follow version {current.version} and name it as previous"
        )
    if current.authorised(statement.envelope, ["root"]) is None:
        raise VerificationError(
            f"keyset version {new.version} of {new.party} lacks the root threshold "
            f"of version {current.version}"
        )
    return new
