"""Annotated samples: the expected verdict stands above each line (as fail2ban does)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import polars as pl
import pytest

from detente.monitor.aggregate import is_probe
from detente.monitor.assets import default_asset
from detente.monitor.formats import resolve
from detente.monitor.parse import Parser
from detente.monitor.probes import PROBE_REGEX

SAMPLES = Path(__file__).parent / "samples"


def _cases() -> list[tuple[str, str]]:
    lines = (SAMPLES / "combined.log").read_text(encoding="utf-8").splitlines()
    cases = []
    for expect, line in itertools.pairwise(lines):
        if expect.startswith("# expect:"):
            cases.append((expect.removeprefix("# expect:").strip(), line))
    return cases


@pytest.mark.parametrize(("expect", "line"), _cases())
def test_combined_sample_line(expect: str, line: str) -> None:
    frame, stats = Parser(resolve("combined"), [default_asset()]).parse(line.encode() + b"\n")
    if expect == "rejected":
        assert (frame.height, stats.rejected) == (0, 1)
        return
    _, src, when, status, path = expect.split(maxsplit=4)
    row = frame.row(0, named=True)
    assert row["src"] == src
    assert row["ts"].strftime("%Y-%m-%dT%H:%M:%SZ") == when
    assert row["status"] == int(status)
    assert row["path"] == path


def test_every_sample_has_a_verdict() -> None:
    body = [
        line
        for line in (SAMPLES / "combined.log").read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    assert len(_cases()) == len(body)


def _probes() -> list[tuple[str, str]]:
    text = (SAMPLES / "probes.txt").read_text(encoding="utf-8")
    return [tuple(line.split(" ", 1)) for line in text.splitlines() if line and line[0] != "#"]  # type: ignore[misc]


@pytest.mark.parametrize(("verdict", "path"), _probes())
def test_probe_sample(verdict: str, path: str) -> None:
    # the monitor's verdict, which reads a path as written and as spelt (encoded dots and separators)
    assert pl.Series("p", [path]).to_frame().select(is_probe(pl.col("p"))).item() == (verdict == "probe")
    # Python's regex engine reads the patterns as Polars' does
    written = pl.Series([path]).str.contains(PROBE_REGEX).item()
    assert (re.search(PROBE_REGEX, path) is not None) == written
