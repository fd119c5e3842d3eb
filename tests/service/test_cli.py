"""``detente serve``'s first and later runs: create keys, database and the example once, then reuse them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from detente.errors import ConfigError
from detente.service.cli import describe_store, prepare
from detente.service.home import DATABASE_ENV, ServiceHome


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


def test_the_store_is_described_without_its_password(tmp_path: Path) -> None:
    home = ServiceHome(tmp_path)
    text = describe_store("postgresql://user:s3cret@db.example:5433/detente?schema=x", home)
    assert text == "PostgreSQL db.example:5433/detente"
    assert describe_store(None, home).startswith("SQLite ")
