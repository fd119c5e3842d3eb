"""What is in force between two parties, in a registry holding many parties' declarations.

Run: ``python -m benchmarks.assurances.in_force [--parties 200] [--declarations 2000]``. A registry on
SQLite gets one keyset per party and declarations spread over them (a third to one party, the rest to
all), each through ``submit``; then ``Projection.in_force_between`` (asked for every incident citing a
clause, and for every pair of the parties' matrix) is timed against the walk over every declaration it
replaced (the baseline, in the same run, on the same projection), median of 5 rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import string
import tempfile
from datetime import UTC, datetime
from itertools import product
from pathlib import Path

from benchmarks.common import per_call_us
from detente.accords import acts
from detente.accords.acts import Authority
from detente.accords.projection import Projection
from detente.registry.core import Request
from detente.service.core import RegistryService
from detente.service.home import ServiceHome, Settings
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.keys import SigningKey
from detente.statements.keysets import keyset_body, sign_keyset


def walk(p: Projection, a: str, b: str, at: datetime) -> list[str]:
    """The declarations in force between ``a`` and ``b``, by a walk over every declaration."""
    pairs = ((a, b), (b, a), (a, None), (b, None))
    return [d.did for d in p.declarations.values() if (d.party, d.to) in pairs and d.in_force(at)]


def populated(folder: Path, parties: int, declarations: int) -> RegistryService:
    """A started service with ``parties`` registered parties and their ``declarations``."""
    home = ServiceHome(folder)
    home.init(Settings(rate=1e9, burst=1e9, wait=30.0))
    service = RegistryService.open(home, verifiers=0).start(lapse_timer=False, publish=False)
    now = format_time(datetime.now(UTC))
    codes = ["".join(c) for c in product(string.ascii_uppercase, repeat=2)][:parties]
    ministers = {}
    for code in codes:
        key = SigningKey.generate(os.urandom)
        roles = {"root": ([key.public], 1), "foreign-minister": ([key.public], 1)}
        keyset = sign_keyset(code, now, keyset_body(1, None, roles), [key])
        service.submit(Request(keyset.envelope.encode(), (), True)).result()
        ministers[code] = Authority(code, (key,))
    futures = []
    for n in range(declarations):
        by, text = codes[n % parties], f"declaration {n}".encode()
        to = codes[(n + 1) % parties] if n % 3 == 0 else None
        st = acts.declaration(
            ministers[by], now, did=hashlib.sha256(b"%d" % n).hexdigest()[:32], to=to, clauses=["L1"],
            summary="a declaration", text=sha256_hex(text), effective=now, notice_days=0,
        )  # fmt: skip
        futures.append(service.submit(Request(st.envelope.encode(), (text,))))
    for future in futures:
        future.result()
    return service


def main(argv: list[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--parties", type=int, default=200)
    parser.add_argument("--declarations", type=int, default=2_000)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        populated(Path(tmp), args.parties, args.declarations) as service,
    ):
        p, at = service.registry.projection, service.registry.clock()
        a, b = "AA", "AB"
        assert p.in_force_between(a, b, at) == walk(p, a, b, at)
        indexed = per_call_us(lambda _: p.in_force_between(a, b, at), 2000, repeat=5)
        walked = per_call_us(lambda _: walk(p, a, b, at), 2000, repeat=5)
    print(
        f"in force between two parties, {args.declarations:,} declarations of {args.parties} parties: "
        f"{indexed:.1f} us a query, against {walked:.1f} us for the walk over every declaration "
        f"({walked / indexed:.0f}x)"
    )


if __name__ == "__main__":
    main()
