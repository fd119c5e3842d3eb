"""The command line's one error path: a message is printed as it is, whatever brackets it holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from detente.errors import MalformedError
from detente.shell import reported


def test_an_error_holding_style_tags_is_printed_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    # a duplicate key named "[/x]" in a hostile bundle once crashed the printer (a Rich MarkupError)
    with pytest.raises(typer.Exit) as ended, reported():
        raise MalformedError("duplicate JSON key '[/x]' in [bold]bundle[/bold]")
    assert ended.value.exit_code == 65
    assert "duplicate JSON key '[/x]' in [bold]bundle[/bold]" in capsys.readouterr().err


def test_a_file_error_names_the_path_as_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as ended, reported():
        (tmp_path / "[red]missing[/].json").read_bytes()
    assert ended.value.exit_code == 66
    assert "[red]missing[/].json: No such file or directory" in capsys.readouterr().err
