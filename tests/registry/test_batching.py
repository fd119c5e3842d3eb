"""The writer's batches are invisible: any grouping of the same requests gives the same outcomes and log.

The single writer checks each request against the projection as the requests before it left it, in
sequence order, whether they came in one batch or in many (ARCHITECTURE.md, "The record"). So a
statement's acceptance, its refusal's message and every logged byte must not depend on how the
requests happened to be grouped. Two sequences of requests: the example record's (keysets, the 1933
exchange, offers and refusals, a declaration, a protest and its reply, terms and texts as blobs) and
one of contested exchanges (an abort and a resolve racing, a late acceptance, an offer citing a stored
blob, the notary's decisions), each with replays and swaps mixed in so that more are refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from detente.accords import acts
from detente.errors import DetenteError
from detente.registry.core import Registry, Request, Result
from detente.registry.example import build_example
from tests.accords.world import START, Clock, new_registry, rand, world
from tests.registry.example_world import seeded

REPLAYED = datetime(2026, 1, 1, tzinfo=UTC)  # when the example is replayed


@cache
def example_requests() -> tuple[Request, ...]:
    """The requests that build the example record, as its builder submitted them."""
    registry = new_registry(Clock(REPLAYED))
    submitted: list[Request] = []
    submit_batch = registry.submit_batch

    def recording(requests: Sequence[Request]) -> list[Result]:
        submitted.extend(requests)
        return submit_batch(requests)

    registry.submit_batch = recording  # type: ignore[method-assign]
    build_example(registry, seeded("example"))
    return tuple(submitted)


@cache
def contested_requests() -> tuple[Request, ...]:
    """Keysets, then exchanges whose parties race, retract and cite stored blobs (at :data:`START`)."""
    w = world()
    ru, us, fr = (w.parties[p].fm for p in ("RU", "US", "FR"))
    now = w.clock.text()
    m1, na, doc = w.offer("RU", "US", "raced")
    m2 = acts.accept(us, now, m1, rand("raced accept"))
    o2, _, doc2 = w.offer("RU", "FR", "aborted")
    o3, _, _ = w.offer("RU", "US", "cites the stored terms", doc=doc)
    acts_in_order = [
        (m1, (doc,)), (m2, ()), (acts.resolve(us, now, m1, m2), ()), (acts.abort(ru, now, m1), ()),
        (acts.reveal(ru, now, m1, na), ()), (o2, (doc2,)), (acts.abort(ru, now, o2), ()),
        (acts.accept(fr, now, o2, rand("late accept")), ()), (o3, ()),
    ]  # fmt: skip
    keysets = [Request(k.envelope.encode(), (), True) for k in w.keysets.values()]
    return (*keysets, *(Request(st.envelope.encode(), blobs) for st, blobs in acts_in_order))


SOURCES = {"example": (example_requests, REPLAYED), "contested": (contested_requests, START)}


def _outcome(result: Result) -> tuple[object, ...]:
    """A result without its signed checkpoint (which covers the batch, so differs by grouping)."""
    if isinstance(result, DetenteError):
        return type(result).__name__, str(result)
    return result.index, result.sid, result.kind, result.decision


def _run(batches: list[list[Request]], now: datetime) -> tuple[list[tuple[object, ...]], list[bytes]]:
    registry: Registry = new_registry(Clock(now))
    outcomes = [_outcome(r) for batch in batches for r in registry.submit_batch(batch)]
    return outcomes, registry.log.entries(0, registry.log.size)


@st.composite
def sequences(draw: st.DrawFn) -> tuple[list[Request], datetime]:
    """A sequence's requests with a few replays of earlier ones and a few neighbours swapped, and the
    time its registry's clock shows."""
    requests, now = SOURCES[draw(st.sampled_from(sorted(SOURCES)))]
    sequence = list(requests())
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(1, len(sequence)))
        sequence.insert(at, sequence[draw(st.integers(0, at - 1))])
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(sequence) - 2))
        sequence[at], sequence[at + 1] = sequence[at + 1], sequence[at]
    return sequence, now


@settings(max_examples=80, deadline=None)
@given(sequences(), st.data())
def test_any_grouping_gives_the_outcomes_and_log_of_one_request_a_batch(
    case: tuple[list[Request], datetime], data: st.DataObject
) -> None:
    sequence, now = case
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(sequence) - 1), max_size=8))))
    bounds = [0, *cuts, len(sequence)]
    batches = [sequence[a:b] for a, b in itertools.pairwise(bounds)]
    assert _run(batches, now) == _run([[r] for r in sequence], now)


def test_the_sequences_hold_many_kinds_blobs_decisions_and_refusals() -> None:
    outcomes, _ = _run([list(example_requests())], REPLAYED)
    kinds = {outcome[2] for outcome in outcomes}
    assert {"keyset", "offer", "accept", "reveal", "refuse", "declaration", "protest", "reply"} <= kinds
    assert any(r.blobs for r in example_requests())
    outcomes, entries = _run([list(contested_requests())], START)
    receipts = [o for o in outcomes if not isinstance(o[0], str)]
    assert [o[3] for o in receipts if o[2] in ("abort", "resolve")] == ["resolved", "aborted"]
    refused = [str(o[1]) for o in outcomes if isinstance(o[0], str)]
    assert len(refused) == 2
    assert "already decided" in refused[0]
    assert "no longer possible" in refused[1]
    assert outcomes[-1][2] == "offer"  # the stored terms found without being supplied again
    assert len(entries) == len(receipts) + 2  # and the notary's two decisions
