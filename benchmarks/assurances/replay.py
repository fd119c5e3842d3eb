"""Replaying a registry's log into its projection, as ``detente serve`` does at start-up.

Run: ``python -m benchmarks.assurances.replay [--statements 20000]``. A registry on SQLite gets one party
and ``--statements`` incidents (signed first, submitted through ``Registry.submit_batch`` in batches of
1,000); then ``Registry.rebuild`` (read every entry checked against the tree, decode it, apply it to a
new projection) is timed as it runs, against the same replay with every entry decoded strictly
(``LogEntry.decode_strictly``, the reading before the twentieth session) and against reading the
entries alone (``Log.entries``, the raw cost of getting the checked bytes): medians of 3 rounds. Also
printed: decoding one entry both ways, best of 5 repeats over every entry.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.assurances.submit_rate import _incident, ru_keyset
from detente.registry.core import Registry, Request
from detente.registry.entry import LogEntry
from detente.service.core import RegistryService
from detente.service.home import ServiceHome, Settings
from detente.statements.canonical import format_time


def populated(folder: Path, statements: int) -> RegistryService:
    """A service (not started) whose registry holds one party's keyset and ``statements`` incidents."""
    home = ServiceHome(folder)
    home.init(Settings(rate=1e9, burst=1e9, wait=30.0))
    service = RegistryService.open(home, verifiers=0)
    now = format_time(datetime.now(UTC))
    keyset, cert = ru_keyset(now)
    service.registry.submit_batch([Request(keyset, (), True)])
    envelopes = [_incident(cert, n, now) for n in range(statements)]
    for start in range(0, statements, 1000):
        results = service.registry.submit_batch([Request(e) for e in envelopes[start : start + 1000]])
        if any(isinstance(r, Exception) for r in results):
            raise SystemExit("a prepared statement was refused: the benchmark's statements are out of date")
    return service


def median_seconds(step: Callable[[], object], rounds: int = 3) -> float:
    """Median wall time of ``rounds`` calls of ``step``."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def decode_us(decode: Callable[[bytes], LogEntry], entries: list[bytes]) -> float:
    """Microseconds to decode one of ``entries``, best of 5 repeats over them all."""
    return min(timeit.repeat(lambda: [decode(e) for e in entries], number=1, repeat=5)) / len(entries) * 1e6


def strict_replay(registry: Registry) -> None:
    """``Registry.rebuild`` with every entry decoded strictly."""
    typed = LogEntry.decode
    LogEntry.decode = LogEntry.decode_strictly  # type: ignore[method-assign]
    try:
        registry.rebuild()
    finally:
        LogEntry.decode = typed  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    """Build the registry, time the replays and the reading, print them with their ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        service = populated(Path(tmp) / "registry", args.statements)
        try:
            registry = service.registry
            size = registry.log.size
            reading = median_seconds(lambda: registry.log.entries(0, size))
            entries = registry.log.entries(0, size)
            each = {
                how: decode_us(decode, entries)
                for how, decode in [("typed", LogEntry.decode), ("strictly", LogEntry.decode_strictly)]
            }
            strict = median_seconds(lambda: strict_replay(registry))
            replay = median_seconds(registry.rebuild)
            if registry.log.size != size or len(registry.projection.incidents) != args.statements:
                raise SystemExit("the replay did not rebuild every incident")
        finally:
            service.close()
    print(f"replay of {size:,} entries ({args.statements:,} incidents), medians of 3 rounds")
    for label, seconds, ratio in [
        ("Registry.rebuild", replay, ""),
        ("decoded strictly", strict, f"  ({strict / replay:.2f}x the replay)"),
        ("reading the entries", reading, f"  ({reading / replay:.0%} of the replay)"),
    ]:
        print(f"  {label:22s} {seconds:6.2f} s  {size / seconds:>9,.0f} entries/s{ratio}")
    print(f"  decoding an entry: {each['typed']:.1f} us, strictly {each['strictly']:.1f} us")


if __name__ == "__main__":
    main()
