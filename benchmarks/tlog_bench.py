"""Benchmarks of the transparency log against pymerkle 7.0.0 and the raw cost of the work.

Run with ``make bench`` (or ``python -m benchmarks.tlog_bench``). ``DETENTE_BENCH_N`` sets the number of
entries (default 1,000,000). Every figure is reported beside a baseline measured in the same run.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import tempfile
import uuid
from pathlib import Path

import psycopg
from pymerkle import InmemoryTree, SqliteTree
from pymerkle import verify_inclusion as pymerkle_verify_inclusion

from benchmarks.common import Result, peak_rss_mb, per_call_us, rate, report
from detente.tlog import merkle
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.storage import LogStore, MemoryStore, open_store
from detente.tlog.storage.postgres import PostgresStore

N = int(os.environ.get("DETENTE_BENCH_N", "1000000"))
POSTGRES = os.environ.get("DETENTE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SIGNER = Signer.generate("bench.example/log")
BATCH = 1024


def entries(n: int) -> list[bytes]:
    """``n`` distinct 100-byte entries."""
    return [i.to_bytes(4, "big") * 25 for i in range(n)]


def append_all(log: Log, data: list[bytes], batch: int) -> None:
    """Append ``data`` in batches of ``batch``."""
    for start in range(0, len(data), batch):
        log.append(data[start : start + batch])


def sha256_rate(n: int) -> float:
    """Raw hashlib SHA-256 of 65-byte messages per second (an interior node hash is 65 bytes)."""
    message = b"\x01" + bytes(64)
    sha = hashlib.sha256
    return rate(n, lambda: [sha(message).digest() for _ in range(n)])


def in_memory(data: list[bytes]) -> list[Result]:
    """Integration in memory: detente vs pymerkle vs the hashing floor (2 hashes per entry)."""
    raw = sha256_rate(len(data))
    log = Log.create(MemoryStore(), SIGNER)
    ours = rate(len(data), lambda: append_all(log, data, 4096))
    tree = InmemoryTree(algorithm="sha256")
    theirs = rate(len(data), lambda: [tree.append_entry(e) for e in data])
    assert tree.get_root() == log.checkpoint.root, "pymerkle and detente disagree on the root"
    return [
        Result("in-memory appends", ours, "entries/s", "pymerkle InmemoryTree", theirs),
        Result("in-memory appends", ours, "entries/s", "raw SHA-256 (65 B) / 2", raw / 2),
    ]


def sqlite_commit_rate(path: Path, n: int) -> float:
    """Raw SQLite transactions per second in WAL mode with full sync (one row each)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, v BLOB)")

    def run() -> None:
        for i in range(n):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (?, ?)", (i, b"x" * 100))
            db.execute("COMMIT")

    result = rate(n, run)
    db.close()
    return result


def postgres_commit_rate(n: int) -> float:
    """Raw PostgreSQL transactions per second (one row each, synchronous commit)."""
    with psycopg.connect(POSTGRES, autocommit=True) as db:
        db.execute("CREATE TEMP TABLE t (i BIGINT PRIMARY KEY, v BYTEA)")

        def run() -> None:
            for i in range(n):
                with db.transaction():
                    db.execute("INSERT INTO t VALUES (%s, %s)", (i, b"x" * 100))

        return rate(n, run)


def durable(folder: Path) -> list[Result]:
    """Durable appends with batching on SQLite and PostgreSQL, against raw commit rates."""
    data = entries(min(N, 200_000))
    sqlite_log = Log.create(open_store(str(folder / "durable.db")), SIGNER)
    ours_sqlite = rate(len(data), lambda: append_all(sqlite_log, data, BATCH))
    sqlite_log.close()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    pg_store = open_store(f"{POSTGRES}?schema={schema}")
    pg_log = Log.create(pg_store, SIGNER)
    ours_pg = rate(len(data), lambda: append_all(pg_log, data, BATCH))
    assert isinstance(pg_store, PostgresStore)
    pg_store.drop()
    pg_log.close()
    return [
        Result(
            f"SQLite durable appends (batch {BATCH})",
            ours_sqlite,
            "entries/s",
            "SQLite WAL full-sync tx/s",
            sqlite_commit_rate(folder / "raw.db", 2000),
        ),
        Result(
            f"PostgreSQL durable appends (batch {BATCH})",
            ours_pg,
            "entries/s",
            "PostgreSQL tx/s",
            postgres_commit_rate(2000),
        ),
    ]


def proofs(folder: Path, data: list[bytes]) -> list[Result]:
    """Proof generation and verification at N entries, from SQLite with a warm cache, vs pymerkle."""
    store: LogStore = open_store(str(folder / "proofs.db"))
    log = Log.create(store, SIGNER)
    append_all(log, data, 16_384)
    log.close()
    log = Log.open(open_store(str(folder / "proofs.db")), SIGNER.verifier())
    n, root = log.size, log.checkpoint.root
    rng = random.Random(1)
    picks = [rng.randrange(n) for _ in range(20_000)]
    olds = [rng.randrange(1, n) for _ in range(2_000)]
    for i in picks:
        log.inclusion_proof(i)  # warm the tile cache
    gen = per_call_us(lambda k: log.inclusion_proof(picks[k]), len(picks))
    made = [log.inclusion_proof(i) for i in picks]
    leaves = [merkle.leaf_hash(data[i]) for i in picks]
    ver = per_call_us(lambda k: merkle.verify_inclusion(picks[k], n, leaves[k], made[k], root), len(picks))
    cgen = per_call_us(lambda k: log.consistency_proof(olds[k]), len(olds))
    cons = [(o, log.root_at(o), log.consistency_proof(o)) for o in olds]
    cver = per_call_us(
        lambda k: merkle.verify_consistency(cons[k][0], n, cons[k][1], root, cons[k][2]), len(olds)
    )
    log.close()

    tree = SqliteTree(str(folder / "pymerkle.db"), algorithm="sha256")
    tree.append_entries(data, chunksize=100_000)
    few = picks[:300]
    their_gen = per_call_us(lambda k: tree.prove_inclusion(few[k] + 1, n), len(few), repeat=1)
    their_proofs = [tree.prove_inclusion(i + 1, n) for i in few]
    their_root = tree.get_root()
    their_ver = per_call_us(
        lambda k: pymerkle_verify_inclusion(tree.get_leaf(few[k] + 1), their_root, their_proofs[k]), len(few)
    )
    tree.close()
    return [
        Result(f"inclusion proof generation at {n:,}", gen, "us", "pymerkle SqliteTree", their_gen),
        Result(f"inclusion proof verification at {n:,}", ver, "us", "pymerkle verify_inclusion", their_ver),
        Result(f"consistency proof generation at {n:,}", cgen, "us"),
        Result(f"consistency proof verification at {n:,}", cver, "us"),
    ]


def memory() -> list[Result]:
    """Peak resident memory per million entries, in child processes."""
    base = peak_rss_mb("benchmarks.tlog_memory", "baseline", "0")
    ours = peak_rss_mb("benchmarks.tlog_memory", "detente", str(N))
    theirs = peak_rss_mb("benchmarks.tlog_memory", "pymerkle", str(N))
    scale = 1_000_000 / N
    return [
        Result(
            "peak memory per 1M entries (in memory)",
            (ours - base) * scale,
            "MB",
            "pymerkle InmemoryTree",
            (theirs - base) * scale,
        ),
    ]


def main() -> None:
    """Run every log benchmark and print the tables."""
    data = entries(N)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = in_memory(data) + durable(folder) + proofs(folder, data) + memory()
    report(f"transparency log ({N:,} entries)", results)


if __name__ == "__main__":
    main()
