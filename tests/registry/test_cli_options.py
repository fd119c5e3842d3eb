"""Option values the CLI is given: each one wrong is named, with what a right one looks like."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from detente.registry.cli import app

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # Rich wraps long lines at the runner's width


@pytest.mark.parametrize(
    "url", ["http://[::1", "localhost:18201", "ftp://x", "", "http://127.0.0.1:99999", "http://:8000"]
)
def test_a_registry_url_that_cannot_be_one_is_a_configuration_error(tmp_path: Path, url: str) -> None:
    """Not a traceback, and not 75 'try again': no retry can reach a URL that is not one."""
    said = run("status", "--registry", url, code=78)
    assert f"--registry {url!r} is not a registry service's URL" in said
    assert "such as http://127.0.0.1:8000" in said
    envelope = tmp_path / "keyset.json"
    envelope.write_text("{}")
    key = tmp_path / "notary.key"
    run("keys", "new", str(key))
    said = run("party", "register", str(envelope), "--registry", url, "--operator-key", str(key), code=78)
    assert "is not a registry service's URL" in said
