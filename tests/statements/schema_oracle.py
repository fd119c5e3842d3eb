"""The schema interpreter as it stood before schemas were compiled: the oracle the compiler is held to.

Kept only in the tests: :func:`reference_validate` must raise exactly when, and with exactly the message
that, :func:`detente.statements.schema.compile_schema` does (see ``test_schema_compiler.py``).
"""

from __future__ import annotations

import re
from typing import Any

from detente.errors import MalformedError
from detente.statements.schema import _TYPES, MAX_INT, Schema, mismatch  # the same type table as the compiler


def _type_ok(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind == "integer":
        return False  # JSON true is not the number 1
    return isinstance(value, _TYPES[kind])


def reference_validate(value: Any, schema: Schema, path: str = "$") -> None:
    """The old interpreter: raise :class:`MalformedError` naming the first path that is wrong."""
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
        raise MalformedError(f"{path}{mismatch(pattern)}")


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
            reference_validate(value[key], sub, f"{path}.{key}")


def _validate_array(value: list[Any], schema: Schema, path: str) -> None:
    if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", MAX_INT):
        raise MalformedError(f"{path} has {len(value)} items, outside the allowed range")
    if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
        raise MalformedError(f"{path} has duplicate items")
    if "items" in schema:
        for i, item in enumerate(value):
            reference_validate(item, schema["items"], f"{path}[{i}]")
