"""The SQLite store's two choices for a writer's batch, measured against the alternatives they replaced.

Run: ``python -m benchmarks.sqlite_rows [--rounds 3]``. Batches of 3,333 entries of 1,150 bytes (a
20,000-statement burst's batch of incident entries), each in one transaction of a WAL file with
``synchronous=FULL``, as :class:`detente.tlog.storage.sqlite.SQLiteStore` writes them:

- pages: CPU (user and system, of the inserting thread) an entry with 16 KiB pages, the store's choice
  for a new file, against 4 KiB pages, SQLite's default; twelve batches a round;
- rows a statement: wall time of one batch inserted 256 rows a statement (``insert_rows``) against
  ``executemany``, each alone and each beside a thread spinning in Python, which keeps the GIL busy
  (``executemany`` releases the GIL around every row's step and must take it back after each, waiting
  for the interpreter's switch interval whenever the other thread got it meanwhile). How often that
  happens varies from run to run (a throwaway loop saw 300 entries take 11 ms once and 339 ms the next
  time), so the batch is the whole 3,333 entries, and the rounds' median is the figure.

Medians over ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import Result, report
from detente.tlog.storage.sqlite import PAGE_SIZE, insert_rows

ENTRIES, SIZE = 3333, 1150
Insert = Callable[[sqlite3.Connection, int, list[bytes]], None]


def _database(folder: Path, page_size: int) -> sqlite3.Connection:
    db = sqlite3.connect(folder / f"bench-{page_size}.db", isolation_level=None)
    db.execute(f"PRAGMA page_size={page_size}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    return db


def by_statements(db: sqlite3.Connection, first: int, rows: list[bytes]) -> None:
    """The store's way: 256 rows a statement."""
    insert_rows(db, "INSERT INTO entries (idx, data)", list(enumerate(rows, first)))


def by_executemany(db: sqlite3.Connection, first: int, rows: list[bytes]) -> None:
    """The way it replaced: one step a row."""
    db.executemany("INSERT INTO entries (idx, data) VALUES (?, ?)", enumerate(rows, first))


def _batch(db: sqlite3.Connection, insert: Insert, first: int, rows: list[bytes]) -> tuple[float, float]:
    """Wall and thread CPU seconds of one batch in its own transaction."""
    wall, cpu = time.perf_counter(), time.thread_time()
    db.execute("BEGIN IMMEDIATE")
    insert(db, first, rows)
    db.execute("COMMIT")
    return time.perf_counter() - wall, time.thread_time() - cpu


def cpu_us_an_entry(page_size: int, rows: list[bytes], batches: int = 12) -> float:
    """Microseconds of CPU an entry, over ``batches`` batches into a new file of ``page_size`` pages."""
    with tempfile.TemporaryDirectory() as tmp:
        db = _database(Path(tmp), page_size)
        cpu = sum(_batch(db, by_statements, n * len(rows), rows)[1] for n in range(batches))
        db.close()
    return cpu / (batches * len(rows)) * 1e6


@contextmanager
def busy_thread() -> Iterator[None]:
    """A thread spinning in Python for as long as the block runs."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def batch_ms(insert: Insert, rows: list[bytes], busy: bool) -> float:
    """Wall milliseconds of one batch into a new file (16 KiB pages), alone or beside a busy thread."""
    with tempfile.TemporaryDirectory() as tmp:
        db = _database(Path(tmp), PAGE_SIZE)
        if busy:
            with busy_thread():
                wall = _batch(db, insert, 0, rows)[0]
        else:
            wall = _batch(db, insert, 0, rows)[0]
        db.close()
    return wall * 1e3


def main(argv: list[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [os.urandom(SIZE) for _ in range(ENTRIES)]

    def median(measure: Callable[[], float]) -> float:
        return statistics.median(measure() for _ in range(args.rounds))

    large, small = (
        median(lambda: cpu_us_an_entry(PAGE_SIZE, rows)),
        median(lambda: cpu_us_an_entry(4096, rows)),
    )
    results = [
        Result("CPU an entry, 16 KiB pages", large, "us", "4 KiB pages", small),
        Result(
            "a batch, 256 rows a statement", median(lambda: batch_ms(by_statements, rows, False)), "ms",
            "executemany", median(lambda: batch_ms(by_executemany, rows, False)),
        ),
        Result(
            "a batch beside a busy thread, 256 rows a statement",
            median(lambda: batch_ms(by_statements, rows, True)), "ms",
            "executemany", median(lambda: batch_ms(by_executemany, rows, True)),
        ),
    ]  # fmt: skip
    report(
        f"SQLite writer batches ({ENTRIES:,} entries of {SIZE:,} bytes, medians of {args.rounds})", results
    )


if __name__ == "__main__":
    main()
