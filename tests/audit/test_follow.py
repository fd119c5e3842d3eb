"""The auditor follows a real server and raises alarms on a fork, a shrink and tampered entries."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from typer.testing import CliRunner

from detente.audit.follow import Auditor
from detente.audit.mirror import Mirror
from detente.cli import app as detente_app
from detente.http import problems
from detente.http.logapi import SharedLog, log_router
from detente.tlog.export import export_tiles
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.storage import MemoryStore
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


def grow(log: Log, n: int, tag: str = "e") -> None:
    log.append([f"{tag}{log.size + i}".encode() for i in range(n)])


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


def test_a_fork_and_a_shrink_raise_alarms(audit: Callable[[str], Auditor]) -> None:
    honest = Log.create(MemoryStore(), KEY)
    grow(honest, 10)
    shared = SwappableLog(honest)
    with serve(app_for(shared)) as url:
        auditor = audit(url)
        assert auditor.step().alarms == ()
        forked = Log.create(MemoryStore(), KEY)
        grow(forked, 12, tag="rewritten")
        shared.swap(forked)
        alarms = auditor.step().alarms
        assert any("does not extend" in a for a in alarms), alarms
        shorter = Log.create(MemoryStore(), KEY)
        grow(shorter, 4)
        shared.swap(shorter)
        assert any("shrank" in a for a in auditor.step().alarms)
    assert auditor.mirror.size == 10, "nothing from a bad step is kept"


def test_tampered_static_entries_raise_an_alarm(audit: Callable[[str], Auditor], tmp_path: Path) -> None:
    log = Log.create(MemoryStore(), KEY)
    grow(log, 5)
    export_tiles(log, tmp_path / "static")
    bundle = tmp_path / "static/tile/entries/000.p/5"
    bundle.write_bytes(bundle.read_bytes().replace(b"e3", b"e9"))
    app = FastAPI()
    app.mount("/", StaticFiles(directory=tmp_path / "static"))
    with serve(app) as url:
        alarms = audit(url).step().alarms
    assert any("do not rebuild the root" in a for a in alarms), alarms


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
    log = Log.create(MemoryStore(), KEY)
    grow(log, 5)
    export_tiles(log, tmp_path / "static")
    app = FastAPI()
    app.mount("/", StaticFiles(directory=tmp_path / "static"))
    with serve(app) as url:
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
