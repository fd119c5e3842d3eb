"""Running the assurances CLI in a test: its output on one line, and a registry built by `example`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from detente.registry.cli import app

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    """Run ``detente ARGS``, check its exit code, and return its output as one line (Rich wraps long
    lines at the runner's width)."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def example_registry(folder: Path) -> Path:
    """A registry built by ``detente example`` in ``folder/reg`` (keys in ``keys/``, ids in
    ``example.json``)."""
    home = folder / "reg"
    run("example", "--dir", str(home))
    return home
