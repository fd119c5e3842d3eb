"""Stop the service in the middle of submissions and start it again: nothing acknowledged is lost."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

from detente.errors import ConflictError
from detente.registry.core import Receipt, Registry, Request
from detente.service.core import RegistryService
from tests.accords.world import Clock
from tests.service.scene import Scene, make_home


def test_restart_in_the_middle_of_submissions_loses_nothing_acknowledged(
    tmp_path: Path, store_url: str
) -> None:
    clock = Clock()
    home = make_home(tmp_path, store_url)
    acknowledged: list[Receipt] = []
    refused: list[Exception] = []
    with RegistryService.open(home, clock) as service:
        service.start(lapse_timer=False, publish=False)
        s = Scene(home, service, clock)
        s.register_all()
        offers = [s.offer("RU", "US", f"restart {i}") for i in range(200)]
        halfway = threading.Event()

        def submit_all() -> None:
            for n, (m1, _, doc) in enumerate(offers):
                if n == 50:
                    halfway.set()
                try:
                    done = service.submit(Request(m1.envelope.encode(), (doc,))).result()
                except ConflictError as exc:  # the writer is stopping: not acknowledged
                    refused.append(exc)
                    continue
                assert isinstance(done, Receipt)
                acknowledged.append(done)

        worker = threading.Thread(target=submit_all)
        worker.start()
        halfway.wait()
    worker.join()  # the service closed while submissions were still coming
    assert len(acknowledged) >= 50
    assert len(acknowledged) + len(refused) == 200
    assert refused, "the stop happened in the middle of the submissions"
    with RegistryService.open(home, clock) as again:
        again.start(lapse_timer=False, publish=False)
        for receipt in acknowledged:
            entry = again.read(partial(Registry.entry, index=receipt.index))
            assert entry.statement.sid == receipt.sid
        assert again.read(lambda reg: reg.log.size) == 3 + len(acknowledged)
        retry = offers[len(acknowledged)]
        assert isinstance(again.submit(Request(retry[0].envelope.encode(), (retry[2],))).result(), Receipt)
