"""The compiled schemas say exactly what the interpreter they replaced said: same verdict, same message.

The interpreter is kept as an oracle in ``schema_oracle.py``. Values are the golden statements' payloads
with random parts replaced, removed or added, and random values against random schemas of the subset.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import MalformedError
from detente.statements.kinds import KINDS, PAYLOAD_SCHEMAS, header_schema
from detente.statements.schema import MAX_INT, TIME, Schema, compile_schema, validate
from tests.statements.golden import golden_statements
from tests.statements.schema_oracle import reference_validate

GOLDEN = {s.kind: json.loads(s.envelope.payload) for s in golden_statements()}

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.sampled_from(["", "RU", "ru", "RU\n", "0" * 32, "f" * 64, "2018-06-07T09:00:00Z", "accepts", "L1"])
    | st.just("x" * 300)
    | st.text(max_size=8)
)
VALUES = st.recursive(
    SCALARS,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=8,
)


def verdict(check: Any, *args: Any) -> str | None:
    """The message a validator raises, or None when the value passes."""
    try:
        check(*args)
    except MalformedError as exc:
        return str(exc)
    return None


def _containers(value: Any) -> list[Any]:
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list):
            found.append(item)
            stack.extend(item.values() if isinstance(item, dict) else item)
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    """A kind and its golden payload with up to three random changes."""
    kind = draw(st.sampled_from(KINDS))
    value = copy.deepcopy(GOLDEN[kind])
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(_containers(value)))
        if isinstance(target, dict):
            keys = sorted(target)
            action = draw(st.sampled_from(["replace", "remove", "add"] if keys else ["add"]))
            if action == "add":
                target[draw(st.text(max_size=6))] = draw(VALUES)
                continue
            key = draw(st.sampled_from(keys))
            if action == "remove":
                del target[key]
            else:
                target[key] = draw(VALUES)
        elif target:
            target[draw(st.integers(0, len(target) - 1))] = draw(VALUES)
        else:
            target.append(draw(VALUES))
    return kind, value


@settings(max_examples=600)
@given(mutated())
def test_compiled_payload_schemas_match_the_interpreter(case: tuple[str, Any]) -> None:
    kind, value = case
    expected = verdict(reference_validate, value, header_schema(kind))
    assert verdict(PAYLOAD_SCHEMAS[kind], value) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_every_golden_payload_passes(kind: str) -> None:
    assert verdict(PAYLOAD_SCHEMAS[kind], GOLDEN[kind]) is None


TYPES = ["object", "array", "string", "integer", "boolean", "null"]


def _leaf_schema(draw: st.DrawFn) -> Schema:
    schema: Schema = {}
    several = st.lists(st.sampled_from(TYPES), min_size=1, max_size=3)
    kinds = draw(st.none() | st.sampled_from(TYPES) | several)
    if kinds is not None:
        schema["type"] = kinds
    if draw(st.booleans()):
        schema["maxLength"] = draw(st.integers(0, 10))
        if draw(st.booleans()):
            schema["minLength"] = draw(st.integers(0, 10))
    if draw(st.booleans()):
        schema["pattern"] = draw(st.sampled_from(["^[a-z]*$", "^[A-Z]{2}$", "[0-9]+"]))
    for name, low, high in (("minimum", -5, 5), ("maximum", -5, 5), ("minItems", 0, 3), ("maxItems", 0, 3)):
        if draw(st.booleans()):
            schema[name] = draw(st.integers(low, high))
    if draw(st.booleans()):
        schema["uniqueItems"] = draw(st.booleans())
    if draw(st.integers(0, 5)) == 0:
        schema["enum"] = draw(st.lists(SCALARS, min_size=1, max_size=3))
    if draw(st.integers(0, 5)) == 0:
        schema["const"] = draw(SCALARS)
    return schema


@st.composite
def schemas(draw: st.DrawFn, depth: int = 2) -> Schema:
    """A random schema of the subset (strings with a minimum length always name a maximum)."""
    schema = _leaf_schema(draw)
    if depth and draw(st.booleans()):
        properties = draw(st.dictionaries(st.sampled_from("abcd"), schemas(depth - 1), max_size=3))
        schema["properties"] = properties
        schema["required"] = draw(st.lists(st.sampled_from("abcde"), unique=True, max_size=3))
        if draw(st.booleans()):
            schema["additionalProperties"] = False
    if depth and draw(st.booleans()):
        schema["items"] = draw(schemas(depth - 1))
    return schema


@settings(max_examples=800)
@given(schemas(), VALUES | st.dictionaries(st.sampled_from("abcde"), VALUES, max_size=5))
def test_compiled_random_schemas_match_the_interpreter(schema: Schema, value: Any) -> None:
    assert verdict(validate, value, schema) == verdict(reference_validate, value, schema)


def test_a_failure_deep_in_an_array_names_its_whole_path() -> None:
    incident = copy.deepcopy(GOLDEN["incident"])
    good, bad = {"asn": 1, "name": "a", "requests": 1}, {"asn": -1, "name": "b", "requests": 1}
    incident["body"]["networks"] = [good, bad]
    with pytest.raises(MalformedError, match=r"^\$\.body\.networks\[1\]\.asn is out of range$"):
        PAYLOAD_SCHEMAS["incident"](incident)
    with pytest.raises(MalformedError, match=r"^x\.body\.networks\[1\]\.asn is out of range$"):
        PAYLOAD_SCHEMAS["incident"](incident, "x")


def test_an_unknown_keyword_cannot_be_compiled() -> None:
    with pytest.raises(AssertionError, match="format"):
        compile_schema({"type": "string", "format": "date-time"})


def test_integers_are_checked_against_the_safe_range_without_a_schema_range() -> None:
    with pytest.raises(MalformedError, match="out of range"):
        validate(MAX_INT + 1, {"type": "integer"})


def test_a_minimum_length_alone_is_enforced() -> None:
    # The interpreter crashed here (its message read maxLength); the compiler names the implied maximum.
    with pytest.raises(MalformedError, match=rf"^\$ has a length outside 2\.\.{MAX_INT}$"):
        validate("a", {"type": "string", "minLength": 2})


def test_the_time_pattern_holds_exactly_the_days_of_the_calendar() -> None:
    """29 February of every year 0-9999 (the Gregorian leap rule, and no year 0), and every month and
    day number 0-32 of years around each rule's edge, against Python's calendar."""
    matches = re.compile(TIME).fullmatch

    def real(year: int, month: int, day: int) -> bool:
        try:
            datetime(year, month, day)
        except ValueError:
            return False
        return True

    days = [(y, 2, 29) for y in range(10000)]
    days += [
        (y, m, d)
        for y in (0, 1, 4, 100, 400, 1900, 2000, 2018, 2100, 9999)
        for m in range(14)
        for d in range(33)
    ]
    wrong = [
        (y, m, d)
        for y, m, d in days
        if (matches(f"{y:04d}-{m:02d}-{d:02d}T00:00:00Z") is not None) != real(y, m, d)
    ]
    assert wrong == []
