"""Attribution lookups per second: integer keys (the searchsorted core) and source-key strings.

Run: ``python -m benchmarks.monitor.lookups [--rounds 5]``. Each measure is timed once cold, then
``rounds`` times more, and both the cold rate and the median are printed (a single run moved by a
third from one minute to the next on a noisy machine).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from benchmarks.common import per_call_us, rate
from detente.monitor.attribution import load

N = 2_000_000


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    geo = load()
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 1 << 32, size=N, dtype=np.uint64)
    text = [".".join(str(int(x) >> s & 255) for s in (24, 16, 8, 0)) for x in keys[:500_000]]
    six = [f"2a00:{int(x) & 0xFFFF:x}:{int(x) >> 16 & 0xFFFF:x}:1::/64" for x in keys[:100_000]]
    measures: list[tuple[str, int, Callable[[], object]]] = [
        ("integer keys (country+ASN)", N, lambda: (geo.country4.find(keys), geo.asn4.find(keys))),
        ("IPv4 strings", len(text), lambda: geo.lookup(text)),
        ("IPv6 /64 keys", len(six), lambda: geo.lookup(six)),
    ]
    for name, count, step in measures:
        first = rate(count, step)  # cold
        median = per_call_us(lambda _: step(), 1, repeat=args.rounds) / 1e6  # noqa: B023 (called at once)
        print(
            f"{name}: {count:,} lookups, median of {args.rounds} {median:.3f} s = {count / median:,.0f}/s"
            f" (the first run {first:,.0f}/s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
