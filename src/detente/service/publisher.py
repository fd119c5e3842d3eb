"""Publishing checkpoints to witnesses: at most one round every ``interval`` seconds, whatever the
batch rate, always with the newest checkpoint; the cosigned note is what ``/checkpoint`` serves.

:meth:`CheckpointPublisher.maybe_publish` does one round if one is due (clock injected, no thread);
:meth:`CheckpointPublisher.run` is the background loop that the service starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from detente.service.wake import Wake
from detente.tlog.note import split_note
from detente.witness.client import ProofFrom, WitnessClient

Latest = Callable[[], tuple[str, int, ProofFrom]]  # (signed checkpoint, size, proof from an old size)


@dataclass
class CheckpointPublisher:
    """Sends the newest checkpoint to the witnesses, rate-limited, and keeps the cosigned result."""

    client: WitnessClient
    latest: Latest
    interval: float = 5.0
    clock: Callable[[], float] = time.monotonic
    problems: list[str] = field(default_factory=list)
    _cosigned: dict[str, str] = field(default_factory=dict)
    _last_round: float | None = None
    wake: Wake = field(default_factory=Wake)

    def cosigned(self, note: str) -> str:
        """The note with the witness cosignatures gathered for its text, if any."""
        text, _ = split_note(note)
        return self._cosigned.get(text, note)

    def due_in(self) -> float:
        """Seconds until the next round may start (0: now)."""
        if self._last_round is None:
            return 0.0
        return max(0.0, self._last_round + self.interval - self.clock())

    def maybe_publish(self) -> bool:
        """Publish the newest checkpoint if a round is due and it is not published yet."""
        note, size, proof_from = self.latest()
        text, _ = split_note(note)
        if text in self._cosigned or self.due_in() > 0:
            return False
        self._last_round = self.clock()
        cosigned, problems = self.client.cosign(note, size, proof_from)
        self._cosigned = {text: cosigned}  # only the newest checkpoint is served
        self.problems = problems
        return True

    def notify(self) -> None:
        """A new checkpoint exists (called by the writer after each batch)."""
        self.wake.notify()

    def run(self) -> None:
        """Background loop: publish on notice, never more often than ``interval``."""
        self.wake.loop(self._round, "a witness round")

    def _round(self) -> None:
        wait = self.due_in()
        if wait > 0 and not self.wake.sleep(wait):
            return
        self.maybe_publish()

    def stop(self) -> None:
        """End the background loop."""
        self.wake.stop()
