"""The read commands and the rest: status, timeline, offers, lapse, bundle, verify, example, incidents.

The reads (status, timeline, offers, bundle) and ``incident submit`` work on ``--dir`` or ``--registry URL``;
``lapse`` and ``example`` are the operator's, on the folder only."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.table import Table

from detente.accords.projection import Projection
from detente.errors import MalformedError
from detente.files import create_new
from detente.monitor import EVIDENCE_SCHEMA
from detente.monitor import SCHEMA as INCIDENTS_SCHEMA
from detente.monitor.documents import read_document
from detente.shell import LOG_KEY_HELP, log_key_text, reported
from detente.statements.canonical import parse_time
from detente.tlog.home import write_secret
from detente.tlog.note import parse_ed25519_vkey

from .bundle import check_bundle_size, verify_bundle
from .claims import CLAIM_TYPES
from .cli_common import (
    DEFAULT_DIR,
    Dir,
    KeyFiles,
    NewFile,
    Party,
    RegistryUrl,
    Where,
    _authority,
    _open,
    app,
    exchange_id,
    incident_app,
    out,
)
from .client import RegistryClient
from .example import build_example
from .home import RegistryHome, utc_now
from .incidents import check_evidence, incident_statements


def _acts_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """Acts as ``views.act_json`` gives them, whether read from a folder or from a service."""
    table = Table(title=title)
    for column in ("index", "issued", "received", "kind", "party", "to", "ref"):
        table.add_column(column, overflow="fold")  # a narrow terminal folds a date or an id, never cuts it
    for a in rows:
        table.add_row(
            str(a["index"]), a["issued"], a["received"], a["kind"], a["party"], a["counterparty"] or "",
            a["ref"] or "",
        )  # fmt: skip
    return table


@app.command("status")
def status(
    directory: Dir = DEFAULT_DIR,
    xid: Annotated[
        str | None, typer.Option(help="Only this exchange (its id, as `offer` printed it).")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="What is in force at this time, such as 2030-01-01T00:00:00Z (UTC).")
    ] = None,
    registry: RegistryUrl = None,
) -> None:
    """Exchanges and their phases; or one exchange; with what is in force.

    Everything is read before anything is printed: a bad --at or an unknown --xid is refused alone."""
    with reported():
        when = _at(at) if at else utc_now()
        with Where(directory, registry).connect() as reg:
            if xid is not None:
                reg.exchange(
                    exchange_id(xid)
                )  # one that does not exist is refused (66), not shown as an empty table
            size, exchanges, declarations = reg.size(), reg.exchanges(), reg.declarations(when)
        table = Table(title=f"exchanges (log size {size})")
        table.add_column("xid", min_width=32, no_wrap=True)  # copied into the next command: never cut
        for column in ("from", "to", "phase", "deadline"):
            table.add_column(column, overflow="fold")
        for ex in exchanges:
            if xid is None or ex["xid"] == xid:
                table.add_row(ex["xid"], ex["originator"], ex["responder"], ex["phase"], ex["deadline"])
        out.print(table)
        for d in declarations:
            state = "in force" if d["in_force"] else "not in force"
            if d["terminated"]:
                state += f", terminated with effect from {d['terminated']}"
            clauses = ", ".join(d["clauses"])
            out.print(f"declaration {d['did']} by {d['party']} to {d['to'] or 'all'}: {state} ({clauses})")


def _at(value: str) -> datetime:
    """The time ``--at`` gives."""
    try:
        return parse_time(value)
    except MalformedError as error:
        raise MalformedError(f"--at {error}, such as 2030-01-01T00:00:00Z") from None


@app.command("timeline")
def timeline(
    a: Annotated[str, typer.Argument(help="One party (ISO 3166-1 alpha-2).")],
    b: Annotated[str, typer.Argument(help="The other party.")],
    directory: Dir = DEFAULT_DIR,
    registry: RegistryUrl = None,
) -> None:
    """Every act between two parties, in log order, with what is in force now."""
    with reported(), Where(directory, registry).connect() as reg:
        state = reg.between(a, b, utc_now())
        out.print(_acts_table(f"{a} - {b}", state["timeline"]))
        out.print(f"in force now: {', '.join(state['in_force']) or 'nothing'}")
        out.print(f"clauses in force now: {', '.join(state['clauses']) or 'none'}")


@app.command("offers")
def offers(
    party: Annotated[str, typer.Argument(help="The party (ISO 3166-1 alpha-2).")],
    directory: Dir = DEFAULT_DIR,
    registry: RegistryUrl = None,
) -> None:
    """Every offer, counter-offer and refusal made by a party."""
    with reported(), Where(directory, registry).connect() as reg:
        out.print(_acts_table(f"offers and refusals by {party}", reg.offers(party)))


@app.command("lapse")
def lapse(directory: Dir = DEFAULT_DIR) -> None:
    """The notary's clock: log `lapsed` for every exchange past its deadline without decision or contract."""
    with reported(), _open(directory) as reg:
        lapsed = reg.lapse()
        out.print(f"lapsed: {', '.join(lapsed) or 'none'}")


@app.command("bundle")
def bundle(
    claim: Annotated[str, typer.Argument(help=f"What the bundle proves: {', '.join(CLAIM_TYPES)}.")],
    ref: Annotated[str, typer.Argument(help="The exchange, declaration, protest or incident id.")],
    out_file: NewFile,
    directory: Dir = DEFAULT_DIR,
    registry: RegistryUrl = None,
) -> None:  # fmt: skip
    """Write a claim's evidence bundle (a claim type, such as offered or concluded); verify it offline."""
    with reported(), Where(directory, registry).connect() as reg:
        create_new(out_file, reg.bundle(claim, ref))  # never over an existing file
        out.print(f"bundle -> {out_file}")


@app.command("verify")
def verify(
    path: Annotated[Path, typer.Argument(help="The evidence bundle file.", readable=False)],
    log_key: Annotated[str, typer.Option("--log-key", help=LOG_KEY_HELP)],
) -> None:
    """Verify an evidence bundle offline: no server, no database. Says plainly what is proven, as of when."""
    with reported():
        key = parse_ed25519_vkey(log_key_text(log_key))
        check_bundle_size(path.stat().st_size)  # before reading a hostile file whole
        result = verify_bundle(path.read_bytes(), key)
        out.print(result.describe(), highlight=False)


@app.command("example")
def example(directory: Dir = Path("var/example")) -> None:
    """Build the example record: 1933 concluded, 2017/2018 refused, a declaration, a protest, a reply."""
    with reported():
        home = RegistryHome(directory)
        home.init("detente.example", "notary")
        with _open(directory) as reg:
            record = build_example(reg, os.urandom)
        keys = directory / "keys"
        keys.mkdir(exist_ok=True, mode=0o700)
        for party, roles in record.keys.items():
            for role, key in roles.items():
                write_secret(keys / f"{party}-{role}.key", key.to_file().decode())
        (directory / "example.json").write_text(json.dumps(record.ids, indent=2) + "\n", encoding="utf-8")
        for name, ref in record.ids.items():
            out.print(f"{name}: {ref}")
        out.print(f"keys in {keys}; log key {home.log_home.path / 'log.vkey'}")


class _ClausesInForce:
    """The one part of the projection ``incident_statements`` reads, asked of the registry."""

    def __init__(self, reg: RegistryClient) -> None:
        self.reg = reg

    def clauses_in_force(self, a: str, b: str, at: datetime) -> list[str]:
        return list(self.reg.between(a, b, at)["clauses"])


@incident_app.command("submit")
def incident_submit(
    incidents: Annotated[Path, typer.Argument(help="The monitor's incidents.json.", readable=False)],
    party: Party, key: KeyFiles, directory: Dir = DEFAULT_DIR,
    approve: Annotated[list[str] | None, typer.Option(help="Approved incident ids (or --all).")] = None,
    approve_all: Annotated[bool, typer.Option("--all", help="Approve every incident in the file.")] = False,
    registry: RegistryUrl = None,
) -> None:  # fmt: skip
    """Sign approved monitor incidents as `incident` statements (one per origin state) with a `cert` key."""
    with reported():
        document = read_document(incidents, INCIDENTS_SCHEMA)  # the file first: no registry for a typo
        _submit_incidents(document, party, key, approve, approve_all, Where(directory, registry))


def _submit_incidents(
    document: dict[str, Any], party: str, key: list[Path], approve: list[str] | None, approve_all: bool,
    where: Where,
) -> None:  # fmt: skip
    """Sign the approved incidents of a monitor document and submit those not reported already."""
    with where.connect() as reg:
        chosen = None if approve_all else (approve or [])
        clauses = cast(Projection, _ClausesInForce(reg))
        statements = incident_statements(
            document, chosen, _authority(party, key), clauses, reg.now(), os.urandom
        )
        # A run that stopped half way (killed, or refused after its first states) is finished by running
        # it again: what was reported already is skipped, not refused.
        reported_as = {(i["party"], i["to"], i["evidence"]): i["iid"] for i in reg.incidents()}
        for st in statements:
            done = reported_as.get((st.party, st.body["to"], st.body["evidence"]))
            if done is not None:
                out.print(f"monitor incident {st.body['monitor_id']} ({st.body['to']}): reported already "
                          f"as incident {done}, skipped")  # fmt: skip
                continue
            receipt = reg.submit(st.envelope.encode())
            logged = "not yet integrated" if receipt.index is None else f"at index {receipt.index}"
            out.print(f"incident {st.body['iid']} ({st.body['to']}) {logged}, sid {st.sid}")
        if not statements:
            out.print(f"nothing to submit: no approved incident has an origin state other than {party}")


@incident_app.command("check-evidence")
def incident_check_evidence(
    sid: Annotated[str, typer.Argument(help="The public incident statement's id.")],
    evidence: Annotated[
        Path, typer.Argument(help="The evidence file the reporting party handed over.", readable=False)
    ],
    directory: Dir = DEFAULT_DIR, registry: RegistryUrl = None,
) -> None:  # fmt: skip
    """Check an evidence file received from the reporting party against the digest it signed in public."""
    with reported(), Where(directory, registry).connect() as reg:
        statement = reg.statement(sid)
        entry = check_evidence(statement, read_document(evidence, EVIDENCE_SCHEMA))
        out.print(
            f"OK: the evidence of monitor incident {entry['incident']} is what {statement.party} signed in "
            f"{sid[:16]}...: {len(entry['sources'])} sources, {len(entry['sample'])} sample lines"
        )
