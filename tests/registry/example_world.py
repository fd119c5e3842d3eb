"""The example record over an in-memory registry, with deterministic randomness (tests only)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from datetime import UTC, datetime

from detente.registry.core import Registry
from detente.registry.example import ExampleRecord, build_example
from tests.accords.world import Clock, new_registry


def seeded(label: str) -> Callable[[int], bytes]:
    counter = itertools.count()

    def random(n: int) -> bytes:
        return hashlib.sha256(f"{label} {next(counter)}".encode()).digest()[:n]

    return random


def example() -> tuple[Registry, ExampleRecord, Clock]:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))  # the replay happens now; issued dates are historical
    registry = new_registry(clock)
    return registry, build_example(registry, seeded("example")), clock
