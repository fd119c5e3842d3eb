"""``detente serve``'s first and later runs: create keys, database and the example once, then reuse them."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from detente.errors import ConfigError, ConflictError
from detente.registry.example import build_example
from detente.registry.home import RegistryHome
from detente.service.cli import describe_store, prepare
from detente.service.home import DATABASE_ENV, ServiceHome, Settings
from detente.tlog.home import LogHome


def test_first_run_creates_and_loads_the_example_later_runs_reuse(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_ENV, store_url)
    home = ServiceHome(tmp_path / "reg")
    service, created = prepare(home)
    with service:
        size = service.read(lambda reg: reg.log.size)
        exchanges = service.read(lambda reg: len(reg.projection.exchanges))
    assert created
    assert size > 0
    assert exchanges > 0
    assert stat.S_IMODE((home.path / "notary.key").stat().st_mode) == 0o600
    again, created_again = prepare(home)
    with again:
        assert not created_again
        assert again.read(lambda reg: reg.log.size) == size
    monkeypatch.setenv(DATABASE_ENV, "postgresql://elsewhere/db")
    with pytest.raises(ConfigError, match=DATABASE_ENV):
        prepare(home)


def test_a_registry_made_by_detente_init_or_example_is_served_as_it_is(tmp_path: Path) -> None:
    made = tmp_path / "made"
    RegistryHome(made).init("detente.example", "example-notary")
    reg = RegistryHome(made).open()
    try:  # a record of its own, which serving must keep
        build_example(reg, os.urandom)
        size = reg.log.size
    finally:
        reg.log.close()  # type: ignore[attr-defined]
    service, created = prepare(ServiceHome(made))
    with service:
        assert not created  # no second example record on top of it
        assert service.read(lambda reg: reg.log.size) == size
        assert service.registry.notary_name == "example-notary"
    settings = ServiceHome(made).settings()
    assert (settings.origin, settings.notary) == ("detente.example", "example-notary")
    with pytest.raises(ConfigError, match="already holds a registry"):
        ServiceHome(made).init(Settings())


def _unused_port() -> int:
    """A port nothing listens on (the system's choice, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_failed_first_run_leaves_nothing_behind_and_the_next_run_creates_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreachable database on the first run is refused, and the folder is not left half made (a
    log folder that every later run would refuse as a log already there)."""
    unreachable = f"postgresql://bob:pw@127.0.0.1:{_unused_port()}/test?schema=x"
    monkeypatch.setenv(DATABASE_ENV, unreachable)
    home = ServiceHome(tmp_path / "made" / "reg")
    with pytest.raises(ConfigError, match="cannot open PostgreSQL log"):
        prepare(home)
    assert not (tmp_path / "made").exists(), "the folders this run made are removed"
    monkeypatch.delenv(DATABASE_ENV)
    service, created = prepare(home)
    with service:
        assert created
        assert service.read(lambda reg: reg.log.size) > 0
    for key in (home.path / "notary.key", home.log_home.path / "log.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    files = {path: path.read_bytes() for path in home.path.rglob("*") if path.is_file()}
    monkeypatch.setenv(DATABASE_ENV, unreachable)
    with pytest.raises(ConfigError, match=DATABASE_ENV):
        prepare(home)
    assert {path: path.read_bytes() for path in home.path.rglob("*") if path.is_file()} == files


def test_a_failed_first_run_removes_only_what_it_made(tmp_path: Path, store_url: str) -> None:
    """A store that holds another log already is refused; that log and the folder's own files stay."""
    other = LogHome(tmp_path / "other")
    other.init("other.example", store_url).close()
    folder = tmp_path / "reg"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(ConflictError, match="already holds a log"):
        ServiceHome(folder).init(Settings(), store_url)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    log = other.open(write=True)
    try:
        assert (log.size, log.checkpoint.origin) == (0, "other.example")
    finally:
        log.close()


def test_the_store_is_described_without_its_password(tmp_path: Path) -> None:
    home = ServiceHome(tmp_path)
    text = describe_store("postgresql://user:s3cret@db.example:5433/detente?schema=x", home)
    assert text == "PostgreSQL db.example:5433/detente, schema x"
    assert describe_store("postgresql://db.example/detente", home) == "PostgreSQL db.example/detente"
    assert describe_store(None, home).startswith("SQLite ")


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def _listening(port: int) -> httpx.Response:
    """The first answer of the server on ``port``: a condition waited for, bounded by the test timeout."""
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/checkpoint")
        except httpx.ConnectError:
            os.sched_yield()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal_and_leaves_no_process_behind(tmp_path: Path, stop: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(sys.executable).with_name("detente")
    server = subprocess.Popen(
        [script, "serve", "--dir", str(tmp_path / "reg"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:  # the service is open; uvicorn binds next
            if line.startswith("stop with Ctrl-C"):
                break
        assert _listening(port).status_code == 200
        workers = _descendants(server.pid)
        assert workers  # the pre-verifier processes were started warm
        server.send_signal(stop)
        rest = server.stdout.read()
        server.stdout.close()
        assert server.wait() == 0
        assert "stopped; every acknowledged statement is in the log" in rest
    finally:
        if server.poll() is None:  # a failed check must not leave the server running
            server.kill()
            server.wait()
    while any(_alive(pid) for pid in workers):  # the forkserver ends when it sees its parent gone
        os.sched_yield()


@pytest.mark.parametrize(("trusted", "limited"), [("127.0.0.1", False), ("", True)])
def test_x_forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it(
    tmp_path: Path, trusted: str, limited: bool
) -> None:
    """Behind a local proxy each client has its own rate bucket; with no proxy trusted, a header any
    client can write names no one, and every request counts against the address it came from."""
    ServiceHome(tmp_path / "reg").init(Settings(rate=0.001, burst=3, trusted_proxies=trusted))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(sys.executable).with_name("detente")
    server = subprocess.Popen(
        [script, "serve", "--dir", str(tmp_path / "reg"), "--port", str(port)], stdout=subprocess.DEVNULL
    )
    try:
        _listening(port)
        statuses = [
            httpx.get(f"http://127.0.0.1:{port}/checkpoint", headers={"x-forwarded-for": f"203.0.113.{i}"})
            for i in range(6)
        ]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    assert (429 in [s.status_code for s in statuses]) == limited, [s.status_code for s in statuses]


def test_a_port_already_taken_is_a_configuration_error_not_a_security_one(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        script = Path(sys.executable).with_name("detente")
        done = subprocess.run(
            [script, "serve", "--dir", str(tmp_path / "reg"), "--port", str(port)],
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.returncode == 78, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert not (tmp_path / "reg").exists(), "refused before the registry was made"


@pytest.mark.parametrize(
    ("setting", "shown", "allowed"),
    [
        ({"rate": 0}, "rate is 0", "more than 0"),
        ({"rate": -1.5}, "rate is -1.5", "more than 0"),
        ({"rate": "50"}, 'rate is "50"', "a number of requests per second"),
        ({"rate": math.inf}, "rate is Infinity", "more than 0"),
        ({"burst": 0.5}, "burst is 0.5", "1 or more"),
        ({"max_body": -5}, "max_body is -5", "a whole number of bytes, 1 or more"),
        ({"max_body": 0}, "max_body is 0", "1 or more"),
        ({"max_body": 1.5}, "max_body is 1.5", "a whole number"),
        ({"max_body": True}, "max_body is true", "a whole number"),
        ({"wait": -1}, "wait is -1", "0 or more"),
        ({"publish_interval": 0}, "publish_interval is 0", "more than 0"),
        ({"lapse_interval": None}, "lapse_interval is null", "a number of seconds"),
        ({"origin": 7}, "origin is 7", "must be a string"),
        ({"rate": 10**400}, "rate is 1000", "at most 1e+12"),
        ({"lapse_interval": 1e300}, "lapse_interval is 1e+300", "at most 86400"),
        ({"wait": 86_401}, "wait is 86401", "at most 86400"),
        ({"max_body": 2**31}, "max_body is 2147483648", "at most 1.07374e+09"),
    ],
)
def test_a_setting_out_of_range_is_refused_saying_which_and_what_it_may_be(
    setting: dict[str, object], shown: str, allowed: str
) -> None:
    with pytest.raises(ConfigError, match=r"^service\.json: ") as refused:
        Settings.from_json(setting)
    assert shown in str(refused.value)
    assert allowed in str(refused.value)


def test_the_least_values_with_a_meaning_are_taken() -> None:
    settings = Settings.from_json({"max_body": 1, "burst": 1, "wait": 0, "rate": 0.001})
    assert (settings.max_body, settings.burst, settings.wait, settings.rate) == (1, 1, 0, 0.001)


def test_serve_refuses_limits_that_cannot_work_before_it_starts(tmp_path: Path) -> None:
    """Limits that would answer every GET with 413 (and divide by zero) stop the start, exit 78."""
    home = ServiceHome(tmp_path / "reg")
    home.init(Settings())
    settings = json.loads((home.path / "service.json").read_text(encoding="utf-8"))
    text = json.dumps({**settings, "rate": 0, "burst": 2, "max_body": -5})
    (home.path / "service.json").write_text(text, encoding="utf-8")
    code, errors = _refused("--dir", str(home.path), "--port", str(_unused_port()))
    assert code == 78, errors
    assert "max_body is -5, but it must be a whole number of bytes, 1 or more" in errors


def _refused(*options: str) -> tuple[int, str]:
    """``detente serve`` with these options, expected to refuse to start: its exit code and stderr.

    A service that starts after all fails the test at once, and is stopped, rather than serve on."""
    script = Path(sys.executable).with_name("detente")
    server = subprocess.Popen(
        [script, "serve", *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    started = []
    try:
        assert server.stdout is not None
        for line in server.stdout:  # a started service prints what it serves, then how to stop it
            started.append(line)
            if line.startswith("stop with Ctrl-C"):
                break
        assert not started, "the service started"
    finally:
        if server.poll() is None:  # a failed check must not leave the server running
            server.send_signal(signal.SIGTERM)
        _, errors = server.communicate()
    return server.returncode, errors


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(tmp_path: Path, port: str) -> None:
    code, errors = _refused("--dir", str(tmp_path / "reg"), "--port", port)
    assert code == 2, errors  # as for a port that is not a number
    assert "Traceback" not in errors
    assert f"{port} is not in the range 1<=x<=65535" in errors
    assert not (tmp_path / "reg").exists(), "refused before the registry was made"
