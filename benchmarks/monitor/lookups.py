"""Attribution lookups per second: integer keys (the searchsorted core) and source-key strings.

Run: ``python -m benchmarks.monitor.lookups``.
"""

from __future__ import annotations

import time

import numpy as np

from detente.monitor.attribution import load

N = 2_000_000


def main() -> int:
    """Measure and print."""
    geo = load()
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 1 << 32, size=N, dtype=np.uint64)
    start = time.perf_counter()
    geo.country4.find(keys)
    geo.asn4.find(keys)
    secs = time.perf_counter() - start
    print(f"integer keys: {N:,} country+ASN lookups in {secs:.3f} s = {N / secs:,.0f}/s")
    text = [".".join(str(int(x) >> s & 255) for s in (24, 16, 8, 0)) for x in keys[:500_000]]
    start = time.perf_counter()
    geo.lookup(text)
    secs = time.perf_counter() - start
    print(f"IPv4 strings: {len(text):,} lookups in {secs:.3f} s = {len(text) / secs:,.0f}/s")
    six = [f"2a00:{int(x) & 0xFFFF:x}:{int(x) >> 16 & 0xFFFF:x}:1::/64" for x in keys[:100_000]]
    start = time.perf_counter()
    geo.lookup(six)
    secs = time.perf_counter() - start
    print(f"IPv6 /64 keys: {len(six):,} lookups in {secs:.3f} s = {len(six) / secs:,.0f}/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
