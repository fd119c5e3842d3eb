"""Webhooks: a party's receiver hears of an offer addressed to it, once, and a failed delivery is retried."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from detente.errors import ConfigError
from detente.service.home import Settings
from detente.service.wake import Wake
from detente.service.webhooks import Webhook
from tests.httpserver import serve
from tests.service.scene import scene


class Receiver:
    """A party's endpoint: records every notification; can be told to fail."""

    def __init__(self) -> None:
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.failing = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            if self.failing:
                return Response(status_code=503)
            self.received.put(await request.json())
            return Response(status_code=204)

        return app


PUBLIC = "http://registry.test"  # where the receivers would reach the registry


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with serve(r.app()) as url:
        yield r, f"{url}/hook"


def test_an_addressee_hears_of_an_offer_and_only_once(tmp_path: Path, receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    settings = Settings(webhooks=(Webhook(url, "FR"),), public_url=PUBLIC)
    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}", settings, record=False) as s:
        m1, _, doc = s.offer("US", "FR", "to-fr")
        receipt = s.submit(m1, doc)
        acts: list[dict[str, Any]] = []
        while receipt.index not in [a["index"] for a in acts]:
            note = r.received.get(timeout=30)  # the background thread delivers after each batch
            assert note["party"] == "FR"
            acts += note["acts"]
        assert s.service.webhooks is not None
        assert s.service.webhooks.deliver() == 0, "nothing new: nothing is delivered twice"
        while not r.received.empty():
            acts += r.received.get_nowait()["acts"]
        offers = [a for a in acts if a["kind"] == "offer"]
        assert [(a["party"], a["counterparty"], a["index"]) for a in offers] == [("US", "FR", receipt.index)]
        assert all(a["party"] == "FR" or a["counterparty"] in ("FR", None) for a in acts)
        assert all(a["entry"] == f"{PUBLIC}/log/entry?index={a['index']}" for a in acts), (
            "links a receiver follows"
        )


def test_a_failed_delivery_is_retried(tmp_path: Path, receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    settings = Settings(webhooks=(Webhook(url, "FR"),), public_url=PUBLIC)
    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}", settings, record=False) as s:
        notifier = s.service.webhooks
        assert notifier is not None
        notifier.stop()  # drive deliveries by hand
        notifier.deliver()
        while not r.received.empty():
            r.received.get()
        r.failing = True
        m1, _, doc = s.offer("US", "FR", "retry")
        s.submit(m1, doc)
        assert notifier.deliver() == 0
        r.failing = False
        assert notifier.deliver() == 1
        assert r.received.get_nowait()["acts"][0]["kind"] == "offer"


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"webhooks": (Webhook("http://127.0.0.1:9/hook", "FR"),)}, "webhooks need public_url"),
        ({"public_url": "registry.example.org"}, "must be an http"),
        ({"public_url": "https://registry.example.org/"}, "without a trailing slash"),
        ({"public_url": "https://registry.example.org/?x=1"}, "must be an http"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_a_reason(settings: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        Settings(**settings)
    assert Settings(public_url="https://registry.example.org/detente").public_url.endswith("/detente")


def test_a_failed_round_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    """A round that raises (a hook's malformed address, a damaged state file, a full disk) ended the
    webhooks' or the publisher's thread for good, silently; the next batch now tries again."""
    wake, first_done = Wake(), threading.Event()
    rounds: list[int] = []

    def step() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            first_done.set()
            raise OSError("no space left on device")
        wake.stop()

    worker = threading.Thread(target=wake.loop, args=(step, "a test round"))
    worker.start()
    wake.notify()
    assert first_done.wait(timeout=60), "the worker never ran"  # a bound on a hang, not a timing
    wake.notify()
    worker.join(timeout=60)
    assert rounds == [0, 1], "the worker died with its first round"
    assert not worker.is_alive()
    assert "a test round failed; tried again after the next batch" in caplog.text
