"""A fast first reading of statement payloads: each kind's schema as msgspec types, checked in C.

:func:`accepts` says True only for a payload that the strict reading (:func:`.canonical.parse_canonical`
and the kind's compiled schema, :data:`.kinds.PAYLOAD_SCHEMAS`) accepts too; on False, nothing is
decided: the caller reads the payload strictly, which accepts or names the fault. So this reading may
be stricter than the schema (it then costs only time), never looser.

How it stays within the schema:
- Each object is a closed msgspec ``Struct`` whose fields are its properties in RFC 8785's order
  (optional ones absent by default), each field's type the property's schema: ``pattern`` anchored at
  both ends (msgspec searches, the schema matches whole strings), ``minLength``/``maxLength``,
  ``minimum``/``maximum`` (and the safe integer range where the schema names none, as the compiled
  schema does), ``enum`` and ``const`` as literals, ``null`` only where the schema allows it.
- Decoding is strict (no ``true`` for 1, no string for a number), and the decoded value must encode
  back to the very bytes read: that proves the payload canonical (msgspec writes strings and integers
  as the canonical encoder does) and that nothing was read loosely (a duplicate key, an escape, a
  number spelled otherwise would all encode differently).
- The commonest patterns are read by msgspec's own C types instead of a regex, which costs about
  0.8 us a string, most of this reading's cost (:data:`_PATTERN_TYPES`): a two-letter code and a clause
  id as literals, a time as a UTC ``datetime``, a 32-digit id as a ``UUID``. With the encoding check
  below, each accepts exactly the strings its pattern matches (a time: only real calendar times,
  fewer), all of one length within the schema's bounds; a test holds each type to its pattern.
- A string of N lower-case hex digits (a hash, a monitor id) is read as a string of length N, its digits
  checked after decoding by ``str.strip``, again in place of a regex.
- ``uniqueItems``, which msgspec types cannot say, is checked on the decoded arrays, item by item in
  canonical form (for the canonical bytes above, equal forms are equal values).
A schema using anything else is refused when this module is imported (as :mod:`.schema` refuses an
unknown keyword), and a test holds this reading to the strict one on mutated golden payloads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from string import ascii_uppercase
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from detente.statements.kinds import KINDS, header_schema
from detente.statements.schema import CLAUSE, ID, MAX_INT, PARTY, TIME, Schema

_SUPPORTED = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "pattern", "minLength",
    "maxLength", "minimum", "maximum", "items", "minItems", "maxItems", "uniqueItems", "description",
}  # fmt: skip
# a UUID is written back as 32 lower-case hex digits: the spelling of an ID
_ENCODE = msgspec.json.Encoder(uuid_format="hex").encode

CODES = tuple(a + b for a in ascii_uppercase for b in ascii_uppercase)
CLAUSE_IDS = ("C0", "L1", "L2", "L3", "L4", "M1", "M2", "M3", "M4", "M5", "M6", "R1")
# pattern -> (the msgspec type read instead, the one length of every string it accepts)
_PATTERN_TYPES: dict[str, tuple[Any, int]] = {
    PARTY: (Literal[CODES], 2),
    CLAUSE: (Literal[CLAUSE_IDS], 2),
    TIME: (Annotated[datetime, msgspec.Meta(tz=True)], 20),
    ID: (UUID, 32),
}

Check = Callable[[Any], bool]  # True when a decoded value passes what its type cannot say
_HEX_PATTERN = re.compile(r"\^\[0-9a-f\]\{(\d+)\}\$")  # ^[0-9a-f]{N}$


def _lower_hex(text: str) -> bool:
    return not text.strip("0123456789abcdef")


def _read_instead(pattern: str) -> tuple[Any, Check | None, int] | None:
    """The type read in place of ``pattern``'s regular expression, the check made after decoding, and
    the one length of every string they accept; None: the pattern keeps its regular expression."""
    if pattern in _PATTERN_TYPES:
        kind, length = _PATTERN_TYPES[pattern]
        return kind, None, length
    hex_digits = _HEX_PATTERN.fullmatch(pattern)
    if hex_digits is None:
        return None
    length = int(hex_digits.group(1))
    return Annotated[str, msgspec.Meta(min_length=length, max_length=length)], _lower_hex, length


def _type(schema: Schema, name: str) -> tuple[Any, Check | None]:
    """The msgspec type of ``schema``, and the duplicate check its arrays need (None: no array)."""
    if set(schema) - _SUPPORTED:
        raise AssertionError(f"the typed reading cannot express {sorted(set(schema) - _SUPPORTED)}")
    kinds = schema["type"]
    options = [kinds] if isinstance(kinds, str) else list(kinds)
    nullable = "null" in options and len(options) == 2
    if len(options) != 1 and not nullable:
        raise AssertionError(f"the typed reading cannot express the types {options}")
    kind = next(k for k in options if k != "null") if nullable else options[0]
    base, check = _leaf(schema, kind, name)
    return (base | None if nullable else base), check


def _leaf(schema: Schema, kind: str, name: str) -> tuple[Any, Check | None]:
    if "const" in schema or "enum" in schema:
        members = [schema["const"]] if "const" in schema else schema["enum"]
        if not all(isinstance(m, str) for m in members) or kind != "string":
            raise AssertionError("the typed reading takes string enums and constants only")
        return Literal[tuple(members)], None
    if kind == "null":
        return type(None), None
    if kind == "string":
        instead = _read_instead(schema.get("pattern", ""))
        if instead is not None:
            read_as, check, length = instead
            if schema.get("minLength", 0) <= length <= schema.get("maxLength", length):
                return read_as, check
        meta = {"min_length": schema.get("minLength"), "max_length": schema.get("maxLength")}
        if "pattern" in schema:
            meta["pattern"] = rf"\A(?:{schema['pattern']})\Z"
        return Annotated[str, msgspec.Meta(**meta)], None
    if kind == "integer":
        low, high = schema.get("minimum", -MAX_INT), schema.get("maximum", MAX_INT)
        return Annotated[int, msgspec.Meta(ge=low, le=high)], None
    if kind == "array":
        return _array(schema, name)
    if kind == "object":
        return _object(schema, name)
    raise AssertionError(f"the typed reading cannot express the type {kind}")


def _array(schema: Schema, name: str) -> tuple[Any, Check | None]:
    item, inner = _type(schema["items"], f"{name}_item")
    meta = msgspec.Meta(min_length=schema.get("minItems", 0), max_length=schema.get("maxItems"))
    unique = bool(schema.get("uniqueItems"))
    if not unique and inner is None:
        return Annotated[list[item], meta], None  # type: ignore[valid-type]

    def check(values: list[Any]) -> bool:
        if unique and len(values) > 1 and len({_ENCODE(v) for v in values}) != len(values):
            return False
        return inner is None or all(inner(v) for v in values)

    return Annotated[list[item], meta], check  # type: ignore[valid-type]


def _object(schema: Schema, name: str) -> tuple[Any, Check | None]:
    if schema.get("additionalProperties") is not False:
        raise AssertionError("the typed reading takes closed objects only")
    required = set(schema.get("required", []))
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    checks: list[tuple[str, Check]] = []
    rename = {}
    # RFC 8785 orders members by their keys' UTF-16 code units: for ASCII keys, plain sorting
    for i, key in enumerate(sorted(schema["properties"])):
        if not key.isascii():
            raise AssertionError("the typed reading takes ASCII property names only")
        attribute = f"f{i}"  # any key, even one that is no identifier, becomes a field
        rename[attribute] = key
        sub, inner = _type(schema["properties"][key], f"{name}_{i}")
        fields.append((attribute, sub) if key in required else (attribute, sub, msgspec.UNSET))
        if inner is not None:
            checks.append((attribute, inner))
    struct = msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True, rename=rename)
    if not checks:
        return struct, None

    def check(value: Any) -> bool:
        for attribute, each in checks:
            held = getattr(value, attribute)
            if held is not None and held is not msgspec.UNSET and not each(held):
                return False
        return True

    return struct, check


def _reader(kind: str) -> Callable[[bytes], bool]:
    struct, check = _type(header_schema(kind), f"payload_{kind.replace('-', '_')}")
    decode = msgspec.json.Decoder(struct).decode

    def accepts(payload: bytes) -> bool:
        try:
            value = decode(payload)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return False
        return _ENCODE(value) == payload and (check is None or check(value))

    return accepts


_READERS = {kind: _reader(kind) for kind in KINDS}


def accepts(kind: str, payload: bytes) -> bool:
    """Whether ``payload`` is surely a canonical, valid payload of ``kind`` (False decides nothing)."""
    return _READERS[kind](payload)
