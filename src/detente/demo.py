"""``detente demo``: a short demonstration of the transparency log on the embedded SQLite default."""

from __future__ import annotations

from pathlib import Path

import typer

from detente.tlog import merkle
from detente.tlog.home import LogHome
from detente.tlog.proof import format_tlog_proof, verify_tlog_proof

SAMPLE = [
    b"1933-11-16 SU: note of Litvinov to Roosevelt, four pledges of non-interference",
    b"1933-11-16 US: note of Roosevelt to Litvinov, reciprocal adherence",
    b"2018-06-07 RU: draft letter of mutual assurances offered to US",
    b"2018-07-16 US: offer refused before the Helsinki summit",
]


def run_demo(directory: Path) -> None:
    """Create (or reopen) a log, append entries, print the checkpoint, prove and verify."""
    home = LogHome(directory)
    if (directory / "config.json").exists():
        log = home.open(write=True)
        typer.echo(f"reopened the log in {directory} ({log.size} entries)")
    else:
        log = home.init("detente.example/demo")
        typer.echo(f"created a log in {directory}; its verifier key is\n  {log.log_key.vkey}")
    try:
        old_size, old_root = log.size, log.checkpoint.root
        done = log.append(SAMPLE)
        typer.echo(f"\nappended entries {done.first_index}..{done.first_index + done.count - 1}")
        typer.echo("\nsigned checkpoint (C2SP tlog-checkpoint):\n")
        typer.echo("  " + log.signed_checkpoint.replace("\n", "\n  "))
        index = done.first_index + 2
        proof = format_tlog_proof(index, log.inclusion_proof(index), log.signed_checkpoint)
        verify_tlog_proof(proof, SAMPLE[2], log.log_key)
        typer.echo(f"inclusion proof of entry {index} (C2SP tlog-proof@v1): verified offline")
        if old_size:
            merkle.verify_consistency(
                old_size, log.size, old_root, log.checkpoint.root, log.consistency_proof(old_size)
            )
            typer.echo(f"consistency proof {old_size} -> {log.size}: verified (the log only grew)")
    finally:
        log.close()
    typer.echo(f"\nnext: `detente log tiles --dir {directory} OUT` exports static tiles; see README.md")
