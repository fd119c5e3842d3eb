"""The auditor follows a real server: it tells a fork from tampered entries, a stale mirror, a damaged
copy."""

from __future__ import annotations

import base64
import itertools
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from typer.testing import CliRunner

from detente.audit.evidence import Evidence
from detente.audit.follow import Auditor
from detente.audit.mirror import Mirror
from detente.cli import app as detente_app
from detente.http import problems
from detente.http.logapi import SharedLog, log_router
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.export import export_tiles
from detente.tlog.log import Log
from detente.tlog.merkle import verify_consistency
from detente.tlog.note import Signer
from detente.tlog.storage import MemoryStore
from detente.tlog.tiles import decode_entry_bundle, encode_entry_bundle
from tests.httpserver import serve

KEY = Signer.generate("audited.example/log")


class SwappableLog(SharedLog):
    """A served log that can be replaced under the auditor's feet (a misbehaving operator)."""

    def swap(self, log: Log) -> None:
        self._log = log


def app_for(shared: SharedLog) -> FastAPI:
    app = FastAPI()
    problems.install(app)
    app.include_router(log_router(shared))
    return app


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[Callable[[str], Auditor]]:
    """Make the auditor of a served URL; clients and the mirror are closed afterwards."""
    mirror = Mirror(tmp_path / "mirror.db")
    clients: list[httpx.Client] = []

    def make(url: str) -> Auditor:
        clients.append(httpx.Client(base_url=url))
        return Auditor(clients[-1], KEY.verifier(), mirror)

    yield make
    for client in clients:
        client.close()
    mirror.close()


def static_mirror(folder: Path) -> FastAPI:
    """A plain static file server of exported tiles, as any mirror or CDN would be."""
    app = FastAPI()
    app.mount("/", StaticFiles(directory=folder))
    return app


def grow(log: Log, n: int, tag: str = "e") -> None:
    log.append([f"{tag}{log.size + i}".encode() for i in range(n)])


def made(size: int, tag: str = "e") -> Log:
    """A log of ``size`` entries; logs made with one tag are one history, whatever their sizes."""
    log = Log.create(MemoryStore(), KEY)
    grow(log, size, tag)
    return log


def exported(folder: Path, size: int) -> Log:
    """A log of ``size`` entries, its tiles exported to ``folder``."""
    log = made(size)
    export_tiles(log, folder)
    return log


def test_following_an_honest_log(audit: Callable[[str], Auditor]) -> None:
    log = Log.create(MemoryStore(), KEY)
    grow(log, 300)
    with serve(app_for(SharedLog(log))) as url:
        auditor = audit(url)
        assert auditor.step().alarms == ()
        grow(log, 20)
        report = auditor.step()
        assert (report.size, report.new_entries, report.alarms) == (320, 20, ())
        assert auditor.step().new_entries == 0


def offline_verdict(evidence: Evidence | None) -> str:
    """Check an alarm's evidence as anyone could, offline, with the log key and RFC 9162 alone: whether
    the two signed checkpoints are one history ("consistent") or a fork."""
    assert evidence is not None
    assert evidence.held is not None
    a, b = sorted(
        (open_checkpoint(n, KEY.verifier()).checkpoint for n in (evidence.served, evidence.held)),
        key=lambda cp: cp.size,
    )
    lines = iter(evidence.details)
    head = next(line for line in lines if line.startswith(f"root of the first {a.size} leaves"))
    prefix = base64.b64decode(head.rsplit(" ", 1)[1])
    assert next(lines).startswith(f"consistency proof from size {a.size} to {b.size}")
    hashes = itertools.takewhile(lambda line: re.fullmatch(r"[A-Za-z0-9+/]{43}=", line), lines)
    verify_consistency(a.size, b.size, prefix, b.root, [base64.b64decode(h) for h in hashes])  # tree b's
    return "consistent" if prefix == a.root else "fork"


def test_a_fork_and_a_rollback_raise_alarms_and_a_stale_checkpoint_does_not(
    audit: Callable[[str], Auditor],
) -> None:
    shared = SwappableLog(made(10))
    with serve(app_for(shared)) as url:
        auditor = audit(url)
        assert auditor.step().alarms == ()
        shared.swap(made(12, tag="rewritten"))
        report = auditor.step()
        assert any("does not extend checkpoint 10: a fork" in a for a in report.alarms), report.alarms
        assert offline_verdict(report.evidence) == "fork"
        shared.swap(made(4))  # the first 4 entries of the same history: an older checkpoint of it
        report = auditor.step()
        assert (report.alarms, report.evidence) == ((), None), "a mirror behind proves nothing"
        assert report.stale is not None
        assert "checkpoint 4, older than checkpoint 10" in report.stale
        shared.swap(made(4, tag="rewritten"))
        report = auditor.step()
        assert any("a rollback to another history" in a for a in report.alarms), report.alarms
        assert offline_verdict(report.evidence) == "fork"
    assert auditor.mirror.size == 10, "nothing from a bad step is kept"


def test_entries_tampered_by_a_mirror_are_not_called_a_fork(
    audit: Callable[[str], Auditor], tmp_path: Path
) -> None:
    """An honest log whose mirror serves one altered entry byte: the alarm said "a fork, or tampered
    entries", with two consistent checkpoints as its only evidence, which proved neither."""
    log = exported(tmp_path / "static", 5)
    with serve(static_mirror(tmp_path / "static")) as url:
        auditor = audit(url)
        assert auditor.step().alarms == ()
        grow(log, 9)
        export_tiles(log, tmp_path / "static")
        bundle = tmp_path / "static/tile/entries/000.p/14"
        bundle.write_bytes(bundle.read_bytes().replace(b"e11", b"e1X"))
        report = auditor.step()
    (alarm,) = report.alarms
    assert "tampered or corrupted entries, not a fork; checkpoint 14 extends checkpoint 5" in alarm
    assert "the first at index 11" in alarm
    assert offline_verdict(report.evidence) == "consistent"
    assert report.evidence is not None
    assert f"entry 11 as served (base64): {base64.b64encode(b'e1X').decode()}" in report.evidence.details
    assert auditor.mirror.size == 5


def test_a_short_entry_bundle_is_blamed_on_the_mirror(
    audit: Callable[[str], Auditor], tmp_path: Path
) -> None:
    exported(tmp_path / "static", 5)
    bundle = tmp_path / "static/tile/entries/000.p/5"
    bundle.write_bytes(encode_entry_bundle(decode_entry_bundle(bundle.read_bytes())[:4]))
    with serve(static_mirror(tmp_path / "static")) as url:
        report = audit(url).step()
    assert report.alarms == ("entry bundle 0 has 4 entries, not 5",), "not the auditor's own copy"
    assert report.evidence is not None
    assert report.evidence.finding.startswith("entries tampered with or corrupted by whoever served them")


def test_a_damaged_copy_of_the_auditor_is_not_blamed_on_the_log(
    audit: Callable[[str], Auditor], tmp_path: Path
) -> None:
    log = Log.create(MemoryStore(), KEY)
    grow(log, 5)
    with serve(app_for(SharedLog(log))) as url:
        assert audit(url).step().alarms == ()
        audit(url).mirror.db.execute("UPDATE entries SET data = X'00' WHERE idx = 2")
        grow(log, 3)
        (alarm,) = audit(url).step().alarms  # a new auditor: it rebuilds its tree from its copy
    assert "own copy of the log no longer rebuilds checkpoint 5" in alarm


def test_tampered_static_entries_raise_an_alarm(audit: Callable[[str], Auditor], tmp_path: Path) -> None:
    exported(tmp_path / "static", 5)
    bundle = tmp_path / "static/tile/entries/000.p/5"
    bundle.write_bytes(bundle.read_bytes().replace(b"e3", b"e9"))
    with serve(static_mirror(tmp_path / "static")) as url:
        alarms = audit(url).step().alarms
    assert any(
        "(1 of 5, the first at index 3): tampered or corrupted entries, not a fork" in a for a in alarms
    )


def test_the_audit_command_reports_alarms_with_exit_code_3(tmp_path: Path) -> None:
    log = Log.create(MemoryStore(), KEY)
    grow(log, 3)
    shared = SwappableLog(log)
    runner = CliRunner()
    with serve(app_for(shared)) as url:
        args = ["audit", url, "--log-key", KEY.vkey, "--state", str(tmp_path / "a")]
        first = runner.invoke(detente_app, args)
        assert first.exit_code == 0, first.output
        assert "size 3: 3 new entries, 0 alarms" in first.output
        forked = Log.create(MemoryStore(), KEY)
        grow(forked, 5, tag="x")
        shared.swap(forked)
        second = runner.invoke(detente_app, args)
    assert second.exit_code == 3
    assert "ALARM" in second.output
    assert "evidence (signed checkpoints) kept in" in second.output
    (evidence,) = (tmp_path / "a").glob("evidence-*.txt")
    text = evidence.read_text()
    assert forked.signed_checkpoint in text, "the checkpoint served, signed by the log key"
    assert log.signed_checkpoint in text, "and the one the auditor had accepted before"
    assert text.startswith(
        "finding: a fork: checkpoint 5's first 3 leaves have another root than checkpoint 3"
    )
    assert "consistency proof from size 3 to 5" in text


def test_a_stale_checkpoint_is_reported_as_such_with_exit_code_75(tmp_path: Path) -> None:
    log = Log.create(MemoryStore(), KEY)
    grow(log, 3)
    older = log.signed_checkpoint
    grow(log, 4)
    shared = SwappableLog(log)
    runner = CliRunner()
    with serve(app_for(shared)) as url:
        args = ["audit", url, "--log-key", KEY.vkey, "--state", str(tmp_path / "a")]
        assert runner.invoke(detente_app, args).exit_code == 0
        behind = Log.create(MemoryStore(), KEY)
        grow(behind, 3)
        assert behind.signed_checkpoint == older, "the same checkpoint, as a mirror behind would serve it"
        shared.swap(behind)
        result = runner.invoke(detente_app, args)
    assert result.exit_code == 75, result.output
    assert "stale: the registry serves checkpoint 3, older than checkpoint 7" in result.output
    assert "ALARM" not in result.output
    assert list((tmp_path / "a").glob("evidence-*")) == []


def test_an_unreachable_registry_is_unavailable_not_an_alarm(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = CliRunner().invoke(
        detente_app, ["audit", url, "--log-key", KEY.vkey, "--state", str(tmp_path / "a")]
    )
    assert result.exit_code == 75, result.output
    assert "unavailable:" in result.output
    assert "ALARM" not in result.output


def test_a_static_mirror_is_followed_as_it_grows(audit: Callable[[str], Auditor], tmp_path: Path) -> None:
    """The auditor needs only the C2SP tiles: no consistency endpoint (a static mirror has none; a
    registry that fails it could otherwise turn a fork into mere unavailability)."""
    log = exported(tmp_path / "static", 5)
    with serve(static_mirror(tmp_path / "static")) as url:
        auditor = audit(url)
        assert auditor.step().alarms == ()
        grow(log, 3)
        export_tiles(log, tmp_path / "static")
        report = auditor.step()
        assert (report.unavailable, report.alarms, report.new_entries, report.size) == (None, (), 3, 8)
        forked = Log.create(MemoryStore(), KEY)
        grow(forked, 9, tag="rewritten")
        export_tiles(forked, tmp_path / "static")
        alarms = auditor.step().alarms
    assert any("does not extend checkpoint 8" in a for a in alarms), alarms
