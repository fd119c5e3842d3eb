"""The writer checks and appends a batch with the garbage collector paused, and gives it back as it was;
a burst of waiting submissions sets off no collection in a registry's process."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from detente.registry.core import Registry, Request, Result
from detente.service.core import collector_paused, tune_collector
from detente.tlog.sequencer import GroupCommit
from tests.service.scene import incident, scene


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("a batch that fails")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_the_writer_appends_a_batch_with_the_collector_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    submit_batch = Registry.submit_batch

    def watched(registry: Registry, requests: Sequence[Request]) -> list[Result]:
        seen.append(gc.isenabled())
        return submit_batch(registry, requests)

    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}", record=False) as s:
        monkeypatch.setattr(Registry, "submit_batch", watched)
        st = incident(s.keys["RU"].certs, 1, s.clock.text())
        s.service.submit(Request(st.envelope.encode())).result()
        assert seen == [False]
        assert gc.isenabled()


@pytest.fixture
def tuned() -> Iterator[None]:
    """The collector as a registry's process sets it, then as it was."""
    threshold = gc.get_threshold()
    tune_collector()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector_on", "tuned")
def test_a_burst_of_waiting_submissions_sets_off_no_collection() -> None:
    """20,000 submissions queued for the writer, each with its future, none answered yet."""
    started: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    writer: GroupCommit[Request, object] = GroupCommit(lambda batch: list(batch))  # not started
    gc.callbacks.append(watch)
    try:
        waiting = [writer.submit(Request(b"%d" % n)) for n in range(20_000)]
    finally:
        gc.callbacks.remove(watch)
    writer.close()
    assert len(waiting) == 20_000
    assert started == []
