"""A background worker's wake-up and stop signals, shared by the witness publisher and the webhooks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("detente.service")


@dataclass
class Wake:
    """Wakes a worker thread on notice; stopping also wakes it, so it never hangs on shutdown."""

    _event: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def notify(self) -> None:
        """There is new work."""
        self._event.set()

    def stop(self) -> None:
        """End the loop (and any sleep in it)."""
        self._stop.set()
        self._event.set()

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; return whether the worker should go on."""
        return not self._stop.wait(seconds)

    def loop(self, step: Callable[[], object], what: str) -> None:
        """Run ``step`` after every notice until stopped. A step that fails is logged as ``what`` and
        tried again on the next notice: one bad round (a hook's malformed address, a full disk) must not
        end the worker for good while the service runs on."""
        while not self._stop.is_set():
            self._event.wait()
            self._event.clear()
            if self._stop.is_set():
                return
            try:
                step()
            except Exception:
                log.exception("%s failed; tried again after the next batch", what)
