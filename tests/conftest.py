"""Fixtures shared by every test: paths to the shared vectors and the real stores."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from detente.tlog.storage import LogStore, open_store
from detente.tlog.storage.postgres import PostgresStore

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DETENTE_SHARED", ROOT.parent / "shared"))
VECTORS = SHARED / "vectors"
POSTGRES_URL = os.environ.get("DETENTE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

StoreFactory = Callable[[], LogStore]

# No test has a time limit (speed is measured in benchmarks/, not asserted): Hypothesis's default
# 200 ms deadline per example, and its check that examples are generated quickly, would fail a correct
# test on a busy machine.
settings.register_profile("detente", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("detente")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, real store: a SQLite file, or a new schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"{POSTGRES_URL}?schema={schema}"
    yield url
    cleanup = PostgresStore.connect(url)
    cleanup.drop()
    cleanup.close()


@pytest.fixture
def new_store(store_url: str) -> Iterator[StoreFactory]:
    """Open connections to the same store; all are closed at the end of the test."""
    opened: list[LogStore] = []

    def factory() -> LogStore:
        store = open_store(store_url)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
