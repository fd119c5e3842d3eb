"""Crash safety: the writer is killed with SIGKILL at random points, many times.

After every restart the log opens, every acknowledged entry is there, the checkpoint is consistent with
every checkpoint acknowledged before, and no batch is half visible. ``make soak`` runs many more rounds
(DETENTE_CRASH_ROUNDS).
"""

from __future__ import annotations

import base64
import os
import random
import subprocess
import sys
from pathlib import Path

import psycopg

from detente.tlog.home import LogHome
from detente.tlog.storage.postgres import writer_lock_key
from tests.conftest import POSTGRES_URL, ROOT

ROUNDS = int(os.environ.get("DETENTE_CRASH_ROUNDS", "25"))


def _crash_once(home: LogHome, rng: random.Random, acked: list[tuple[int, bytes]]) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.tlog.crash_writer", str(home.path), str(rng.randrange(1 << 30))],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for _ in range(rng.randint(1, 12)):
        line = child.stdout.readline()
        _, size, root = line.split()
        acked.append((int(size), base64.b64decode(root)))
    child.kill()  # SIGKILL: no cleanup, possibly in the middle of a commit
    child.wait()
    child.stdout.close()


def _wait_for_the_dead_writer(store_url: str) -> None:
    """Wait until the killed writer's lock is released (a condition, not a delay).

    The kernel drops a dead process's file lock at once; PostgreSQL ends the dead client's backend, and
    so releases its advisory lock, only when it notices the closed connection. Taking the same lock
    blocking returns exactly then.
    """
    if store_url.startswith("sqlite"):
        return
    schema = store_url.rsplit("schema=", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (writer_lock_key(schema),))
        conn.execute("SELECT pg_advisory_unlock(%s)", (writer_lock_key(schema),))


def _check(home: LogHome, acked: list[tuple[int, bytes]]) -> None:
    log = home.open(write=True)  # the lock of the killed writer is gone
    try:
        assert log.size >= acked[-1][0]
        for size, root in acked:
            assert log.root_at(size) == root
        counts: dict[str, tuple[int, int]] = {}
        for entry in log.entries(0, log.size):
            batch, _, rest = entry.decode().partition(":")
            _, _, n = rest.partition("/")
            seen, want = counts.get(batch, (0, int(n)))
            counts[batch] = (seen + 1, want)
        assert all(seen == want for seen, want in counts.values()), "a batch is only partly visible"
    finally:
        log.close()


def test_sigkill_during_appends_never_loses_or_tears_anything(store_url: str, tmp_path: Path) -> None:
    home = LogHome(tmp_path / "log")
    database = None if store_url.startswith("sqlite") else store_url
    home.init("crash.example/log", database).close()
    rng = random.Random(20261129)
    acked: list[tuple[int, bytes]] = []
    for _ in range(ROUNDS):
        _crash_once(home, rng, acked)
        _wait_for_the_dead_writer(store_url)
        _check(home, acked)
