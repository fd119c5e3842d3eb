"""``detente monitor``: scan, follow, report, generate, score and evaluate (a thin shell)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from detente.errors import ConfigError, DetenteError, MalformedError, exit_code, file_problem

from . import ATTACK_KINDS

if TYPE_CHECKING:
    from rich.console import Console

    from .assets import Asset

# Each command imports the modules it runs: Polars and numpy, the engine and the attribution tables
# are loaded by the commands that read logs, not by `detente --help` or the registry's commands; a
# scan, which is timed against other scanners, loads neither generate, score, evaluate nor follow
# (docs/monitor.md, seventh and eighth sessions), and a quiet one not even rich (sixteenth session).
app = typer.Typer(no_args_is_help=True, help="Find mass attacks in web logs; attribute to territory.")


@cache
def _console() -> Console:
    """The console for errors and notes on standard error, one line each."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def _escape(text: str) -> str:
    """``text`` with rich's markup escaped (rich is imported only when something is printed)."""
    from rich.markup import escape

    return escape(text)


def _summary(doc: dict[str, object]) -> None:
    """The terminal summary of an incident document, on standard output."""
    from rich.console import Console

    from .terminal import summary

    summary(doc, Console())


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar over ``total`` bytes and the call that advances it; None when ``quiet``."""
    if quiet:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=_console(), transient=True) as bar:
        task = bar.add_task("scanning", total=total)
        yield lambda n: bar.advance(task, n)


AssetsOpt = Annotated[Path | None, typer.Option("--assets", help="assets TOML file")]
FormatOpt = Annotated[str, typer.Option("--format", help="common, combined, json, or a log format string")]
TzOpt = Annotated[str, typer.Option("--timezone", help="zone of log times written without offset")]


def _assets(path: Path | None) -> tuple[Asset, ...]:
    from .assets import default_asset, load_assets

    return load_assets(path) if path else (default_asset(),)


def _fail(exc: DetenteError) -> None:
    _console().print(f"[red]error:[/] {_escape(str(exc))}", highlight=False)
    raise typer.Exit(exit_code(exc))


def _zone(name: str) -> str:
    """The ``--timezone``, checked before any line is read (Polars would refuse it mid-scan)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = "give an IANA name such as Europe/Berlin or UTC"
        raise ConfigError(f"unknown time zone {name!r}: {hint}") from exc
    return name


@app.command("scan")
def scan_cmd(
    logs: Annotated[list[str], typer.Argument(help="files, folders or glob patterns")],
    assets: AssetsOpt = None,
    fmt: FormatOpt = "combined",
    timezone: TzOpt = "UTC",
    out: Annotated[Path, typer.Option(help="output folder")] = Path("monitor-out"),
    quiet: Annotated[bool, typer.Option(help="no progress bar or summary")] = False,
) -> None:
    """Scan logs; write incidents.json, evidence.json, incidents.csv and report.html to --out."""
    from .attribution import load
    from .features import Tuning
    from .formats import resolve
    from .html import report as html_report
    from .inputs import expand
    from .output import evidence_document, incident_document, incidents_csv, write_json
    from .pipeline import scan

    try:
        timezone = _zone(timezone)
        files = expand(logs)
        with _progress(sum(f.stat().st_size for f in files), quiet) as progress:
            result = scan(
                files,
                resolve(fmt),
                _assets(assets),
                load,  # the tables load while the first chunks are parsed
                Tuning(),
                timezone,
                progress=progress,
            )
        now = datetime.now(UTC)
        doc = incident_document(result, load(), now)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "incidents.json", doc)
        write_json(out / "evidence.json", evidence_document(result, now))
        (out / "incidents.csv").write_text(incidents_csv(doc), encoding="utf-8")
        (out / "report.html").write_text(html_report(doc), encoding="utf-8")
    except DetenteError as exc:
        _fail(exc)
        return
    except OSError as exc:  # a log or the --out folder cannot be read or written: the shell's codes
        code, advice = file_problem(exc)
        _console().print(f"[red]error:[/] {_escape(f'{exc.filename or out}: {exc.strerror or exc}{advice}')}")
        raise typer.Exit(code) from None
    if not quiet:
        _summary(doc)


@app.command("follow")
def follow_cmd(
    log: Annotated[Path, typer.Argument(help="the log file to follow (rotation is handled)")],
    assets: AssetsOpt = None,
    fmt: FormatOpt = "combined",
    timezone: TzOpt = "UTC",
    from_start: Annotated[bool, typer.Option(help="read the file from its start")] = False,
) -> None:
    """Follow a growing log; print each alert as one JSON line as soon as it is confirmed."""
    from .attribution import load
    from .engine import Engine
    from .follow import FollowCounts, FollowLoop
    from .formats import resolve
    from .inputs import Follower
    from .parse import Parser
    from .pipeline import Scanner

    try:
        chosen = _assets(assets)
        scanner = Scanner(Parser(resolve(fmt), chosen, _zone(timezone)), Engine(chosen, load()))
    except DetenteError as exc:
        _fail(exc)
        return

    def alert(a: dict[str, object]) -> None:
        print(json.dumps(a), flush=True)

    reading = "from its start" if from_start else "from its end (--from-start reads what is already there)"
    waiting = "" if log.exists() else "; it does not exist yet: waiting for it"
    _console().print(f"following {_escape(str(log))} {reading}{waiting}; Ctrl-C stops", highlight=False)

    def counts(c: FollowCounts) -> None:  # every minute and at the end, on standard error
        _console().print(c.sentence(), highlight=False)

    loop = FollowLoop(Follower(log, from_start), scanner, lambda: datetime.now(UTC), alert, counts)
    try:
        loop.run(time.sleep)  # the counts are reported however it ends
    except KeyboardInterrupt:
        return
    except DetenteError as exc:
        _fail(exc)
    finally:
        loop.follower.close()


@app.command("report")
def report_cmd(
    incidents: Annotated[Path, typer.Argument(help="an incidents.json written by scan")],
    html: Annotated[Path | None, typer.Option(help="also write an HTML report here")] = None,
    csv: Annotated[Path | None, typer.Option(help="also write CSV here")] = None,
) -> None:
    """Show an incident document in the terminal; optionally write HTML and CSV."""
    from detente.shell import reported

    from .html import report as html_report
    from .output import incidents_csv, read_incidents

    with reported():  # a file that cannot be read or written: one line and its exit code
        doc = read_incidents(incidents)
        try:
            # rendered before anything is printed: a document edited by hand may lack or mistype a field
            rendered = html_report(doc), incidents_csv(doc)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            what = f"{type(exc).__name__}: {exc}"
            raise MalformedError(f"{incidents} is not a complete incident document ({what})") from None
        if html:
            html.write_text(rendered[0], encoding="utf-8")
        if csv:
            csv.write_text(rendered[1], encoding="utf-8")
    _summary(doc)


@app.command("generate")
def generate_cmd(
    out: Annotated[Path, typer.Option(help="folder for access.log and truth.json")],
    seed: Annotated[int, typer.Option()] = 101,
    hours: Annotated[float, typer.Option()] = 6.0,
    peak_rpm: Annotated[float, typer.Option(help="background requests per minute at peak")] = 300,
    attacks: Annotated[str, typer.Option(help="comma-separated kinds")] = ",".join(ATTACK_KINDS),
    benign: Annotated[str, typer.Option()] = "flash-crowd,login-rush",
) -> None:
    """Write a labelled synthetic log and its truth file."""
    from detente.shell import reported

    from .generate import Mix, generate

    mix = Mix(hours=hours, peak_rpm=peak_rpm, attacks=_split(attacks), benign=_split(benign))
    with reported():  # the --out folder cannot be made or written: one line and its exit code
        out.mkdir(parents=True, exist_ok=True)
        truth = generate(seed, mix, out / "access.log", out / "truth.json")
    _console().print(f"{truth['lines']:,} lines, {len(truth['attacks'])} attacks -> {out}")


def _split(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split(",") if x)


@app.command("score")
def score_cmd(truth: Path, incidents: Path, evidence: Path) -> None:
    """Score incidents against a truth file (precision, recall, sources, timing per kind)."""
    from .score import score_files

    try:
        scores = score_files(truth, incidents, evidence)
    except DetenteError as exc:
        _fail(exc)
        return
    json.dump({k: v.row() for k, v in scores.items()}, sys.stdout, indent=2)
    print()


@app.command("evaluate")
def evaluate_cmd(
    work: Annotated[Path, typer.Option(help="scratch folder for generated logs")] = Path("var/monitor-eval"),
) -> None:
    """Run the fixed evaluation (seeds in evaluation.py) for the detectors and the rate limit."""
    from detente.shell import reported

    from .evaluation import evaluate

    with reported():  # the --work folder cannot be made or written: one line and its exit code
        table = evaluate(work, lambda c: _console().print(f"case seed {c.seed}: {c.mix.attacks}"))
    json.dump(table, sys.stdout, indent=2)
    print()
