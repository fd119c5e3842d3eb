"""A small validator for the JSON Schema subset our formats use.

Supported keywords: ``type`` (one or a list), ``properties``, ``required``, ``additionalProperties``
(false only), ``enum``, ``const``, ``pattern`` (full match), ``minLength``, ``maxLength``, ``minimum``,
``maximum``, ``items``, ``minItems``, ``maxItems``, ``uniqueItems``. Anything else in a schema is a
programming error, caught by :func:`check_schema` at import, so a schema can never quietly mean less than
it says (the documented schemas are exactly these).
"""

from __future__ import annotations

import re
from typing import Any

from detente.errors import MalformedError

Schema = dict[str, Any]

KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "pattern", "minLength",
    "maxLength", "minimum", "maximum", "items", "minItems", "maxItems", "uniqueItems", "description",
}  # fmt: skip

HEX64 = "^[0-9a-f]{64}$"
ID = "^[0-9a-f]{32}$"
TIME = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
PARTY = "^[A-Z]{2}$"
CLAUSE = "^(L[1-4]|R1|C0|M[1-6])$"
B64_32 = "^[A-Za-z0-9+/]{43}=$"
MAX_INT = 2**53 - 1  # RFC 8785 (I-JSON) safe integers


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


def _type_ok(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind == "integer":
        return False  # JSON true is not the number 1
    return isinstance(value, _TYPES[kind])


def check_schema(schema: Schema) -> None:
    """Refuse a schema that uses a keyword this validator does not implement."""
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise AssertionError(f"unsupported schema keywords: {sorted(unknown)}")
    for sub in schema.get("properties", {}).values():
        check_schema(sub)
    if "items" in schema:
        check_schema(schema["items"])


def validate(value: Any, schema: Schema, path: str = "$") -> None:
    """Validate ``value``; raise :class:`MalformedError` naming the first path that is wrong."""
    kinds = schema.get("type")
    if kinds is not None:
        options = kinds if isinstance(kinds, list) else [kinds]
        if not any(_type_ok(value, k) for k in options):
            raise MalformedError(f"{path} must be of type {' or '.join(options)}")
    if "const" in schema and value != schema["const"]:
        raise MalformedError(f"{path} must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise MalformedError(f"{path} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        _validate_string(value, schema, path)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not schema.get("minimum", -MAX_INT) <= value <= schema.get("maximum", MAX_INT):
            raise MalformedError(f"{path} is out of range")
    elif isinstance(value, dict):
        _validate_object(value, schema, path)
    elif isinstance(value, list):
        _validate_array(value, schema, path)


def _validate_string(value: str, schema: Schema, path: str) -> None:
    if len(value) > schema.get("maxLength", MAX_INT) or len(value) < schema.get("minLength", 0):
        raise MalformedError(
            f"{path} has a length outside {schema.get('minLength', 0)}..{schema['maxLength']}"
        )
    pattern = schema.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise MalformedError(f"{path} does not match {pattern}")


def _validate_object(value: dict[str, Any], schema: Schema, path: str) -> None:
    properties = schema.get("properties", {})
    missing = [k for k in schema.get("required", []) if k not in value]
    if missing:
        raise MalformedError(f"{path} lacks {', '.join(missing)}")
    if schema.get("additionalProperties") is False:
        extra = sorted(set(value) - set(properties))
        if extra:
            raise MalformedError(f"{path} has unknown fields: {', '.join(k[:40] for k in extra)}")
    for key, sub in properties.items():
        if key in value:
            validate(value[key], sub, f"{path}.{key}")


def _validate_array(value: list[Any], schema: Schema, path: str) -> None:
    if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", MAX_INT):
        raise MalformedError(f"{path} has {len(value)} items, outside the allowed range")
    if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
        raise MalformedError(f"{path} has duplicate items")
    if "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{path}[{i}]")
