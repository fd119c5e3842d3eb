"""The act commands: offer, counter, accept, refuse, withdraw, reveal, abort, resolve, declare,
terminate, protest, reply. Nonces are written to 0600 files: a party keeps its own.
Each command works on ``--dir`` (a registry folder) or ``--registry URL`` (a registry service)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from detente.accords import acts
from detente.accords.acts import Authority
from detente.accords.clauses import CLAUSES, LIBRARY_VERSION
from detente.accords.letters import Person, Terms, reciprocal_letters, terms_document
from detente.errors import (
    ConfigError,
    ConflictError,
    InputError,
    MalformedError,
    NotFoundError,
    UnreachableError,
)
from detente.files import NewFiles
from detente.shell import reported
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.statement import Statement
from detente.tlog.home import read_secret

from .cli_common import (
    DEFAULT_DIR,
    Dir,
    KeyFiles,
    OutFile,
    Party,
    RegistryUrl,
    Where,
    _authority,
    _deliver,
    _m1,
    _m2,
    _now,
    app,
    out,
)
from .home import utc_now

Nonce = Annotated[Path, typer.Option("--nonce", help="File (0600) holding this party's nonce.")]
Clauses = Annotated[str, typer.Option(help="Comma-separated clause ids, e.g. L1,M1,M2.")]


MAX_DEADLINE_DAYS = 36_500  # a hundred years: beyond it, a deadline is a mistyped number


def _terms(party: str, to: str, clauses: str, place: str, notice_days: int) -> bytes:
    ids = tuple(c.strip() for c in clauses.split(","))
    unknown = [c for c in ids if c not in {known.id for known in CLAUSES}]
    if unknown:
        library = ", ".join(known.id for known in CLAUSES)
        raise MalformedError(f"no clause {unknown[0]!r} in {LIBRARY_VERSION} (it holds {library})")
    terms = Terms(
        Person(party, "Minister of Foreign Affairs", f"Minister of Foreign Affairs of {party}"),
        Person(to, "Minister of Foreign Affairs", f"Minister of Foreign Affairs of {to}"),
        place, utc_now().date().isoformat(), ids, "C0", notice_days,
    )  # fmt: skip
    return terms_document(reciprocal_letters(terms), notice_days)


def _offer(
    where: Where, key: list[Path], party: str, to: str, clauses: str, nonce: Path, days: int, place: str,
    notice_days: int, out_file: Path | None, answers: str | None,
) -> None:  # fmt: skip
    if not 1 <= days <= MAX_DEADLINE_DAYS:
        raise MalformedError(f"--deadline-days takes 1 to {MAX_DEADLINE_DAYS} (a hundred years), not {days}")
    doc = _terms(party, to, clauses, place, notice_days)
    with where.connect() as reg:
        notary = reg.notary_keyid()
    xid = os.urandom(16).hex()
    deadline = format_time(utc_now() + timedelta(days=days))
    secret = os.urandom(32)
    m1 = acts.offer(
        _authority(party, key), _now(), xid=xid, to=to, notary=notary, deadline=deadline,
        terms=sha256_hex(doc), nonce=secret, answers=answers,
    )  # fmt: skip
    out.print(f"exchange {xid}")
    _deliver_committed(where, m1, (nonce, secret), out_file, (doc,))


def _deliver_committed(
    where: Where,
    st: Statement,
    nonce: tuple[Path, bytes],
    out_file: Path | None,
    blobs: tuple[bytes, ...] = (),
) -> None:
    """Deliver a statement committing to a nonce, written first to its file (0600, never overwritten:
    the party needs it to reveal).

    The nonce file is removed again whenever the statement certainly reached no registry, so that the act
    can be retried as it was typed: with ``--out``, on any failure (the nonce, the envelope and its blobs
    are written all or none); when submitting, if the registry refused it. If the registry could not be
    reached, stopped answering, or failed without saying how, the statement may be logged, and the nonce
    is kept: without it, its party could never reveal."""
    path, secret = nonce
    with NewFiles() as new:
        new.create(path, (secret.hex() + "\n").encode(), mode=0o600)
        try:
            _deliver(where, st, out_file, blobs)
        except BaseException as error:
            if out_file is None and _maybe_logged(error):
                new.keep()
            raise


def _maybe_logged(error: BaseException) -> bool:
    """Whether a statement whose submission failed with ``error`` may be in the log all the same."""
    if isinstance(error, UnreachableError):
        return True
    # a refusal, or a registry that could not be opened: the statement was never appended. Anything
    # else (a file error while appending, an unknown answer, an interruption) leaves it unknown.
    return not isinstance(error, (InputError, ConflictError, NotFoundError, ConfigError))


Sign = Callable[[Authority, str, Statement], Statement]


def _on_offer(
    xid: str, party: str, key: list[Path], directory: Path, registry: str | None, out_file: Path | None,
    sign: Sign, nonce: tuple[Path, bytes] | None = None,
) -> None:  # fmt: skip
    """Read the offer (m1) of exchange ``xid``, sign this party's act on it, and deliver the act (one
    committing to a nonce, with the file to keep it in, if given)."""
    with reported():
        where = Where(directory, registry)
        with where.connect() as reg:
            m1 = _m1(reg, xid)
        st = sign(_authority(party, key), _now(), m1)
        if nonce is None:
            _deliver(where, st, out_file)
        else:
            _deliver_committed(where, st, nonce, out_file)


@app.command("offer")
def offer(
    party: Party, key: KeyFiles, to: Annotated[str, typer.Option()], clauses: Clauses, nonce: Nonce,
    directory: Dir = DEFAULT_DIR, deadline_days: int = 30, place: str = "Moscow", notice_days: int = 90,
    out_file: OutFile = None, registry: RegistryUrl = None,
) -> None:  # fmt: skip
    """Offer an exchange of letters (m1): reciprocal letters from one set of terms."""
    with reported():
        where = Where(directory, registry)
        _offer(where, key, party, to, clauses, nonce, deadline_days, place, notice_days, out_file, None)


@app.command("counter")
def counter(
    xid: str, party: Party, key: KeyFiles, clauses: Clauses, nonce: Nonce, directory: Dir = DEFAULT_DIR,
    deadline_days: int = 30, place: str = "Washington", notice_days: int = 90, out_file: OutFile = None,
    registry: RegistryUrl = None,
) -> None:  # fmt: skip
    """Counter an offer addressed to you: a new offer that answers (and closes) it."""
    with reported():
        where = Where(directory, registry)
        with where.connect() as reg:
            to = _m1(reg, xid).party
        _offer(where, key, party, to, clauses, nonce, deadline_days, place, notice_days, out_file, xid)


@app.command("accept")
def accept(
    xid: str,
    party: Party,
    key: KeyFiles,
    nonce: Nonce,
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
) -> None:
    """Accept an offer (m2), committing to a new nonce."""
    secret = os.urandom(32)
    _on_offer(
        xid,
        party,
        key,
        directory,
        registry,
        out_file,
        lambda by, now, m1: acts.accept(by, now, m1, secret),
        (nonce, secret),
    )


@app.command("refuse")
def refuse(
    xid: str,
    party: Party,
    key: KeyFiles,
    reason: Annotated[str, typer.Option()],
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
) -> None:
    """Refuse an offer, with the reason."""
    _on_offer(
        xid, party, key, directory, registry, out_file, lambda by, now, m1: acts.refuse(by, now, m1, reason)
    )


@app.command("withdraw")
def withdraw(
    xid: str,
    party: Party,
    key: KeyFiles,
    reason: str = "",
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
) -> None:
    """Withdraw your offer before any acceptance."""
    _on_offer(
        xid, party, key, directory, registry, out_file, lambda by, now, m1: acts.withdraw(by, now, m1, reason)
    )


@app.command("reveal")
def reveal(
    xid: str,
    party: Party,
    key: KeyFiles,
    nonce: Nonce,
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
) -> None:
    """Reveal your nonce (originator first, once m2 is logged; responder once it has the originator's)."""

    def sign(by: Authority, now: str, m1: Statement) -> Statement:
        try:
            value = bytes.fromhex(read_secret(nonce).strip())
        except ValueError:  # never the file's text: a nonce is a secret until revealed
            raise MalformedError(f"{nonce} is not a nonce file: it does not hold a nonce in hex") from None
        return acts.reveal(by, now, m1, value)

    _on_offer(xid, party, key, directory, registry, out_file, sign)


@app.command("abort")
def abort(
    xid: str, party: Party, key: KeyFiles, directory: Dir = DEFAULT_DIR, registry: RegistryUrl = None
) -> None:
    """Ask the notary to abort (originator, before revealing); its first decision is final."""
    _on_offer(xid, party, key, directory, registry, None, acts.abort)


@app.command("resolve")
def resolve(
    xid: str, party: Party, key: KeyFiles, directory: Dir = DEFAULT_DIR, registry: RegistryUrl = None
) -> None:
    """Ask the notary to resolve with m1 and m2; a `resolved` decision is a contract."""
    with reported():
        where = Where(directory, registry)
        with where.connect() as reg:
            m1, m2 = _m1(reg, xid), _m2(reg, xid)
        _deliver(where, acts.resolve(_authority(party, key), _now(), m1, m2), None)


@app.command("declare")
def declare(
    party: Party,
    key: KeyFiles,
    clauses: Clauses,
    text: Annotated[Path, typer.Option(help="The declaration's full text.")],
    summary: str,
    to: str | None = None,
    notice_days: int = 180,
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
) -> None:
    """Make a unilateral declaration (binding on its own; revocable with notice)."""
    import os

    with reported():
        body = text.read_bytes()
        st = acts.declaration(
            _authority(party, key), _now(), did=os.urandom(16).hex(), to=to, clauses=clauses.split(","),
            summary=summary, text=sha256_hex(body), effective=_now(), notice_days=notice_days,
        )  # fmt: skip
        out.print(f"declaration {st.body['did']}")
        _deliver(Where(directory, registry), st, out_file, (body,))


@app.command("terminate")
def terminate(
    ref: str, party: Party, key: KeyFiles, summary: str, effective: str, directory: Dir = DEFAULT_DIR,
    registry: RegistryUrl = None,
) -> None:  # fmt: skip
    """Terminate an exchange, or revoke a declaration, effective after its notice period (RFC 3339 UTC)."""
    with reported():
        st = acts.termination(_authority(party, key), _now(), ref, summary, effective)
        _deliver(Where(directory, registry), st, None)


@app.command("protest")
def protest(
    party: Party, key: KeyFiles, to: Annotated[str, typer.Option()], ref: Annotated[str, typer.Option()],
    clauses: Clauses, summary: str, incident: Annotated[list[str] | None, typer.Option()] = None,
    directory: Dir = DEFAULT_DIR, registry: RegistryUrl = None,
) -> None:  # fmt: skip
    """Protest a breach, citing clause ids of an exchange or declaration (and incidents)."""
    import os

    with reported():
        st = acts.protest(
            _authority(party, key), _now(), pid=os.urandom(16).hex(), to=to, ref=ref,
            clauses=clauses.split(","), summary=summary, incidents=incident or [],
        )  # fmt: skip
        out.print(f"protest {st.body['pid']}")
        _deliver(Where(directory, registry), st, None)


@app.command("reply")
def reply(
    pid: str, party: Party, key: KeyFiles, position: str, summary: str, directory: Dir = DEFAULT_DIR,
    registry: RegistryUrl = None,
) -> None:  # fmt: skip
    """Reply to a protest (position: accepts, rejects or neither)."""
    with reported():
        st = acts.reply(_authority(party, key), _now(), pid, position, summary)
        _deliver(Where(directory, registry), st, None)
