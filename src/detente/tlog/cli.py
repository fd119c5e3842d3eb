"""``detente log``: build a log, publish its tiles, prove and verify, back up and restore."""

from __future__ import annotations

import base64
import errno
import sys
from pathlib import Path
from typing import Annotated

import typer

from detente.errors import MalformedError
from detente.shell import LOG_KEY_HELP, log_key_text, progress_bar, reported
from detente.tlog.backup import copy_log, open_backup, rebuild_root, restore_log
from detente.tlog.export import export_tiles, verify_tiles
from detente.tlog.home import LogHome
from detente.tlog.log import Log
from detente.tlog.note import parse_ed25519_vkey
from detente.tlog.proof import format_tlog_proof, verify_tlog_proof
from detente.tlog.storage.sqlite import SQLiteStore

app = typer.Typer(no_args_is_help=True, help="The transparency log: append, checkpoint, prove, verify.")

DirOption = Annotated[Path, typer.Option("--dir", help="The log's folder (key, settings, database).")]


@app.command()
def init(
    directory: DirOption,
    origin: Annotated[
        str, typer.Option(help="The log's name, as in its checkpoints.")
    ] = "detente.example/log",
    database: Annotated[
        str | None, typer.Option(help="postgresql://... URL; default: log.db in the folder.")
    ] = None,
) -> None:
    """Create a log: a new key (mode 0600), settings, and an empty signed tree."""
    with reported():
        log = LogHome(directory).init(origin, database)
        typer.echo(f"created log {origin} in {directory}")
        typer.echo(f"verifier key: {log.log_key.vkey}")
        log.close()


@app.command()
def append(
    directory: DirOption,
    files: Annotated[list[Path] | None, typer.Argument(help="Files to append, one entry each.")] = None,
    lines: Annotated[bool, typer.Option("--lines", help="Append each line of stdin as an entry.")] = False,
) -> None:
    """Append entries (files, or lines of stdin) as one batch and print their indexes."""
    with reported():
        if lines:
            entries = [line.rstrip(b"\n") for line in sys.stdin.buffer]
        else:
            entries = [f.read_bytes() for f in files or []]
        if not entries:
            raise MalformedError("nothing to append: give files, or --lines with input on stdin")
        log = LogHome(directory).open(write=True)
        try:
            done = log.append(entries)
        finally:
            log.close()
        typer.echo(f"appended entries {done.first_index}..{done.first_index + done.count - 1}")
        typer.echo(f"tree size {done.checkpoint.size}")


@app.command()
def checkpoint(directory: DirOption) -> None:
    """Print the current signed checkpoint."""
    with reported():
        log = LogHome(directory).open()
        typer.echo(log.signed_checkpoint, nl=False)
        log.close()


@app.command()
def prove(
    directory: DirOption,
    index: Annotated[int | None, typer.Argument(help="Entry index for an inclusion proof.")] = None,
    consistency: Annotated[
        int | None,
        typer.Option(help="Print a consistency proof from this older tree size instead."),
    ] = None,
) -> None:
    """Print a C2SP tlog-proof@v1 for an entry, or a consistency proof (base64 lines)."""
    with reported():
        log = LogHome(directory).open()
        try:
            if consistency is not None:
                for h in log.consistency_proof(consistency):
                    typer.echo(base64.b64encode(h).decode())
                return
            if index is None:
                raise MalformedError("give an entry INDEX, or --consistency OLD_SIZE")
            proof = log.inclusion_proof(index)
            typer.echo(format_tlog_proof(index, proof, log.signed_checkpoint), nl=False)
        finally:
            log.close()


@app.command()
def verify(
    log_key: Annotated[str, typer.Option("--log-key", help=LOG_KEY_HELP)],
    directory: Annotated[Path | None, typer.Option("--dir", help="Check this log's whole store.")] = None,
    tiles: Annotated[Path | None, typer.Option(help="Check an exported tile folder offline.")] = None,
    proof: Annotated[Path | None, typer.Option(help="A tlog-proof file to check...")] = None,
    entry: Annotated[Path | None, typer.Option(help="...for this entry (its exact bytes).")] = None,
) -> None:
    """Verify offline: a proof file for an entry, an exported tile folder, or a whole store."""
    with reported():
        key = parse_ed25519_vkey(log_key_text(log_key))
        if proof is not None and entry is not None:
            parsed, signed = verify_tlog_proof(_proof_text(proof), entry.read_bytes(), key)
            size = signed.checkpoint.size
            typer.echo(f"OK: entry {parsed.index} is in {key.name} as of checkpoint {size}")
        elif tiles is not None:
            cp = verify_tiles(tiles, key)
            typer.echo(f"OK: {tiles} holds all {cp.size} entries of {key.name}, matching its checkpoint")
        elif directory is not None:
            home = LogHome(directory)
            log = Log.open(home.store(), key, published=home.published)
            try:
                _verify_store(log)
            finally:
                log.close()
            typer.echo(f"OK: every entry and tile of {directory} matches checkpoint {log.size}")
        else:
            raise MalformedError("give --proof and --entry, or --tiles, or --dir")


def _proof_text(path: Path) -> str:
    """A tlog-proof file's text. A proof is UTF-8 text (c2sp.org/tlog-proof), so a file that is not is a
    malformed proof (MalformedError, exit 65), said in one line like any other malformed input."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(f"{path} is not a tlog-proof: it is not UTF-8 text") from exc


def _verify_store(log: Log) -> None:
    """Rebuild the tree from every stored entry and compare with the signed root."""
    with progress_bar("checking entries", log.size) as advance:
        rebuild_root(log, advance)


@app.command("tiles")
def tiles_command(
    directory: DirOption,
    out: Annotated[Path, typer.Argument(help="Folder to write checkpoint and tile/ into.")],
) -> None:
    """Export the checkpoint, hash tiles and entry bundles as static files."""
    with reported():
        log = LogHome(directory).open()
        try:
            with progress_bar("exporting tiles", log.size) as advance:
                count = export_tiles(log, out, advance)
        finally:
            log.close()
        typer.echo(f"wrote {count} files for tree size {log.size} under {out}")


@app.command()
def backup(
    directory: DirOption,
    out: Annotated[Path, typer.Argument(help="New SQLite file to write the backup to.")],
) -> None:
    """Back up the log into a new SQLite file, verified entry by entry."""
    with reported():
        log = LogHome(directory).open()
        try:
            # made here, exclusively: never over a file that exists, even one made a moment ago (exit 73)
            out.open("xb").close()
            try:
                target = SQLiteStore.connect(out, wal=False)  # one file, which a restore reads as it is
                try:
                    with progress_bar("backing up", log.size) as advance:
                        copy_log(log, target, advance)
                finally:
                    target.close()
            except BaseException:  # a full disk, Ctrl-C: no half backup is left under the name asked for
                out.unlink(missing_ok=True)
                raise
        finally:
            log.close()
        typer.echo(f"backed up {log.size} entries (checkpoint {log.size}) to {out}")


@app.command()
def restore(
    directory: DirOption,
    backup_file: Annotated[Path, typer.Argument(help="A file written by `detente log backup`.")],
    force: Annotated[bool, typer.Option(help="Replace the log's current contents.")] = False,
) -> None:
    """Restore a backup into the log's store, as its one writer (refused while another writer runs).

    The whole backup is checked before anything is replaced (an outdated or damaged one is refused and
    the log is left as it was), then the log's contents are swapped in one transaction.
    """
    with reported():
        if backup_file.is_dir():
            raise IsADirectoryError(errno.EISDIR, "a folder, not a backup file", str(backup_file))
        if not backup_file.is_file():
            raise FileNotFoundError(errno.ENOENT, "no such backup file", str(backup_file))
        home = LogHome(directory)
        target = home.store()
        try:
            # checked against the published checkpoint first: a backup older than what was published is a
            # rollback (ForkError, exit 3), refused while the store still holds the newer log
            # read-only: a backup is never written, not even a file named by mistake that holds no log
            source = Log.open(open_backup(backup_file), home.verifier(), published=home.published)
            try:
                with progress_bar("checking, then restoring", 2 * source.size) as advance:
                    restore_log(source, target, force=force, progress=advance)
            finally:
                source.close()
        finally:
            target.close()
        typer.echo(f"restored {source.size} entries into {directory}")
        home.open().close()  # fails closed (ForkError) if the backup is older than what was published
