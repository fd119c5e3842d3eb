"""Instructions a statement costs on each side of ``submit``, counted by callgrind: A/B without noise.

Run: ``python -m benchmarks.assurances.instructions [--statements 2000]`` (needs Debian's valgrind).
The machines here change speed by a third within a minute, so a change of a few percent to the write
path cannot be seen in statements per second. Instructions can: for the same code and inputs, the
count repeats to about 0.1%, whatever else the machine is doing. Each part of the work is run on its
own, on one thread, in a child process under ``valgrind --tool=callgrind``, and counted only inside
the call that does it (``--toggle-collect`` on ``operator.call``, which nothing else here uses):

- ``verify``: the baseline, PyNaCl verifying each statement's own signature over its own PAE, the
  raw cost of the one step no implementation can skip;
- ``check``: a pre-verifier's work on the same envelopes (``precheck._check_all``: the envelope, the
  payload read by its kind's types, the signature), as a worker process does it;
- ``front``: the submitting thread's work (``Prechecks.start``, ``GroupCommit.submit`` and its future)
  and the writer's taking of the queue;
- ``writer``: ``Registry.submit_batch`` on pre-verified requests in batches of ``--batch``, with the
  collector paused as the service pauses it: the checks, the projection, the entries, the hashes and
  the SQLite append with its signed checkpoint.

The statements are 944-byte incidents, signed before anything is counted. Printed: instructions a
statement for each part, and each part in verifications. What bounds ``submit`` on two cores is the
sum of every part: the aim (half the raw rate of both cores) needs everything but the signature to
cost about one verification. Instructions are not time: libsodium runs more of them a cycle than the
interpreter does; under valgrind OpenSSL's SHA-256 runs without the CPU's SHA extensions, and each
``hashlib.sha256()`` counts about 15k instructions for fetching the algorithm that take well under a
microsecond. So the ratios are for comparing versions of the code, not a forecast of the rate.
"""

from __future__ import annotations

import argparse
import operator
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import nacl.signing

from detente.errors import InputError
from detente.registry.core import Registry, Request
from detente.registry.precheck import Keys, Prechecks, Verdict, _check_all
from detente.service.core import RegistryService, collector_paused, tune_collector
from detente.service.home import ServiceHome, Settings
from detente.statements.canonical import format_time
from detente.statements.dsse import Envelope, pae
from detente.statements.statement import reopen_statement
from detente.tlog.sequencer import GroupCommit

from .submit_rate import _incident, ru_keyset

CASES = ("verify", "check", "front", "writer")
TOGGLE = "_operator_call"  # operator.call's C function in libpython: the only place counting is on


def _registry(folder: Path) -> tuple[RegistryService, Registry]:
    home = ServiceHome(folder)
    home.init(Settings(rate=1e9, burst=1e9, wait=30.0))
    service = RegistryService.open(home, verifiers=0)
    return service, service.registry


def prepare(statements: int, out: Path) -> None:
    """Sign a keyset and ``statements`` incidents, pre-verify them as a worker would, and pickle it all."""
    now = format_time(datetime.now(UTC))
    keyset, cert = ru_keyset(now)
    envelopes = [_incident(cert, n, now) for n in range(statements)]
    with tempfile.TemporaryDirectory() as tmp:
        service, registry = _registry(Path(tmp) / "registry")
        try:
            registry.submit_batch([Request(keyset, (), True)])
            keys = dict(registry.projection.known_keys)
        finally:
            service.close()
    verdicts = _check_all(envelopes, keys)
    if any(isinstance(v, Exception) for v in verdicts):
        raise SystemExit("a prepared statement was refused: the benchmark's statements are out of date")
    out.write_bytes(pickle.dumps((keyset, envelopes, keys, verdicts)))


class _Unstarted(Executor):
    """Takes the chunks and never runs them: the front's count leaves the workers' work out."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return Future()


def _verify(envelopes: list[bytes], keys: Keys) -> Callable[[], object]:
    jobs = []
    for data in envelopes:
        env = Envelope.decode(data)
        [signature] = env.signatures
        jobs.append((keys[signature.keyid].raw, pae(env.payload_type, env.payload), signature.sig))

    def work() -> object:
        return [nacl.signing.VerifyKey(key).verify(message, sig) for key, message, sig in jobs]

    return work


def _front(envelopes: list[bytes]) -> Callable[[], object]:
    checks = Prechecks(_Unstarted(), dict)
    writer: GroupCommit[Request, object] = GroupCommit(lambda batch: list(batch))  # never started

    def work() -> object:
        futures = [writer.submit(checks.start(Request(e))) for e in envelopes]
        taken = 0
        while taken < len(futures):
            taken += len(writer._take_batch()[0])
        return futures

    return work


def _writer(
    registry: Registry, keyset: bytes, envelopes: list[bytes], verdicts: list[Verdict], batch: int
) -> Callable[[], object]:
    registry.submit_batch([Request(keyset, (), True)])
    checked = [v for v in verdicts if not isinstance(v, InputError)]  # none is: see prepare
    opened = [
        partial(reopen_statement, e, outcomes, digest.hex())  # as the writer takes a worker's answer
        for e, (outcomes, digest) in zip(envelopes, checked, strict=True)
    ]
    requests = [Request(e, (), False, o) for e, o in zip(envelopes, opened, strict=True)]

    def work() -> object:
        results = []
        for start in range(0, len(requests), batch):
            with collector_paused():
                results += registry.submit_batch(requests[start : start + batch])
        return results

    return work


def run_case(case: str, data: Path, batch: int) -> None:
    """Set ``case`` up, then do its work inside ``operator.call`` (the only part callgrind counts)."""
    # the parent's own file, written a moment ago
    keyset, envelopes, keys, verdicts = pickle.loads(data.read_bytes())  # noqa: S301
    with tempfile.TemporaryDirectory() as tmp:
        service, registry = _registry(Path(tmp) / "registry")
        try:
            cases: dict[str, Callable[[], Callable[[], object]]] = {
                "verify": lambda: _verify(envelopes, keys),
                "check": lambda: partial(_check_all, envelopes, keys),  # its signature included
                "front": lambda: _front(envelopes),
                "writer": lambda: _writer(registry, keyset, envelopes, verdicts, batch),
            }
            work = cases[case]()
            tune_collector()  # as the service and each pre-verifier set it
            results: object = operator.call(work)
        finally:
            service.close()
    went = results if isinstance(results, list) else []
    if len(went) != len(envelopes) or any(isinstance(r, Exception) for r in went):
        raise SystemExit(f"{case}: not every statement went through")


def count(case: str, data: Path, batch: int) -> int:
    """Instructions callgrind counts inside the work of ``case`` (a child process under valgrind)."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", f"--toggle-collect={TOGGLE}",
        sys.executable, "-m", __spec__.name if __spec__ else "benchmarks.assurances.instructions",
        "--case", case, "--data", str(data), "--batch", str(batch),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or found is None:
        raise SystemExit(f"{case} failed under valgrind:\n{done.stderr[-2000:]}")
    collected = int(found.group(1))
    if collected == 0:
        raise SystemExit(f"callgrind counted nothing: this Python's libpython has no symbol {TOGGLE}")
    return collected


def main(argv: list[str] | None = None) -> None:
    """Prepare the statements, count each case, print instructions a statement and ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1000, help="statements a writer batch")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # a child's part
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        run_case(args.case, args.data, args.batch)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "statements.pickle"
        prepare(args.statements, data)
        # one child per core at a time: the counts do not depend on what else runs
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            counts = pool.map(partial(count, data=data, batch=args.batch), CASES)
            per = {case: n / args.statements for case, n in zip(CASES, counts, strict=True)}
    verify = per["verify"]
    print(f"instructions each (callgrind, {args.statements:,} incidents, writer batches of {args.batch:,})")
    for case in CASES:
        print(f"  {case:7s} {per[case]:>9,.0f}  = {per[case] / verify:.2f} verifications")
    service, rest = per["front"] + per["writer"], per["check"] - verify
    print(f"  the service's process (front + writer): {service / verify:.2f} verifications")
    print(f"  a pre-verifier's work beside the signature: {rest / verify:.2f} verifications")
    print(f"  everything but the signature: {(service + rest) / verify:.2f} verifications")
    print("  (instructions: the interpreter runs fewer a cycle than libsodium; in time these are larger)")


if __name__ == "__main__":
    main()
