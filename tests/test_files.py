"""Folders made all or nothing (``files.all_or_nothing``): one initialisation of a folder at a time, and
a failed one removes only what it added."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from detente.files import all_or_nothing


def _locked_by_another(folder: Path) -> bool:
    """Whether another open descriptor of ``folder`` is refused its exclusive lock."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _fail_after(folder: Path, made: list[str]) -> None:
    """An initialisation of ``folder`` that makes ``made`` (a trailing ``/``: a folder), then fails."""
    with all_or_nothing(folder):
        for name in made:
            path = folder / name.rstrip("/")
            path.mkdir() if name.endswith("/") else path.write_text("k")
        raise RuntimeError("the database is unreachable")


def test_an_initialisation_holds_its_folder_so_another_waits(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    with all_or_nothing(folder):
        assert folder.is_dir(), "the folder is made before the body runs, to be locked"
        assert _locked_by_another(folder), "a second initialisation could overlap this one"
        with all_or_nothing(folder), all_or_nothing(folder / "log"):  # nested: the lock held already
            (folder / "log" / "key").write_text("k")
    assert not _locked_by_another(folder), "the lock outlives the initialisation"
    assert (folder / "log" / "key").read_text() == "k"


def test_a_failed_initialisation_removes_what_it_added_and_the_folders_it_made(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError, match="unreachable"):
        _fail_after(folder, ["made.key"])
    assert list(tmp_path.iterdir()) == [], "a folder made for the initialisation was left behind"


def test_a_failed_initialisation_keeps_what_was_there_before(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="unreachable"):
        _fail_after(folder, ["made.key", "log/"])
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "mine"
