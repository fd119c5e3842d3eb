"""Shared fixtures: small generated logs from the development seeds (never the evaluation seeds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detente.monitor.generate import Mix, generate


@pytest.fixture(scope="session")
def dev_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A 10-hour log (development seed 101) with every attack kind at reduced size and benign surges."""
    folder = tmp_path_factory.mktemp("dev")
    mix = Mix(hours=10, peak_rpm=200, intensity=0.15, benign=("flash-crowd",))
    truth = generate(101, mix, folder / "access.log", folder / "truth.json")
    assert json.loads((folder / "truth.json").read_text())["seed"] == 101
    return folder / "access.log", truth
