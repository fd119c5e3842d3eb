"""The shared part of the assurances CLI: the Typer apps, helpers, registry, keys and party commands.

A thin shell: it reads and writes files and calls the library. Keys are ``detente.key/1`` files (0600).
Every act is signed locally; with ``--out`` the signed envelope is written to a file instead of being
submitted (offline signing: carry the file to a connected machine and ``submit`` it there). The act and
view commands reach the registry through one port (:mod:`detente.registry.client`): the folder ``--dir``,
or a running registry service with ``--registry URL``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from detente.accords.acts import Authority
from detente.errors import (
    ConfigError,
    ConflictError,
    InputError,
    MalformedError,
    TooLargeError,
    VerificationError,
)
from detente.files import NewFiles, create_new
from detente.shell import reported
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.dsse import Envelope, merge_envelopes, pae
from detente.statements.keys import PublicKey, SigningKey
from detente.statements.keysets import Keyset, keyset_body, sign_keyset
from detente.statements.statement import Statement, open_statement
from detente.tlog.home import read_secret, write_secret

from .client import HttpClient, RegistryClient, Submitted, connect, service
from .core import Registry
from .entry import MAX_ENTRY
from .home import RegistryHome, utc_now

app = typer.Typer(no_args_is_help=True, help="Assurances: parties, letters, the fair exchange, evidence.")
keys_app = typer.Typer(no_args_is_help=True, help="Keys, keysets, offline signing, threshold collection.")
party_app = typer.Typer(no_args_is_help=True, help="Parties (operator).")
incident_app = typer.Typer(no_args_is_help=True, help="Incident reports from the monitor.")
app.add_typer(keys_app, name="keys")
app.add_typer(party_app, name="party")
app.add_typer(incident_app, name="incident")
# ids, keys and hashes are copied from the output: never wrapped; and no markup, since what is printed
# (a statement's summary, a service's answer) may hold brackets that Rich would read as style tags
out = Console(soft_wrap=True, markup=False, highlight=False)

# Every path is declared readable=False: Typer's own check of an unreadable file would exit 2 (a usage
# error) before the command runs; the command reads it and reports no permission as 77 (docs/cli.md).
Dir = Annotated[Path, typer.Option("--dir", help="The registry folder.", readable=False)]
KeyFiles = Annotated[
    list[Path], typer.Option("--key", help="Key file(s) of the signing authority.", readable=False)
]
Party = Annotated[str, typer.Option("--party", help="Acting party (ISO 3166-1 alpha-2).")]
OUT_HELP = (
    "Write the signed envelope to this new file instead of submitting it (offline signing; never over an "
    "existing file). A document it cites (an offer's terms, a declaration's text) is written beside it as "
    "SHA256.blob, for `submit --blob`."
)
OutFile = Annotated[Path | None, typer.Option("--out", help=OUT_HELP, readable=False)]
EnvelopeFile = Annotated[Path, typer.Argument(help="A signed envelope file.", readable=False)]
Xid = Annotated[str, typer.Argument(help="The exchange id, as `offer` printed it (32 hex digits).")]
Summary = Annotated[
    str, typer.Argument(help="What it says, in a sentence or a few (at most 4000 characters).")
]
NewFile = Annotated[
    Path, typer.Option("--out", help="The file to write (a new one: never overwritten).", readable=False)
]
RegistryUrl = Annotated[
    str | None,
    typer.Option(
        "--registry", help="A registry service's URL, e.g. http://127.0.0.1:8000 (instead of --dir)."
    ),
]
DEFAULT_DIR = Path("var/registry")


@dataclass(frozen=True)
class Where:
    """The registry a command works on: the service at ``url`` if given, else the folder ``directory``."""

    directory: Path
    url: str | None = None

    def connect(self) -> AbstractContextManager[RegistryClient]:
        """Open it for one step of a command (a local folder holds the writer lock while open)."""
        return connect(self.directory, self.url)


def read_given_secret(path: Path, what: str = "key file") -> str:
    """A secret file named on the command line (``what``: a key file, a nonce file). One that does not
    exist is a file not found (exit 66, check the path): a configuration error (78) is a home's own key
    gone missing."""
    path.stat()
    return read_secret(path, what)


def read_envelope_file(path: Path) -> bytes:
    """The bytes of a signed envelope file, read no further than an envelope can be: one over the size
    of a log entry is refused (65) having read only that much, however large the file (a mistaken
    ``submit`` of a 300 MB file read it whole)."""
    with path.open("rb") as file:
        data = file.read(MAX_ENTRY + 1)
    if len(data) > MAX_ENTRY:
        raise TooLargeError(
            f"{path} is over {MAX_ENTRY} bytes, the most a signed envelope can be (a log entry's limit): "
            "is it the envelope file?"
        )
    return data


def envelope_file(path: Path) -> Envelope:
    """The signed envelope in the file ``path`` (:func:`read_envelope_file`); a refusal names the file."""
    data = read_envelope_file(path)
    with _naming(path):
        return Envelope.decode(data)


def statement_file(path: Path) -> Statement:
    """The statement in the envelope file ``path``; a refusal names the file."""
    envelope = envelope_file(path)
    with _naming(path):
        return open_statement(envelope)


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Prefix the message of bad input read from ``path`` with it: a user may have given several."""
    try:
        yield
    except InputError as error:
        raise type(error)(f"{path}: {error}") from None


def key_file(path: Path) -> SigningKey:
    """The signing key in the key file ``path`` (0600); a refusal names the file."""
    text = read_given_secret(path)
    with _naming(path):
        return SigningKey.from_file(text.encode())


def _keys(files: list[Path]) -> tuple[SigningKey, ...]:
    return tuple(key_file(f) for f in files)


# The schema names what it refuses by its place in the statement; the user typed an option. Where a
# place is an option's, the refusal names the option and what it takes.
PARTY_CODE = "a state's ISO 3166-1 alpha-2 code in capitals, such as RU"
OPTIONS_BY_PLACE = {
    "$.party": ("--party", PARTY_CODE),
    "$.body.to": ("--to", PARTY_CODE),
    "$.body.version": ("--version", "1 for a party's first keyset, then one more than its --previous one"),
    "$.body.roles.root.threshold": ("--root-threshold", "1 to 16, and no more than the --root keys"),
    "$.body.clauses": ("--clauses", "1 to 16 clause ids, such as L1,M1"),
    "$.body.notice_days": ("--notice-days", "0 to 3650"),
    "$.body.ref": ("the exchange or declaration id", "32 hex digits, as `offer` or `declare` printed it"),
    "$.body.pid": ("PID", "32 hex digits, as `protest` printed it"),
    "$.body.effective": ("EFFECTIVE", "a UTC time such as 2030-01-01T00:00:00Z"),
    "$.body.position": ("POSITION", "accepts, rejects or neither"),
    "$.body.reason": ("--reason", "at most 4000 characters"),
    "$.body.summary": ("SUMMARY", "at most 4000 characters"),
}


@contextmanager
def options_named() -> Iterator[None]:
    """Around the signing of a statement built from options: a value the schema refuses is named by
    its option (only there: a statement read from a file was typed by no one here)."""
    try:
        yield
    except MalformedError as error:
        message = str(error)
        for place, (option, takes) in OPTIONS_BY_PLACE.items():
            if message.startswith(place) and message[len(place) : len(place) + 1] in (" ", "["):
                raise MalformedError(f"{option} is refused: {message} (it takes {takes})") from None
        raise


def _authority(party: str, files: list[Path]) -> Authority:
    return Authority(party, _keys(files))


def _now() -> str:
    return format_time(utc_now())


def _deliver(
    where: Where,
    st: Statement,
    out_file: Path | None,
    blobs: tuple[bytes, ...] = (),
    heading: str = "",
    files: NewFiles | None = None,
) -> None:
    """Write the envelope to a file (offline), or submit it and print the receipt.

    ``heading`` (the new exchange's or declaration's id) is printed first, once the statement is
    written or accepted: an id is never printed for an act that was refused. ``files``: the command's
    files, when it writes others with the envelope (a nonce), so that all of them are removed if any
    step fails, printing included."""
    if out_file is not None:
        with nullcontext(files) if files is not None else NewFiles() as new:
            write_signed(new, st, out_file, blobs)
        if heading:
            out.print(heading)
        out.print(f"signed {st.kind} {st.sid} -> {out_file}")
        return
    with where.connect() as reg:
        receipt = reg.submit(st.envelope.encode(), blobs)
    if heading:
        out.print(heading)
    _report(receipt)


def write_signed(new: NewFiles, st: Statement, out_file: Path, blobs: tuple[bytes, ...] = ()) -> None:
    """Create ``out_file`` holding the envelope, and beside it each blob it cites as ``SHA256.blob``
    (what ``submit --blob`` takes), each a new file: an existing file is never overwritten (a mistyped
    ``--out`` naming a key must not destroy it), and ``new`` removes them all if one cannot be written."""
    new.create(out_file, st.envelope.encode() + b"\n")
    for blob in blobs:
        new.create_content_addressed(out_file.parent / f"{sha256_hex(blob)}.blob", blob)


def _report(receipt: Submitted) -> None:
    if receipt.index is None:
        out.print(f"{receipt.kind} received, not yet integrated (sid {receipt.sid}): ask again later")
        return
    decision = f"; notary decision: {receipt.decision}" if receipt.decision else ""
    out.print(f"{receipt.kind} logged at index {receipt.index} (sid {receipt.sid}){decision}")


@contextmanager
def _open(home: Path) -> Iterator[Registry]:
    """Open a registry for one command and close its log (and writer lock) afterwards."""
    registry = RegistryHome(home).open()
    try:
        yield registry
    finally:
        close = getattr(registry.log, "close", None)
        if close is not None:
            close()


EXCHANGE_ID = re.compile(r"[0-9a-f]{32}")


def exchange_id(xid: str) -> str:
    """``xid`` if it can be an exchange id (32 hex digits): one that cannot is bad input (65) before any
    registry is asked, so a folder and a service refuse it alike (a service checks the form itself)."""
    if not EXCHANGE_ID.fullmatch(xid):
        raise MalformedError(
            f"{xid[:80]!r} is not an exchange id: one is 32 hex digits, as `offer` prints it"
        )
    return xid


def _m1(reg: RegistryClient, xid: str) -> Statement:
    return reg.statement(str(reg.exchange(exchange_id(xid))["offer"]))


def _m2(reg: RegistryClient, xid: str) -> Statement:
    accept = reg.exchange(xid)["accept"]
    if accept is None:
        raise ConflictError(f"exchange {xid} has no logged acceptance")
    return reg.statement(str(accept))


# --- registry and keys ----------------------------------------------------------------------------


@app.command("init")
def init(
    directory: Dir = DEFAULT_DIR,
    origin: Annotated[
        str,
        typer.Option(help="The log's name, in its checkpoints and its key, such as registry.example.org."),
    ] = "detente.registry",
    notary_name: Annotated[str, typer.Option(help="The notary's name, as the registry shows it.")] = "notary",
) -> None:
    """Create a registry: a log, a notary key (apart from the log key), a blob folder."""
    with reported():
        home = RegistryHome(directory)
        home.init(origin, notary_name)
        out.print(f"registry created in {directory}; log key: {home.log_key().vkey}")
        out.print(f"notary key: {home.notary()[0].public.b64}")


@keys_app.command("new")
def keys_new(
    path: Annotated[
        Path, typer.Argument(help="The key file to create (0600; never over a file).", readable=False)
    ],
) -> None:
    """Create an Ed25519 key file (0600) and print its key id."""
    with reported():
        key = SigningKey.generate(os.urandom)
        write_secret(path, key.to_file().decode())
        out.print(f"{key.keyid} {key.public.b64}")


KeyOrPublic = Annotated[
    list[str],
    typer.Option(help="A key file (it signs too), or a public key in base64 (as `keys new` prints it)."),
]


def _listed(values: list[str]) -> tuple[list[PublicKey], list[SigningKey]]:
    """The keys a keyset lists, each given as a key file or as a public key in base64, and the key files
    among them. A keyset's keys need not meet: the key files given sign it, the other holders sign
    copies of it (`keys sign`) that `keys collect` merges."""
    public, files = [], []
    for value in values:
        path = Path(value)
        if path.is_file():
            key = key_file(path)
            public.append(key.public)
            files.append(key)
            continue
        try:
            public.append(PublicKey.from_b64(value))
        except MalformedError:
            raise MalformedError(f"{value[:60]} is neither a key file nor a public key in base64") from None
    return public, files


@keys_app.command("keyset")
def keys_keyset(
    party: Party,
    root: KeyOrPublic,
    out_file: NewFile,
    minister: KeyOrPublic,
    cert: Annotated[list[str] | None, typer.Option(help="As --root: a key file or a public key.")] = None,
    root_threshold: Annotated[
        int, typer.Option(help="How many of the --root keys must sign the next version (1 to their number).")
    ] = 1,
    version: Annotated[
        int, typer.Option(help="1 for a party's first keyset; then one more than --previous's.")
    ] = 1,
    previous: Annotated[
        Path | None, typer.Option(help="The keyset this version follows (its file).", readable=False)
    ] = None,
    sign_with: Annotated[
        list[Path] | None, typer.Option(help="Current root keys (for a new version).", readable=False)
    ] = None,
) -> None:
    """Build a keyset version (roles: root, foreign-minister, cert), signed by the root key files given."""
    with reported():
        prev = envelope_file(previous) if previous else None
        if version < 1:  # checked by the schema too, which names no option
            raise MalformedError(f"--version takes 1 or more (1 for a party's first keyset), not {version}")
        (roots, signers), (ministers, _), (certs, _) = (_listed(v) for v in (root, minister, cert or []))
        roles = {"root": (roots, root_threshold), "foreign-minister": (ministers, 1)}
        if certs:
            roles["cert"] = (certs, 1)
        prev_sid = sha256_hex(prev.payload) if prev else None
        body = keyset_body(version, prev_sid, roles)
        with options_named():
            st = sign_keyset(party, _now(), body, (*signers, *_keys(sign_with or [])))
        Keyset.from_statement(st)  # a threshold above its keys would be refused only when registered
        create_new(out_file, st.envelope.encode() + b"\n")  # never over a file: it may be a key
        signed = len(st.envelope.signatures)
        out.print(f"keyset v{version} of {party} -> {out_file} ({signed} signature(s))")


@keys_app.command("sign")
def keys_sign(envelope: EnvelopeFile, key: KeyFiles) -> None:
    """Add signatures to an envelope file, offline (for a threshold, each signer signs its copy).

    It says what is signed (kind, party, date, and a keyset's version) and signs only a statement that
    opens: a signer offline sees what it vouches for.
    """
    with reported():
        st = statement_file(envelope)
        signed = st.envelope.add(_keys(key))
        envelope.write_bytes(signed.encode() + b"\n")
        version = f" version {st.body['version']}" if st.kind == "keyset" else ""
        out.print(f"signed the {st.kind}{version} of {st.party} issued {st.issued} (sid {st.sid})")
        out.print(f"{len(signed.signatures)} signature(s) on {envelope}")


@keys_app.command("collect")
def keys_collect(
    files: Annotated[list[Path], typer.Argument(help="The signed copies of one envelope.", readable=False)],
    out_file: NewFile,
    keyset: Annotated[
        list[Path] | None,
        typer.Option(
            help="A keyset file of the party whose keys sign (a keyset's own keys are known).", readable=False
        ),
    ] = None,
) -> None:
    """Merge the signatures of several copies of one envelope (threshold collection).

    Each signature by a key it knows is verified first (the keys a keyset statement lists, and those of
    the --keyset files): a copy changed after signing, or signed over another statement, is named and
    nothing is written.
    """
    with reported():
        copies = {f: envelope_file(f) for f in files}
        known = _signers_known(statement_file(files[0]), keyset or [])
        for path, copy in copies.items():  # each copy first, so that the one at fault is named
            message = pae(copy.payload_type, copy.payload)
            for signature in copy.signatures:
                key = known.get(signature.keyid)
                if key is not None and not key.verify(message, signature.sig):
                    raise VerificationError(
                        f"the signature by key {signature.keyid[:16]}... in {path} does not verify: that "
                        "copy was changed after it was signed; nothing was written"
                    )
        merged = merge_envelopes(copies.values())
        open_statement(merged)  # the merged envelope is a statement still (each copy's payload is one)
        create_new(out_file, merged.encode() + b"\n")  # never over a file, even one of the copies
        checked = sum(s.keyid in known for s in merged.signatures)
        unknown = len(merged.signatures) - checked
        note = f"; {unknown} by keys not given (--keyset checks them)" if unknown else ""
        out.print(f"{len(merged.signatures)} signature(s) -> {out_file} ({checked} verified{note})")


def _signers_known(st: Statement, keyset_files: list[Path]) -> dict[str, PublicKey]:
    """The keys that may sign ``st`` and that ``keys collect`` can know: a keyset statement's own, and
    those of the party's keyset files given."""
    known = dict(Keyset.from_statement(st).keys) if st.kind == "keyset" else {}
    for path in keyset_files:
        version = Keyset.from_statement(statement_file(path))
        if version.party != st.party:
            raise MalformedError(f"{path} is a keyset of {version.party}, not of {st.party}")
        known.update(version.keys)
    return known


@party_app.command("register")
def party_register(
    envelope: Annotated[Path, typer.Argument(help="The party's first keyset file.", readable=False)],
    directory: Dir = DEFAULT_DIR,
    registry: RegistryUrl = None,
    operator_key: Annotated[
        Path | None,
        typer.Option(
            help="With --registry: the operator's notary key file (DIR/notary.key).", readable=False
        ),
    ] = None,
) -> None:
    """Register a party's first, self-signed keyset (the operator's trust-on-first-use act, public)."""
    with reported():
        data = read_envelope_file(envelope)
        if registry is None:
            with _open(directory) as reg:
                index = reg.submit(data, register=True).index
        else:
            if operator_key is None:
                raise ConfigError("registering over --registry needs --operator-key (the notary key file)")
            with service(registry) as http:
                answer = HttpClient(http).register(data, _keys([operator_key])[0])
            if answer.index is None:
                _report(answer)
                return
            index = answer.index
        out.print(f"registered at index {index}")


@app.command("submit")
def submit(
    envelope: EnvelopeFile,
    directory: Dir = DEFAULT_DIR,
    blob: Annotated[
        list[Path] | None,
        typer.Option(
            help="A document the statement cites (the SHA256.blob written beside it).", readable=False
        ),
    ] = None,
    registry: RegistryUrl = None,
) -> None:
    """Submit a signed envelope file (signed offline), with the blobs it cites."""
    with reported():
        data = read_envelope_file(envelope)  # the files first: a registry is opened for nothing else
        envelope_file(envelope)  # an envelope that cannot be read is named as the file it is
        blobs = [b.read_bytes() for b in blob or []]
        with Where(directory, registry).connect() as reg:
            _report(reg.submit(data, blobs))
