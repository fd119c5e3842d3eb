"""A small compiler for the JSON Schema subset our formats use.

Supported keywords: ``type`` (one or a list), ``properties``, ``required``, ``additionalProperties``
(false only), ``enum``, ``const``, ``pattern`` (full match), ``minLength``, ``maxLength``, ``minimum``,
``maximum``, ``items``, ``minItems``, ``maxItems``, ``uniqueItems``. Anything else in a schema is a
programming error, caught by :func:`check_schema` at import, so a schema can never quietly mean less than
it says (the documented schemas are exactly these).

:func:`compile_schema` turns a schema into a checker once (closures over the schema's values), so that a
statement is checked without walking the schema dictionary again; the checker raises the same
:class:`MalformedError`, with the same message, as the interpreter it replaced (a differential test holds
it to that interpreter). The path of a failure is assembled only when one fails: the passing path builds
no strings. ADR 0004 says why this is compiled by hand rather than by a library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from detente.errors import MalformedError

Schema = dict[str, Any]

KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "pattern", "minLength",
    "maxLength", "minimum", "maximum", "items", "minItems", "maxItems", "uniqueItems", "description",
}  # fmt: skip

HEX64 = "^[0-9a-f]{64}$"
ID = "^[0-9a-f]{32}$"
# RFC 3339 UTC to the second, real calendar dates only (years 0001-9999, Gregorian leap years): the
# pattern alone says it, so every reader of the published schemas refuses 30 February as the registry does.
_DAY = "(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8])"
_LEAP_YEAR = "[0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00"
TIME = f"^(?!0000)([0-9]{{4}}-({_DAY})|({_LEAP_YEAR})-02-29)T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
PARTY = "^[A-Z]{2}$"
CLAUSE = "^(L[1-4]|R1|C0|M[1-6])$"
B64_32 = "^[A-Za-z0-9+/]{43}=$"
MAX_INT = 2**53 - 1  # RFC 8785 (I-JSON) safe integers


# What a string not matching a pattern too long to be read is told (the browser's validator is handed
# the same, detente.web.registrypages.bundle_rules).
PATTERN_MESSAGES = {TIME: " is not a real UTC time of the form YYYY-MM-DDTHH:MM:SSZ"}


def mismatch(pattern: str) -> str:
    """What a string not matching ``pattern`` is told."""
    return PATTERN_MESSAGES.get(pattern, f" does not match {pattern}")


def string(pattern: str | None = None, max_length: int = 200, min_length: int = 0) -> Schema:
    """A string schema."""
    schema: Schema = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    if pattern:
        schema["pattern"] = pattern
    return schema


def integer(minimum: int = 0, maximum: int = MAX_INT) -> Schema:
    """An integer schema."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """A closed object: every property required except ``optional``, no others allowed."""
    required = sorted(k for k in properties if k not in optional)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def array(items: Schema, max_items: int = 64, min_items: int = 0, unique: bool = True) -> Schema:
    """An array schema."""
    schema: Schema = {"type": "array", "items": items, "maxItems": max_items, "uniqueItems": unique}
    if min_items:
        schema["minItems"] = min_items
    return schema


def nullable(schema: Schema) -> Schema:
    """Allow ``null`` as well."""
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]}


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def check_schema(schema: Schema) -> None:
    """Refuse a schema that uses a keyword this validator does not implement."""
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise AssertionError(f"unsupported schema keywords: {sorted(unknown)}")
    for sub in schema.get("properties", {}).values():
        check_schema(sub)
    if "items" in schema:
        check_schema(schema["items"])


Check = Callable[[Any], None]


class Validator(Protocol):
    """A compiled schema."""

    def __call__(self, value: Any, path: str = "$") -> None:
        """Raise :class:`MalformedError` naming the first path of ``value`` that is wrong."""


class _InvalidError(Exception):
    """One value fails its schema: the message is ``path + "".join(reversed(steps)) + tail``.

    Each enclosing object or array appends its step (``.key`` or ``[i]``) while the exception unwinds.
    """

    def __init__(self, tail: str) -> None:
        super().__init__(tail)
        self.tail = tail
        self.steps: list[str] = []


def compile_schema(schema: Schema) -> Validator:
    """Compile ``schema`` into ``validate(value, path="$")``.

    The validator raises :class:`MalformedError` naming the first path that is wrong, with the message
    the interpreter it replaced gave (ADR 0004).

    Raises:
        AssertionError: the schema uses a keyword the compiler does not implement.
    """
    check_schema(schema)
    check = _node(schema)

    def validate_compiled(value: Any, path: str = "$") -> None:
        try:
            check(value)
        except _InvalidError as bad:
            raise MalformedError(path + "".join(reversed(bad.steps)) + bad.tail) from None

    return validate_compiled


def validate(value: Any, schema: Schema, path: str = "$") -> None:
    """Validate ``value`` once (compiles the schema: keep :func:`compile_schema`'s result to repeat)."""
    compile_schema(schema)(value, path)


# --- the compiler -----------------------------------------------------------------------------------
# Checks run in the interpreter's order: type, const, enum, then what the value's own type calls for
# (string length and pattern, integer range, object fields, array items), whichever type the schema names.


def _node(schema: Schema) -> Check:
    kinds = schema.get("type")
    options = None if kinds is None else ([kinds] if isinstance(kinds, str) else list(kinds))
    kind = options[0] if options is not None and len(options) == 1 else None
    guards = [g for g in (_const(schema), _enum(schema)) if g is not None]
    if kind is not None and not guards:
        # The common case: one type and nothing between its test and its own checks: one closure.
        return _BY_TYPE[kind](schema, _type_tail([kind])) or _accept
    steps = ([] if options is None else [_type_test(options)]) + guards
    own = _BY_TYPE[kind](schema, None) if kind is not None else _by_value(schema)
    return _sequence(steps if own is None else [*steps, own])


def _accept(value: Any) -> None:
    """Nothing to check."""


def _sequence(steps: list[Check]) -> Check:
    if not steps:
        return _accept
    if len(steps) == 1:
        return steps[0]

    def check(value: Any) -> None:
        for step in steps:
            step(value)

    return check


def _type_tail(options: list[str]) -> str:
    return f" must be of type {' or '.join(options)}"


def _is(kind: str) -> Callable[[Any], bool]:
    if kind == "integer":
        return lambda value: isinstance(value, int) and not isinstance(value, bool)  # true is not 1
    types = _TYPES[kind]
    return lambda value: isinstance(value, types)


def _type_test(options: list[str]) -> Check:
    tests, tail = [_is(k) for k in options], _type_tail(options)

    def check(value: Any) -> None:
        for test in tests:
            if test(value):
                return
        raise _InvalidError(tail)

    return check


def _const(schema: Schema) -> Check | None:
    if "const" not in schema:
        return None
    const, tail = schema["const"], f" must be {schema['const']!r}"

    def check(value: Any) -> None:
        if value != const:
            raise _InvalidError(tail)

    return check


def _enum(schema: Schema) -> Check | None:
    if "enum" not in schema:
        return None
    members, tail = tuple(schema["enum"]), f" must be one of {', '.join(map(str, schema['enum']))}"

    def check(value: Any) -> None:
        if value not in members:
            raise _InvalidError(tail)

    return check


def _by_value(schema: Schema) -> Check:
    """Dispatch on the value's own type (a schema with several types, or none)."""
    string, integer = _string(schema, None), _integer(schema, None)
    mapping, sequence = _object(schema, None), _array(schema, None)

    def check(value: Any) -> None:
        if isinstance(value, str):
            if string is not None:
                string(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            integer(value)
        elif isinstance(value, dict):
            if mapping is not None:
                mapping(value)
        elif isinstance(value, list) and sequence is not None:
            sequence(value)

    return check


def _plain(kind: str) -> Callable[[Schema, str | None], Check | None]:
    """Booleans and null: only the type test itself."""

    def build(schema: Schema, type_tail: str | None) -> Check | None:
        if type_tail is None:
            return None
        test, tail = _is(kind), type_tail

        def check(value: Any) -> None:
            if not test(value):
                raise _InvalidError(tail)

        return check

    return build


def _string(schema: Schema, type_tail: str | None) -> Check | None:
    low, high = schema.get("minLength", 0), schema.get("maxLength", MAX_INT)
    sized = low > 0 or high < MAX_INT
    length_tail = f" has a length outside {low}..{high}"
    pattern = schema.get("pattern")
    match = re.compile(pattern).fullmatch if pattern is not None else None
    pattern_tail = mismatch(pattern) if pattern is not None else ""
    if type_tail is None and not sized and match is None:
        return None

    def check(value: Any) -> None:
        if type_tail is not None and not isinstance(value, str):
            raise _InvalidError(type_tail)
        if sized and not low <= len(value) <= high:
            raise _InvalidError(length_tail)
        if match is not None and match(value) is None:
            raise _InvalidError(pattern_tail)

    return check


def _integer(schema: Schema, type_tail: str | None) -> Check:
    low, high = schema.get("minimum", -MAX_INT), schema.get("maximum", MAX_INT)

    def check(value: Any) -> None:
        if type_tail is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise _InvalidError(type_tail)
        if not low <= value <= high:
            raise _InvalidError(" is out of range")

    return check


def _object(schema: Schema, type_tail: str | None) -> Check | None:
    properties: dict[str, Schema] = schema.get("properties", {})
    required: list[str] = schema.get("required", [])
    closed = schema.get("additionalProperties") is False
    if type_tail is None and not properties and not required and not closed:
        return None
    needed, known = frozenset(required), frozenset(properties)
    fields = tuple((key, _node(sub)) for key, sub in properties.items())

    def check(value: Any) -> None:
        if type_tail is not None and not isinstance(value, dict):
            raise _InvalidError(type_tail)
        if not value.keys() >= needed:
            raise _InvalidError(f" lacks {', '.join(k for k in required if k not in value)}")
        if closed and not value.keys() <= known:
            extra = sorted(set(value) - known)
            raise _InvalidError(f" has unknown fields: {', '.join(k[:40] for k in extra)}")
        for key, sub in fields:
            if key in value:
                try:
                    sub(value[key])
                except _InvalidError as bad:
                    bad.steps.append(f".{key}")
                    raise

    return check


def _array(schema: Schema, type_tail: str | None) -> Check | None:
    low, high = schema.get("minItems", 0), schema.get("maxItems", MAX_INT)
    unique = bool(schema.get("uniqueItems"))
    item = _node(schema["items"]) if "items" in schema else None
    if type_tail is None and low <= 0 and high >= MAX_INT and not unique and item is None:
        return None

    def check(value: Any) -> None:
        if type_tail is not None and not isinstance(value, list):
            raise _InvalidError(type_tail)
        count = len(value)
        if not low <= count <= high:
            raise _InvalidError(f" has {count} items, outside the allowed range")
        if unique and len({repr(v) for v in value}) != count:
            raise _InvalidError(" has duplicate items")
        if item is not None:
            _each(item, value)

    return check


def _each(item: Check, values: list[Any]) -> None:
    for index, value in enumerate(values):
        try:
            item(value)
        except _InvalidError as bad:
            bad.steps.append(f"[{index}]")
            raise


_BY_TYPE: dict[str, Callable[[Schema, str | None], Check | None]] = {
    "string": _string,
    "integer": _integer,
    "object": _object,
    "array": _array,
    "boolean": _plain("boolean"),
    "null": _plain("null"),
}
