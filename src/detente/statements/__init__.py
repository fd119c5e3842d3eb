"""Signed statements: DSSE v1 envelopes over RFC 8785 payloads, Ed25519 keys, keysets and kinds.

Pure: values in, values out (randomness is passed in where keys are made). The contract is
``docs/formats.md``. Modules:

- ``canonical``: strict JSON parsing and RFC 8785 bytes;
- ``keys``: Ed25519 keys and self-certifying key ids;
- ``dsse``: PAE, envelopes, signing, merging signatures collected offline;
- ``schema``: the small JSON Schema validator the kinds use;
- ``kinds``: every kind's body schema and the roles allowed to sign it;
- ``statement``: building, signing and opening statements;
- ``keysets``: roles, thresholds and root-signed rotation.
"""

from detente.statements.dsse import Envelope, Signature, merge_envelopes, pae, sign_envelope
from detente.statements.keys import PublicKey, SigningKey, key_id
from detente.statements.keysets import Keyset, Role, check_keyset_change
from detente.statements.kinds import KINDS, payload_type
from detente.statements.statement import Statement, open_statement, sign_statement

__all__ = [
    "KINDS",
    "Envelope",
    "Keyset",
    "PublicKey",
    "Role",
    "Signature",
    "SigningKey",
    "Statement",
    "check_keyset_change",
    "key_id",
    "merge_envelopes",
    "open_statement",
    "pae",
    "payload_type",
    "sign_envelope",
    "sign_statement",
]
