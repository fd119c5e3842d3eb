"""The browser's schema validator (web/static/schema.js) says what Python's says: the same verdict and
the same message, on every golden payload, on golden payloads with random parts replaced, removed or
added (the values tests/statements/test_schema_compiler.py holds the compiler to), and on named cases
(ADR 0009). Values reach Node.js as JSON, as a payload's do: integers beyond the safe range are sent as
2**53 (beyond it still, exact in both languages), and object keys in one order.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detente.statements.kinds import KINDS, PAYLOAD_SCHEMAS, header_schema
from detente.statements.schema import MAX_INT
from detente.web.registrypages import bundle_rules
from tests.conftest import ROOT
from tests.statements.test_schema_compiler import GOLDEN, mutated, verdict
from tests.web.node import run_in_node

MODULE = ROOT / "src/detente/web/static/schema.js"
RUNNER = Path(__file__).with_name("run_schema.mjs")
Case = tuple[str, Any]


def as_sent(value: Any) -> Any:
    """``value`` as JSON carries it to Node.js: unsafe integers at 2**53 (or its negative), keys sorted."""

    def clamp(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: clamp(v) for k, v in item.items()}
        if isinstance(item, list):
            return [clamp(v) for v in item]
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
            return (MAX_INT + 1) * (1 if item > 0 else -1)
        return item

    return json.loads(json.dumps(clamp(value), sort_keys=True))


def both(cases: list[Case], tmp: Path) -> tuple[list[str | None], list[str | None]]:
    """Python's and the browser's messages for each ``(kind, payload value)`` (None: it passes)."""
    values = [(kind, as_sent(value)) for kind, value in cases]
    python = [verdict(PAYLOAD_SCHEMAS[kind], value) for kind, value in values]
    messages = bundle_rules()["patternMessages"]  # as the verify page hands them over
    sent = [{"value": value, "schema": header_schema(kind), "messages": messages} for kind, value in values]
    return python, [r["error"] for r in run_in_node(RUNNER, MODULE, sent, tmp)]


def test_every_golden_payload_passes(tmp_path: Path) -> None:
    python, browser = both([(kind, GOLDEN[kind]) for kind in KINDS], tmp_path)
    assert python == browser == [None] * len(KINDS)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.data_too_large])
@given(st.lists(mutated(), min_size=1, max_size=40))
def test_mutated_payloads_get_the_same_verdict_and_message(
    tmp_path_factory: pytest.TempPathFactory, cases: list[Case]
) -> None:
    python, browser = both(cases, tmp_path_factory.mktemp("schema"))
    assert browser == python


def _with(kind: str, **body: Any) -> Case:
    value = copy.deepcopy(GOLDEN[kind])
    value["body"].update(body)
    return kind, value


def _keys_twice() -> Case:
    value = copy.deepcopy(GOLDEN["keyset"])
    value["body"]["keys"] *= 2
    return "keyset", value


NAMED: dict[str, Case] = {
    "4,000 characters beyond the BMP": _with("reply", summary="\U0001f54a" * 4000),
    "4,001 characters beyond the BMP": _with("reply", summary="\U0001f54a" * 4001),
    "a pattern's $ before a final newline": ("reply", {**GOLDEN["reply"], "party": "RU\n"}),
    "true for an integer": _with("declaration", notice_days=True),
    "a duplicate item": _with("declaration", clauses=["L1", "L1"]),
    "a duplicate object item": _keys_twice(),
    "unknown fields named by code point, 40 at most": _with(
        "reply", **{"\U0001f54a": 1, "\uffff": 2, "z" * 50: 3}
    ),
    "fields named as Object's own": _with("reply", constructor=1, __proto__=2, hasOwnProperty=3),
    "a missing field beside Object's own names": (
        "reply",
        {**GOLDEN["reply"], "body": {"toString": 1, "constructor": 2}},
    ),
    "a decision by a name too long": ("decision", {**GOLDEN["decision"], "party": "n" * 64}),
    "the wrong kind": ("offer", {**GOLDEN["offer"], "kind": "counter"}),
    "an unknown position": _with("reply", position="maybe"),
    "a day the calendar does not hold": ("reply", {**GOLDEN["reply"], "issued": "2018-02-30T09:00:00Z"}),
    "29 February of a leap year": ("reply", {**GOLDEN["reply"], "issued": "2016-02-29T09:00:00Z"}),
    "a deadline in year 0": _with("offer", deadline="0000-01-01T00:00:00Z"),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_named_cases(tmp_path: Path, name: str) -> None:
    python, browser = both([NAMED[name]], tmp_path)
    assert browser == python


def test_a_keyword_it_does_not_implement_is_refused(tmp_path: Path) -> None:
    schemas = [{"type": "string", "format": "date-time"}, {"enum": [1]}, {"type": "number"}]
    results = run_in_node(RUNNER, MODULE, [{"value": "x", "schema": s} for s in schemas], tmp_path)
    assert all("supported" in str(r["error"]) for r in results), results
