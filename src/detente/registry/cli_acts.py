"""The act commands: offer, counter, accept, refuse, withdraw, reveal, abort, resolve, declare,
terminate, protest, reply. Nonces are written to 0600 files: a party keeps its own.
Each command works on ``--dir`` (a registry folder) or ``--registry URL`` (a registry service)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

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
from detente.statements.keys import PublicKey
from detente.statements.statement import Statement

from .cli_common import (
    DEFAULT_DIR,
    Dir,
    KeyFiles,
    OutFile,
    Party,
    RegistryUrl,
    Summary,
    Where,
    Xid,
    _authority,
    _deliver,
    _m1,
    _m2,
    _now,
    app,
    options_named,
    read_given_secret,
    statement_file,
)
from .client import RegistryClient
from .home import utc_now

T = TypeVar("T")
Nonce = Annotated[
    Path, typer.Option("--nonce", help="File (0600) holding this party's nonce.", readable=False)
]
Clauses = Annotated[str, typer.Option(help="Comma-separated clause ids, e.g. L1,M1,M2.")]
To = Annotated[str, typer.Option("--to", help="The state it is addressed to (ISO 3166-1 alpha-2).")]
DeadlineDays = Annotated[
    int,
    typer.Option(
        help="Days left to conclude (1 to 36500): then an exchange neither concluded nor decided lapses."
    ),
]
NoticeDays = Annotated[
    int, typer.Option(help="Days of notice, written in the terms, before a termination takes effect.")
]
PLACE_HELP = (
    "Where the letters say they were done, before their date (by default {}, whoever signs: give yours)."
)
OfferPlace = Annotated[str, typer.Option(help=PLACE_HELP.format("Moscow"))]
CounterPlace = Annotated[str, typer.Option(help=PLACE_HELP.format("Washington"))]
Reason = Annotated[str, typer.Option(help="Why, in a sentence or a few (at most 4000 characters).")]


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


NOTARY_HELP = (
    "The registry's notary key, which the offer names: its public key in base64 (as `detente init` and "
    "`detente serve` print it; GET /v1/registry serves it as notary_key) or its key id (served as notary). "
    "Without it, it is read from the registry; with it and --out, no registry is needed (offline signing)."
)
Notary = Annotated[str | None, typer.Option("--notary", help=NOTARY_HELP)]
OFFER_HELP = (
    "The offer's signed envelope, as `offer --out` or `counter --out` wrote it (its originator hands it "
    "over): the act is signed on it without reading the registry, so that with --out none is needed."
)
OfferFile = Annotated[Path | None, typer.Option("--offer", help=OFFER_HELP, readable=False)]
KEYID = re.compile(r"[0-9a-f]{64}")


def _notary_keyid(value: str) -> str:
    """The key id ``--notary`` gives: a key id as it is, or that of a public key in base64."""
    if KEYID.fullmatch(value):
        return value
    try:
        return PublicKey.from_b64(value).keyid
    except MalformedError:
        raise MalformedError(
            f"--notary {value[:80]!r} is neither a public key in base64 nor a key id (64 hex digits): "
            "give the notary key as `detente init` or `detente serve` printed it"
        ) from None


def _read(where: Where, read: Callable[[RegistryClient], T], offline: str | None) -> T:
    """What ``read`` reads from the registry. One that cannot be opened or reached is reported with the
    option that signs without it (``offline``) when the act is to be written to a file: `detente init`
    would make another registry, whose notary the real one's would refuse."""
    try:
        with where.connect() as reg:
            return read(reg)
    except (ConfigError, UnreachableError) as error:
        if offline is None:
            raise
        raise type(error)(f"{error}; to sign without a registry, pass {offline}") from None


def _offer(
    where: Where, key: list[Path], party: str, to: str, clauses: str, nonce: Path, days: int, place: str,
    notice_days: int, out_file: Path | None, answers: str | None, notary: str | None,
) -> None:  # fmt: skip
    """Sign an offer (a counter-offer if it ``answers`` an exchange) naming the notary given, or the
    registry's, and deliver it with its nonce and terms."""
    if not 1 <= days <= MAX_DEADLINE_DAYS:
        raise MalformedError(f"--deadline-days takes 1 to {MAX_DEADLINE_DAYS} (a hundred years), not {days}")
    doc = _terms(party, to, clauses, place, notice_days)
    if notary is None:
        offline = "--notary (the registry's notary key)" if out_file is not None else None
        notary = _read(where, lambda reg: reg.notary_keyid(), offline)
    else:
        notary = _notary_keyid(notary)
    xid = os.urandom(16).hex()
    deadline = format_time(utc_now() + timedelta(days=days))
    secret = os.urandom(32)
    with options_named():
        m1 = acts.offer(
            _authority(party, key), _now(), xid=xid, to=to, notary=notary, deadline=deadline,
            terms=sha256_hex(doc), nonce=secret, answers=answers,
        )  # fmt: skip
    _deliver_committed(where, m1, (nonce, secret), out_file, (doc,), f"exchange {xid}")


def _deliver_committed(
    where: Where,
    st: Statement,
    nonce: tuple[Path, bytes],
    out_file: Path | None,
    blobs: tuple[bytes, ...] = (),
    heading: str = "",
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
            _deliver(where, st, out_file, blobs, heading, new)
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


def _the_offer(where: Where, xid: str, offer_file: Path | None, out_file: Path | None) -> Statement:
    """The offer (m1) of exchange ``xid``: read from ``offer_file`` if given, else from the registry."""
    if offer_file is not None:
        return _offer_from_file(offer_file, xid)
    return _read(where, lambda reg: _m1(reg, xid), "--offer FILE" if out_file is not None else None)


def _offer_from_file(path: Path, xid: str) -> Statement:
    """The offer or counter-offer of exchange ``xid`` in the envelope file ``path`` (its signatures are
    the registry's to check, when the act signed on it is submitted)."""
    st = statement_file(path)
    if st.kind not in ("offer", "counter"):
        raise MalformedError(f"{path} holds a {st.kind}, not an offer: --offer takes the offer's envelope")
    if st.body["xid"] != xid:
        raise MalformedError(f"{path} is the offer of exchange {st.body['xid']}, not of {xid}")
    return st


def _on_offer(
    xid: str, party: str, key: list[Path], directory: Path, registry: str | None, out_file: Path | None,
    sign: Sign, nonce: tuple[Path, bytes] | None = None, offer_file: Path | None = None,
) -> None:  # fmt: skip
    """Read the offer (m1) of exchange ``xid`` (from ``offer_file`` if given), sign this party's act on it,
    and deliver the act (one committing to a nonce, with the file to keep it in, if given)."""
    with reported():
        where = Where(directory, registry)
        m1 = _the_offer(where, xid, offer_file, out_file)
        authority = _authority(party, key)
        with options_named():
            st = sign(authority, _now(), m1)
        if nonce is None:
            _deliver(where, st, out_file)
        else:
            _deliver_committed(where, st, nonce, out_file)


@app.command("offer")
def offer(
    party: Party, key: KeyFiles, to: To, clauses: Clauses, nonce: Nonce,
    directory: Dir = DEFAULT_DIR, deadline_days: DeadlineDays = 30, place: OfferPlace = "Moscow",
    notice_days: NoticeDays = 90, out_file: OutFile = None, registry: RegistryUrl = None,
    notary: Notary = None,
) -> None:  # fmt: skip
    """Offer an exchange of letters (m1): reciprocal letters from one set of terms."""
    with reported():
        where = Where(directory, registry)
        _offer(
            where, key, party, to, clauses, nonce, deadline_days, place, notice_days, out_file, None, notary
        )


@app.command("counter")
def counter(
    xid: Xid, party: Party, key: KeyFiles, clauses: Clauses, nonce: Nonce, directory: Dir = DEFAULT_DIR,
    deadline_days: DeadlineDays = 30, place: CounterPlace = "Washington", notice_days: NoticeDays = 90,
    out_file: OutFile = None,
    registry: RegistryUrl = None, notary: Notary = None, offer_file: OfferFile = None,
) -> None:  # fmt: skip
    """Counter an offer addressed to you: a new offer that answers (and closes) it."""
    with reported():
        where = Where(directory, registry)
        to = _the_offer(where, xid, offer_file, out_file).party
        _offer(
            where, key, party, to, clauses, nonce, deadline_days, place, notice_days, out_file, xid, notary
        )


@app.command("accept")
def accept(
    xid: Xid,
    party: Party,
    key: KeyFiles,
    nonce: Nonce,
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
    offer_file: OfferFile = None,
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
        offer_file,
    )


@app.command("refuse")
def refuse(
    xid: Xid,
    party: Party,
    key: KeyFiles,
    reason: Reason,
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
    offer_file: OfferFile = None,
) -> None:
    """Refuse an offer, with the reason."""
    _on_offer(
        xid, party, key, directory, registry, out_file, lambda by, now, m1: acts.refuse(by, now, m1, reason),
        offer_file=offer_file,
    )  # fmt: skip


@app.command("withdraw")
def withdraw(
    xid: Xid,
    party: Party,
    key: KeyFiles,
    reason: Reason = "",
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
    offer_file: OfferFile = None,
) -> None:
    """Withdraw your offer before any acceptance."""
    _on_offer(
        xid, party, key, directory, registry, out_file,
        lambda by, now, m1: acts.withdraw(by, now, m1, reason), offer_file=offer_file,
    )  # fmt: skip


@app.command("reveal")
def reveal(
    xid: Xid,
    party: Party,
    key: KeyFiles,
    nonce: Nonce,
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
    offer_file: OfferFile = None,
) -> None:
    """Reveal your nonce (originator first, once m2 is logged; responder once it has the originator's)."""

    def sign(by: Authority, now: str, m1: Statement) -> Statement:
        try:
            value = bytes.fromhex(read_given_secret(nonce, "nonce file").strip())
        except ValueError:  # never the file's text: a nonce is a secret until revealed
            raise MalformedError(f"{nonce} is not a nonce file: it does not hold a nonce in hex") from None
        return acts.reveal(by, now, m1, value)

    _on_offer(xid, party, key, directory, registry, out_file, sign, offer_file=offer_file)


@app.command("abort")
def abort(
    xid: Xid, party: Party, key: KeyFiles, directory: Dir = DEFAULT_DIR, registry: RegistryUrl = None,
    out_file: OutFile = None, offer_file: OfferFile = None,
) -> None:  # fmt: skip
    """Ask the notary to abort (originator, before revealing); its first decision is final."""
    _on_offer(xid, party, key, directory, registry, out_file, acts.abort, offer_file=offer_file)


@app.command("resolve")
def resolve(
    xid: Xid, party: Party, key: KeyFiles, directory: Dir = DEFAULT_DIR, registry: RegistryUrl = None,
    out_file: OutFile = None, offer_file: OfferFile = None,
    acceptance: Annotated[Path | None, typer.Option(help=(
        "The acceptance's signed envelope, as `accept --out` wrote it: with --offer (both, or neither, "
        "read from the registry) and --out, no registry is needed."
    ), readable=False)] = None,
) -> None:  # fmt: skip
    """Ask the notary to resolve with m1 and m2; a `resolved` decision is a contract."""
    with reported():
        where = Where(directory, registry)
        if (offer_file is None) != (acceptance is None):
            raise typer.BadParameter(
                "give --offer and --acceptance together, or neither", param_hint="--offer"
            )
        if offer_file is not None and acceptance is not None:
            m1 = _offer_from_file(offer_file, xid)
            m2 = _acceptance_from_file(acceptance, m1)
        else:  # both from the registry, in one reading of it
            offline = "--offer FILE --acceptance FILE" if out_file is not None else None
            m1, m2 = _read(where, lambda reg: (_m1(reg, xid), _m2(reg, xid)), offline)
        authority = _authority(party, key)
        with options_named():
            st = acts.resolve(authority, _now(), m1, m2)
        _deliver(where, st, out_file)


def _acceptance_from_file(path: Path, m1: Statement) -> Statement:
    """The acceptance of offer ``m1`` in the envelope file ``path``."""
    st = statement_file(path)
    if st.kind != "accept":
        raise MalformedError(f"{path} holds a {st.kind}, not an acceptance: --acceptance takes its envelope")
    if st.body["offer"] != m1.sid:
        raise MalformedError(
            f"{path} accepts offer {st.body['offer']}, not {m1.sid} (exchange {m1.body['xid']})"
        )
    return st


@app.command("declare")
def declare(
    party: Party,
    key: KeyFiles,
    clauses: Clauses,
    text: Annotated[Path, typer.Option(help="The declaration's full text.", readable=False)],
    summary: Summary,
    to: Annotated[
        str | None, typer.Option(help="The state it is addressed to (ISO 3166-1 alpha-2); by default, all.")
    ] = None,
    notice_days: Annotated[
        int, typer.Option(help="Days of notice (0 to 3650) before a revocation takes effect.")
    ] = 180,
    directory: Dir = DEFAULT_DIR,
    out_file: OutFile = None,
    registry: RegistryUrl = None,
) -> None:
    """Make a unilateral declaration (binding on its own; revocable with notice)."""
    import os

    with reported():
        body = text.read_bytes()
        authority = _authority(party, key)
        with options_named():
            st = acts.declaration(
                authority, _now(), did=os.urandom(16).hex(), to=to, clauses=clauses.split(","),
                summary=summary, text=sha256_hex(body), effective=_now(), notice_days=notice_days,
            )  # fmt: skip
        _deliver(Where(directory, registry), st, out_file, (body,), f"declaration {st.body['did']}")


@app.command("terminate")
def terminate(
    ref: Annotated[str, typer.Argument(help="The exchange or declaration id (32 hex digits).")],
    party: Party, key: KeyFiles, summary: Summary,
    effective: Annotated[str, typer.Argument(help="In effect from (UTC), e.g. 2030-01-01T00:00:00Z.")],
    directory: Dir = DEFAULT_DIR,
    registry: RegistryUrl = None, out_file: OutFile = None,
) -> None:  # fmt: skip
    """Terminate an exchange, or revoke a declaration, effective after its notice period (RFC 3339 UTC)."""
    with reported():
        authority = _authority(party, key)
        with options_named():
            st = acts.termination(authority, _now(), ref, summary, effective)
        _deliver(Where(directory, registry), st, out_file)


@app.command("protest")
def protest(
    party: Party, key: KeyFiles,
    to: Annotated[str, typer.Option(help="The state protested to (ISO 3166-1 alpha-2).")],
    ref: Annotated[str, typer.Option(help="The exchange or declaration breached (its id, 32 hex digits).")],
    clauses: Clauses, summary: Summary,
    incident: Annotated[list[str] | None, typer.Option(help="A logged incident's id it cites.")] = None,
    directory: Dir = DEFAULT_DIR, registry: RegistryUrl = None, out_file: OutFile = None,
) -> None:  # fmt: skip
    """Protest a breach, citing clause ids of an exchange or declaration (and incidents)."""
    import os

    with reported():
        authority = _authority(party, key)
        with options_named():
            st = acts.protest(
                authority, _now(), pid=os.urandom(16).hex(), to=to, ref=ref,
                clauses=clauses.split(","), summary=summary, incidents=incident or [],
            )  # fmt: skip
        _deliver(Where(directory, registry), st, out_file, heading=f"protest {st.body['pid']}")


@app.command("reply")
def reply(
    pid: Annotated[str, typer.Argument(help="The protest's id, as `protest` printed it.")],
    party: Party, key: KeyFiles,
    position: Annotated[str, typer.Argument(help="accepts, rejects or neither (the protest's claim).")],
    summary: Summary, directory: Dir = DEFAULT_DIR,
    registry: RegistryUrl = None, out_file: OutFile = None,
) -> None:  # fmt: skip
    """Reply to a protest (position: accepts, rejects or neither)."""
    with reported():
        authority = _authority(party, key)
        with options_named():
            st = acts.reply(authority, _now(), pid, position, summary)
        _deliver(Where(directory, registry), st, out_file)
