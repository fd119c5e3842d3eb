"""The shift of an attack's origins against the traffic before it: the divergence and its words."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detente.monitor.shift import MIN_BEFORE, Rise, js_divergence, rising, sentences, shift

# JS({a: 1}, {a: 1/2, b: 1/2}) in bits, worked by hand: m = {a: 3/4, b: 1/4}
HALF_SPLIT = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5 * math.log2(2)) / 2


def _table(rows: list[tuple[str, int, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["src", "requests", "country", "asn"], orient="row")


def test_the_divergence_of_known_distributions() -> None:
    assert js_divergence({"a": 1.0}, {"a": 1.0}) == 0.0
    assert js_divergence({"a": 1.0}, {"b": 1.0}) == 1.0
    assert js_divergence({"a": 1.0}, {"a": 0.5, "b": 0.5}) == pytest.approx(HALF_SPLIT)
    assert round(HALF_SPLIT, 4) == 0.3113


SHARES = st.dictionaries(st.sampled_from("abcdef"), st.integers(1, 1000), min_size=1).map(
    lambda counts: {k: v / sum(counts.values()) for k, v in counts.items()}
)


@given(SHARES, SHARES)
def test_the_divergence_is_symmetric_bounded_and_zero_only_on_itself(
    p: dict[str, float], q: dict[str, float]
) -> None:
    d = js_divergence(p, q)
    assert 0.0 <= d <= 1.0
    assert d == pytest.approx(js_divergence(q, p))
    assert js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    if p.keys().isdisjoint(q.keys()):
        assert d == pytest.approx(1.0)


def test_rising_names_the_origins_that_gained_most_and_only_those() -> None:
    before = {"1": 0.9, "2": 0.1}
    during = {"1": 0.2, "2": 0.15, "3": 0.65}
    assert rising(before, during, {"3": "Three"}) == [Rise("3", "Three", 0.0, 0.65)]


def test_a_shift_against_the_minutes_before() -> None:
    before = _table([("10.0.0.1", 60, "DE", "1"), ("10.0.0.2", 40, "DE", "1")])
    attack = _table([("10.9.0.1", 50, "DE", "1"), ("10.9.0.2", 50, "DE", "2")])
    found = shift(attack, before, 29.6, {"1": "One", "2": "Two"})
    assert found is not None
    assert (found.minutes_before, found.requests_before) == (30, 100)
    assert found.territory_divergence == 0.0
    assert found.network_divergence == round(HALF_SPLIT, 4)
    assert found.rising == [Rise("2", "Two", 0.0, 0.5)]
    words = " ".join(sentences(found))
    assert "100 requests in the 30 minute(s)" in words
    assert "0.31 by network and 0.00 by territory" in words
    assert "AS2 carried 50% of the attack's requests against 0%" in words
    assert "Two" not in words  # an organisation may be a person: the reasons name networks by number


def test_the_reasons_never_name_a_network_s_organisation() -> None:
    person = "Mr David John Benwell"
    before = _table([("10.0.0.1", 200, "GB", "1")])
    attack = _table([("10.9.0.1", 100, "GB", "64500")])
    found = shift(attack, before, 30, {"1": "One", "64500": person})
    assert found is not None
    assert found.rising == [Rise("64500", person, 0.0, 1.0)]  # kept for the reviewer, in the JSON
    words = " ".join(sentences(found))
    assert "AS64500 carried 100%" in words
    assert "Benwell" not in words


def test_too_little_traffic_before_is_said_not_measured() -> None:
    before = _table([("10.0.0.1", MIN_BEFORE - 1, "DE", "1")])
    attack = _table([("10.9.0.1", 500, "FR", "2")])
    assert shift(attack, before, 30, {}) is None
    assert shift(attack, before.clear(), 30, {}) is None
    assert sentences(None) == [
        "Too little traffic before the attack to compare its origins with the usual ones."
    ]


def test_an_unknown_network_is_not_called_as0() -> None:
    before = _table([("10.0.0.1", 200, "DE", "1")])
    attack = _table([("10.9.0.1", 100, "ZZ", "0")])
    found = shift(attack, before, 30, {"0": "unknown"})
    assert found is not None
    assert "Addresses of no known network carried 100%" in " ".join(sentences(found))
