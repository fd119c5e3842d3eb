"""Statements per second through the registry's write path on SQLite, against the raw Ed25519 verify rate.

Run: ``python -m benchmarks.assurances.submit_rate [--statements N] [--rounds R] [--verifiers V]
[--parties P]`` (``--parties 200``: a registry that knows 200 other states' keys, about a thousand).
Statements are signed before the clock starts (signing happens on the parties' machines). The timed
path is the one an HTTP submission takes once its body is read: ``RegistryService.submit``
(pre-verification on the service's worker processes: envelope, payload, schema, signatures), the
group-commit writer (``Registry.submit_batch``: keyset in force, role and threshold, protocol checks,
entry encoding) and the append with a signed checkpoint in one SQLite transaction per batch.

The aim (issue 4) is half the raw verify rate of both cores: one PyNaCl verifier process per core, all
at once, each verifying 1,024 distinct signatures in turn (the registry never verifies one twice; one
signature verified over and over, the baseline before the twenty-third session, is measured and printed
beside it), measured just before and just after each run (the machine's speed moves by a fifth within a
minute, so a baseline taken even ten seconds away can move the ratio by as much as a change to the
code). Each of ``--rounds`` runs is a fresh service; the median run is the figure, the others its
spread. The same statements through a service without pre-verifiers (``--verifiers 0``: everything in
the writer) are measured once. Where the time goes is printed too: the CPU a statement of the service's
process (writer, futures, the pool's threads) and of its pre-verifier processes (from ``/proc``), beside
the signature's own cost on busy cores, and how busy the cores were during the run with the rate that
CPU a statement would allow on fully busy cores (which of the two, CPU or idle time, stands between the
rate and the aim).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import string
import tempfile
import time
import timeit
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from itertools import product
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import nacl.signing

from detente.accords.acts import Authority
from detente.registry.core import Request
from detente.registry.precheck import CHUNK, _check_all
from detente.service.core import RegistryService, tune_collector
from detente.service.home import ServiceHome, Settings
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.dsse import Envelope
from detente.statements.keys import SigningKey
from detente.statements.keysets import keyset_body, sign_keyset
from detente.statements.statement import check_statement, read_statement, read_strictly

from ..common import cpu_counters, stolen_note

RING = 1024  # the distinct signatures the raw rate verifies in turn


def raw_verify_rate(seconds: float = 2.0, distinct: int = RING) -> float:
    """Ed25519 verifications per second with PyNaCl, one core, through ``distinct`` signatures of
    different 700-byte messages (an incident's PAE is about that), each in turn.

    The work as the registry gets it: it never verifies one signature twice. One signature verified
    over and over (``distinct=1``: the baseline before the twenty-third session) runs up to a tenth
    faster, the core's branch predictor having learnt the branches its scalars take
    (docs/performance.md)."""
    key = nacl.signing.SigningKey.generate()
    ring = [key.sign(os.urandom(700)) for _ in range(distinct)]
    verify = key.verify_key.verify
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(max(1, 500 // distinct)):
            for signed in ring:
                verify(signed)
        count += max(1, 500 // distinct) * distinct
    return count / (time.perf_counter() - start)


def raw_verify_rate_all_cores(seconds: float = 2.0, distinct: int = RING) -> float:
    """Ed25519 verifications per second of one PyNaCl verifier process per core, all at once: the
    issue's "raw verification rate of both cores" measured, not taken as twice one core's."""
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("forkserver")) as pool:
        return sum(pool.map(partial(raw_verify_rate, distinct=distinct), [seconds] * cores))


def _incident(by: Authority, n: int, now: str) -> bytes:
    body = {
        "iid": os.urandom(16).hex(), "to": "US", "monitor_id": f"{n:016x}",
        "asset": {"name": "cec", "kind": "election-body"}, "attack": "flood", "start": now, "end": now,
        "requests": 1000 + n, "peak_per_minute": 60, "sources": 3,
        "origin": {"country": "US", "requests": 1000, "sources": 3}, "networks": [], "clauses": [],
        "evidence": sha256_hex(n.to_bytes(8, "big")), "attributed_actor": None,
    }  # fmt: skip
    return by.sign("incident", now, body).envelope.encode()


def _register_others(service: RegistryService, parties: int, now: str) -> None:
    """Register ``parties`` more parties (two-letter codes other than RU), each with five keys in four
    roles, as a registry of that many states knows them."""
    codes = [c for c in ("".join(p) for p in product(string.ascii_uppercase, repeat=2)) if c != "RU"]
    for code in codes[:parties]:
        root, head, minister, *certs = (SigningKey.generate(os.urandom) for _ in range(5))
        roles = {
            "root": ([root.public], 1), "head-of-state": ([head.public], 1),
            "foreign-minister": ([minister.public], 1), "cert": ([k.public for k in certs], 1),
        }  # fmt: skip
        keyset = sign_keyset(code, now, keyset_body(1, None, roles), [root])
        service.submit(Request(keyset.envelope.encode(), (), True)).result()


def ru_keyset(now: str) -> tuple[bytes, Authority]:
    """RU's first keyset (one root key, also its foreign minister's, and one cert key), signed at
    ``now``, and RU's cert authority, which signs the benchmarks' incidents."""
    root, cert = SigningKey.generate(os.urandom), SigningKey.generate(os.urandom)
    roles = {"root": ([root.public], 1), "foreign-minister": ([root.public], 1), "cert": ([cert.public], 1)}
    keyset = sign_keyset("RU", now, keyset_body(1, None, roles), [root])
    return keyset.envelope.encode(), Authority("RU", (cert,))


def start_service(
    folder: Path, verifiers: int | None = None, parties: int = 0
) -> tuple[RegistryService, Authority]:
    """A started service on SQLite with RU registered (and ``parties`` other parties before it);
    returns RU's cert authority."""
    home = ServiceHome(folder)
    home.init(Settings(rate=1e9, burst=1e9, wait=30.0))
    service = RegistryService.open(home, verifiers=verifiers)
    service.start(lapse_timer=False, publish=False, warm=True)
    now = format_time(datetime.now(UTC))
    _register_others(service, parties, now)
    keyset, cert = ru_keyset(now)
    service.submit(Request(keyset, (), True)).result()
    tune_collector()  # as `detente serve` does after its replay
    return service, cert


@dataclass(frozen=True)
class Run:
    """One timed run: statements per second, mean batch, the share sent to pre-verifiers, and the raw
    verify rate of every core measured just before and just after it (the aim is half their mean)."""

    rate: float
    batch: float
    pre_verified: float
    raw: tuple[float, float]  # every core at once, before and after the run
    repeated: tuple[float, float]  # the same, one signature verified over and over (the old baseline)
    server_us: float  # CPU a statement of the service's process
    workers_us: float  # CPU a statement of its pre-verifier processes (0 without them)

    @property
    def aim(self) -> float:
        """Half the raw verify rate of every core around the run."""
        return sum(self.raw) / 4

    @property
    def share(self) -> float:
        """Statements per second over the aim."""
        return self.rate / self.aim

    @property
    def share_of_repeated(self) -> float:
        """Statements per second over half the rate of one signature verified over and over."""
        return self.rate / (sum(self.repeated) / 4)

    @property
    def signature_us(self) -> float:
        """Microseconds of one core a verification takes while every core verifies."""
        return (os.cpu_count() or 1) * 2e6 / sum(self.raw)


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_rate(folder: Path, statements: int, verifiers: int | None, parties: int = 0) -> Run:
    """Submit pre-signed statements through an in-process service, all at once, and wait for them."""
    service, cert = start_service(folder, verifiers, parties)
    try:
        now = format_time(datetime.now(UTC))
        envelopes = [_incident(cert, n, now) for n in range(statements)]
        batches = service.batches
        repeated = [raw_verify_rate_all_cores(1.0, distinct=1)]
        before = raw_verify_rate_all_cores()  # just before the run, as the aim's measure
        workers = [] if service.pool is None else list(service.pool._processes)  # started by warm=True
        cpu = time.process_time(), [process_cpu(pid) for pid in workers]
        start = time.perf_counter()
        futures = [service.submit(Request(e)) for e in envelopes]
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - start
        server = time.process_time() - cpu[0]
        pool = sum(process_cpu(pid) - used for pid, used in zip(workers, cpu[1], strict=True))
        after = raw_verify_rate_all_cores()  # just after it
        repeated.append(raw_verify_rate_all_cores(1.0, distinct=1))
        launched = 0 if service.prechecks is None else service.prechecks.launched * service.prechecks.chunk
        rate, batch = statements / elapsed, statements / (service.batches - batches)
        per = 1e6 / statements
        raw = (before, after)
        return Run(
            rate, batch, launched / statements, raw, (repeated[0], repeated[1]), server * per, pool * per
        )
    finally:
        service.close()


def _best_us(step: Callable[[], object]) -> float:
    """Microseconds a call of ``step``, one core, best of 5 repeats of 2,000 calls."""
    return min(timeit.repeat(step, number=2000, repeat=5)) / 2000 * 1e6


def answers_kb() -> tuple[float, float]:
    """KB of a chunk of incidents' answers as a pre-verifier pickles them back (each key id one shared
    string, the statement id its raw digest), and as they went before the nineteenth session (each key
    id a string of its own, as each envelope's decoding makes it, the id in hex)."""
    key = SigningKey.generate(os.urandom)
    now = format_time(datetime.now(UTC))
    answers = _check_all(
        [_incident(Authority("RU", (key,)), n, now) for n in range(CHUNK)], {key.keyid: key.public}
    )
    spelled_out = [
        ({"".join(list(keyid)): outcome for keyid, outcome in outcomes.items()}, digest.hex())
        for outcomes, digest in (a for a in answers if not isinstance(a, Exception))
    ]
    return len(ForkingPickler.dumps(answers)) / 1e3, len(ForkingPickler.dumps(spelled_out)) / 1e3


def opening_cost() -> tuple[float, float, float, float]:
    """Microseconds to read one signed incident's envelope, to open its statement (the writer's
    reading: the payload read by its kind's msgspec types first), to open it strictly (canonical
    payload, compiled schema: the reading before the twentieth session), and to check it as a
    pre-verifier does, one core, best of 5 repeats."""
    data = _incident(Authority("RU", (SigningKey.generate(os.urandom),)), 1, format_time(datetime.now(UTC)))
    return (
        _best_us(lambda: Envelope.decode(data)),
        _best_us(lambda: read_statement(data)),
        _best_us(lambda: read_strictly(data)),
        _best_us(lambda: check_statement(data)),
    )


def signing_cost() -> tuple[float, float]:
    """Microseconds for a party's signature and key id of a 700-byte message (an incident's PAE is
    about that): with a :class:`SigningKey`, which derives its key pair once, and with PyNaCl keys made
    from the seed for each (a derivation for the signature and one for the key id, as signing went
    before the eleventh session)."""
    key, message = SigningKey.generate(os.urandom), os.urandom(700)
    key.sign(message)  # the one derivation

    def from_seed() -> object:
        signature = nacl.signing.SigningKey(key.seed).sign(message).signature
        return signature, bytes(nacl.signing.SigningKey(key.seed).verify_key)

    return _best_us(lambda: (key.sign(message), key.keyid)), _best_us(from_seed)


def _describe(run: Run, label: str) -> str:
    cores = os.cpu_count() or 1
    busy = run.rate * (run.server_us + run.workers_us) / 1e6 / cores
    return (
        f"{label}: {run.rate:,.0f} statements/s against an aim of {run.aim:,.0f}/s (every core "
        f"{run.raw[0]:,.0f}/s and {run.raw[1]:,.0f}/s around it) = {run.share:.0%} ("
        f"{run.share_of_repeated:.0%} of half the rate of one signature verified over and over); CPU a "
        f"statement {run.server_us:.0f} + {run.workers_us:.0f} us, busy {busy:.0%}"
    )


def main(argv: list[str] | None = None) -> None:
    """Measure and print the rates and their ratios to the raw verify rate."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="pre-verified runs (the median is the figure)")
    parser.add_argument("--verifiers", type=int, default=None, help="pre-verifier processes (default: cores)")
    parser.add_argument(
        "--parties", type=int, default=0, help="other parties registered first, five keys each (at most 675)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.parties <= 675:
        parser.error("--parties takes 0 to 675 (two-letter codes other than RU)")
    if args.rounds < 1:
        parser.error("--rounds takes 1 or more")
    before = cpu_counters()
    one, one_repeated = raw_verify_rate(), raw_verify_rate(distinct=1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = [
            service_rate(folder / f"pre{n}", args.statements, args.verifiers, args.parties)
            for n in range(args.rounds)
        ]
        alone = service_rate(folder / "alone", args.statements, 0, args.parties)
    again = raw_verify_rate()
    stolen = stolen_note(before, cpu_counters())
    cores = os.cpu_count() or 1
    every = [r for run in runs for r in run.raw]
    print(
        f"{cores} cores; raw Ed25519 verify (PyNaCl, {RING:,} distinct signatures in turn): one core "
        f"{one:,.0f}/s and {again:,.0f}/s (start and end); every core at once {min(every):,.0f}-"
        f"{max(every):,.0f}/s around the runs; one signature over and over, one core: {one_repeated:,.0f}/s "
        f"({one_repeated / one - 1:+.1%})"
    )
    print(
        f"submit on SQLite, pre-verified ({args.statements:,} statements a run; "
        "the aim: half the raw rate of every core)"
    )
    for n, run in enumerate(runs, 1):
        print("  " + _describe(run, f"run {n}"))
    pre = sorted(runs, key=lambda run: run.share)[len(runs) // 2]
    print(
        f"  {pre.pre_verified:.0%} by workers, mean batch {pre.batch:,.0f}; the median run's signature "
        f"alone about {pre.signature_us:.0f} us of CPU (every core verifying)"
    )
    # The service's process (the writer and the threads that feed it, under one GIL) gets about one
    # core: its CPU a statement alone bounds submit near (signature / that CPU) of one core's rate.
    print(
        f"  the service's process alone bounds submit near {pre.signature_us / pre.server_us:.0%} of the "
        "aim (the writer and its feeders share one GIL: about one core)"
    )
    # Whatever waits on what (the writer on a chunk, a worker on the next), the cores can do no more
    # than their CPU allows: this bound and the share of it reached say which of the two limits.
    cpu = pre.server_us + pre.workers_us
    print(
        f"  at {cpu:.0f} us of CPU a statement, {cores} fully busy cores bound submit near "
        f"{cores * 1e6 / cpu:,.0f}/s = {cores * 1e6 / cpu / pre.aim:.0%} of the aim"
    )
    envelope, statement, strictly, checked = opening_cost()
    print(
        f"  opening an incident, one core: the envelope {envelope:.1f} us, the statement {statement:.1f} us "
        f"(the writer's reading; {strictly:.1f} us read strictly), its checks alone {checked:.1f} us "
        "(the pre-verifiers' typed reading)"
    )
    small, spelled = answers_kb()
    print(
        f"  a chunk's answers from a pre-verifier ({CHUNK} incidents), pickled: {small:.1f} KB, against "
        f"{spelled:.1f} KB with each key id its own string and the ids in hex"
    )
    kept, derived = signing_cost()
    print(
        f"  signing, one core (the parties' side): a signature and key id {kept:.1f} us, against"
        f" {derived:.1f} us deriving the key pair from the seed each time"
    )
    shares = sorted(run.share for run in runs)
    print(
        f"  pre-verified submit against the aim measured on every core: {pre.share:.0%} (median of "
        f"{len(runs)} runs; {shares[0]:.0%}-{shares[-1]:.0%}); against one signature verified over and over, "
        f"the baseline before the twenty-third session: {pre.share_of_repeated:.0%}"
    )
    print("  " + _describe(alone, "writer alone (no pre-verifiers)"))
    print(stolen)


if __name__ == "__main__":
    main()
