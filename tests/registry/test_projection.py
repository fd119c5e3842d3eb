"""The projection: rebuilt from scratch equals incremental; the queries over the example record."""

from __future__ import annotations

from dataclasses import fields

from detente.accords.exchange import Phase
from detente.accords.projection import Projection
from detente.registry.views import exchange_json
from tests.registry.example_world import example


def _state(p: Projection) -> dict[str, object]:
    return {f.name: getattr(p, f.name) for f in fields(p) if f.name != "blobs"}


def test_rebuilt_from_scratch_equals_incremental() -> None:
    registry, _, _ = example()
    incremental = registry.projection
    registry.rebuild()
    assert registry.projection is not incremental
    assert _state(registry.projection) == _state(incremental)


def test_example_record_queries() -> None:
    registry, record, clock = example()
    p = registry.projection
    ids = record.ids
    assert p.exchanges[ids["exchange-1933"]].phase == Phase.CONCLUDED
    assert p.exchanges[ids["offer-2017"]].phase == Phase.REFUSED
    assert p.exchanges[ids["offer-2018"]].phase == Phase.REFUSED
    assert p.in_force_between("SU", "US", clock.now) == [ids["exchange-1933"]]
    assert p.in_force_between("RU", "US", clock.now) == [ids["declaration-2018"]]
    assert p.clauses_in_force("SU", "US", clock.now) == [
        "L1",
        "L2",
        "L3",
        "L4",
        "R1",
    ]  # C0 is the condition, not a pledge
    offers = p.offers_and_refusals("RU")
    assert [a.kind for a in offers] == ["offer", "offer"]
    assert [a.issued[:4] for a in offers] == [
        "2017",
        "2018",
    ]
    assert [a.kind for a in p.offers_and_refusals("US")] == ["refuse", "refuse"]
    kinds = [a.kind for a in p.timeline("RU", "US")]
    assert kinds == ["offer", "refuse", "offer", "refuse", "declaration"]
    assert [a.kind for a in p.timeline("SU", "US")] == [
        "offer",
        "accept",
        "reveal",
        "reveal",
        "protest",
        "reply",
    ]
    assert p.protests[ids["protest-1935"]].reply is not None


def test_an_exchange_keeps_its_offers_own_date_beside_the_time_it_was_logged() -> None:
    registry, record, _clock = example()
    ex = registry.projection.exchanges[record.ids["exchange-1933"]]
    shown = exchange_json(ex)
    assert shown["dated"].startswith("1933-11-")  # the date of Litvinov's note, as signed
    assert shown["opened"].startswith("2026-01-01")  # the replay: received, not backdated
