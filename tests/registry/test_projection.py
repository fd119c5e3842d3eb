"""The projection: rebuilt from scratch equals incremental; the queries over the example record."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from detente.accords import acts
from detente.accords.exchange import Phase
from detente.accords.projection import Projection
from detente.registry.views import exchange_json
from detente.statements.canonical import format_time, sha256_hex
from tests.accords.world import world, xid
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


def _brute_force_in_force(p: Projection, a: str, b: str, at: datetime) -> list[str]:
    """The declarations in force between ``a`` and ``b``, read from every declaration in log order."""
    pairs = ((a, b), (b, a), (a, None), (b, None))
    return [d.did for d in p.declarations.values() if (d.party, d.to) in pairs and d.in_force(at)]


PARTIES = ("RU", "US", "FR", "DE")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(PARTIES), st.sampled_from((*PARTIES, None)), st.integers(-3, 3)),
        min_size=1,
        max_size=12,
    ),
    st.sets(st.integers(0, 11)),
)
def test_in_force_between_reads_only_the_two_parties_declarations_with_the_same_result(
    declared: list[tuple[str, str | None, int]], terminated: set[int]
) -> None:
    """Declarations by every party, some to one party, some to all, some not yet effective, some
    terminated: the indexed query gives what a walk over every declaration gives, in log order."""
    w = world(PARTIES)
    for n, (party, to, days) in enumerate(declared):
        if to == party:
            to = None
        text = f"declaration {n}".encode()
        effective = format_time(w.clock.now + timedelta(days=days))
        st_ = acts.declaration(
            w.parties[party].fm, w.clock.text(), did=xid(f"d{n}"), to=to, clauses=["L1"],
            summary="s", text=sha256_hex(text), effective=effective, notice_days=0,
        )  # fmt: skip
        w.registry.submit(st_.envelope.encode(), [text])
        if n in terminated and days <= 0:
            end = acts.termination(
                w.parties[party].fm, w.clock.text(), ref=xid(f"d{n}"), summary="s",
                effective=format_time(w.clock.now + timedelta(days=1)),
            )  # fmt: skip
            w.registry.submit(end.envelope.encode())
    p = w.registry.projection
    for at in (w.clock.now - timedelta(days=4), w.clock.now, w.clock.now + timedelta(days=2)):
        for a in PARTIES:
            for b in PARTIES:
                assert p.in_force_between(a, b, at) == _brute_force_in_force(p, a, b, at)
