"""``detente audit URL``: follow a registry as an independent auditor; any difference is an alarm."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from detente.shell import LOG_KEY_HELP, err, log_key_text, reported
from detente.statements.keys import PublicKey
from detente.tlog.note import parse_ed25519_vkey

if TYPE_CHECKING:
    from detente.audit.evidence import Evidence

ALARM_EXIT = 3
# EX_TEMPFAIL: the registry could not be reached, or serves an older checkpoint consistent with the one
# held (stale); nothing is known against it
UNAVAILABLE_EXIT = 75


def keep_evidence(state: Path, evidence: Evidence) -> Path:
    """Write an alarm's evidence (signed checkpoints, what they show, proofs) to a new file in ``state``."""
    moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = state / f"evidence-{moment}.txt"
    path.write_text(evidence.text(), encoding="utf-8")
    return path


def audit_command(
    url: Annotated[str, typer.Argument(help="The registry's base URL (or any static mirror of its tiles).")],
    log_key: Annotated[
        str, typer.Option("--log-key", help=f"{LOG_KEY_HELP} Obtain it independently of the registry.")
    ],
    state: Annotated[Path, typer.Option(help="Folder for the auditor's own copy of the log.")] = Path(
        "var/audit"
    ),
    follow: Annotated[bool, typer.Option(help="Keep following: one step every --interval seconds.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between steps with --follow.")] = 10.0,
    notary_key: Annotated[
        str | None,
        typer.Option(help="The notary's public key (base64), to rebuild and compare the projections too."),
    ] = None,
) -> None:
    """Check each new checkpoint against the last one seen, fetch every entry, rebuild and compare."""
    import httpx  # the auditor's modules and its HTTP client are loaded by this command alone

    from detente.audit.follow import Auditor
    from detente.audit.mirror import Mirror
    from detente.audit.projection import projection_check

    with reported():
        key = parse_ed25519_vkey(log_key_text(log_key))
        state.mkdir(parents=True, exist_ok=True)
        mirror = Mirror(state / "mirror.db")
        try:
            with httpx.Client(base_url=url.rstrip("/"), timeout=30) as http:
                check = None if notary_key is None else projection_check(PublicKey.from_b64(notary_key), key)
                auditor = Auditor(http, key, mirror, check)
                while True:
                    report = auditor.step()
                    for alarm in report.alarms:
                        err.print(f"[bold red]ALARM:[/] {escape(alarm)}", highlight=False)
                    if report.evidence is not None:
                        kept = keep_evidence(state, report.evidence)
                        err.print(
                            f"evidence (signed checkpoints) kept in {escape(str(kept))}", highlight=False
                        )
                    if report.unavailable is not None:
                        why = escape(report.unavailable)
                        err.print(f"[yellow]unavailable:[/] {why}; try again", highlight=False)
                    if report.stale is not None:
                        err.print(f"[yellow]stale:[/] {escape(report.stale)}; try again", highlight=False)
                    typer.echo(
                        f"size {report.size}: {report.new_entries} new entries, {len(report.alarms)} alarms"
                    )
                    if not follow:
                        if report.alarms:
                            raise typer.Exit(ALARM_EXIT)
                        if report.unavailable is not None or report.stale is not None:
                            raise typer.Exit(UNAVAILABLE_EXIT)
                        return
                    time.sleep(interval)
        finally:
            mirror.close()
