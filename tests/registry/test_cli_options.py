"""Option values the CLI is given: each one wrong is named, with what a right one looks like."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from detente.registry.cli import app
from tests.registry.clirun import run


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


def test_a_file_named_on_the_command_line_that_does_not_exist_exits_66(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("We shall not interfere.")
    missing = tmp_path / "missing.key"
    said = run("declare", "--party", "RU", "--key", str(missing), "--clauses", "L1", "--text", str(text),
               "summary", "--out", str(tmp_path / "d.json"), code=66)  # fmt: skip
    assert f"{missing}: No such file or directory (check the path)" in said
    said = run("incident", "submit", str(tmp_path / "nothere.json"), "--party", "RU", "--key", str(missing),
               "--all", code=66)  # fmt: skip
    assert "nothere.json: No such file or directory" in said
    said = run("verify", str(text), "--log-key", str(tmp_path / "nothere.vkey"), code=66)
    assert "nothere.vkey: No such file or directory" in said, "a value with no '+' is no key's text"


def test_a_nonce_file_is_called_a_nonce_file(tmp_path: Path) -> None:
    key, nonce, offer = tmp_path / "k.key", tmp_path / "n.nonce", tmp_path / "offer.json"
    run("keys", "new", str(key))
    said = run("offer", "--party", "RU", "--key", str(key), "--to", "US", "--clauses", "L1",
               "--nonce", str(nonce), "--notary", "0" * 64, "--out", str(offer))  # fmt: skip
    nonce.chmod(0o644)
    xid = said.split()[1]
    said = run("reveal", xid, "--party", "RU", "--key", str(key), "--nonce", str(nonce), "--offer",
               str(offer), "--out", str(tmp_path / "r.json"), code=78)  # fmt: skip
    assert f"nonce file {nonce} is readable by others; run: chmod 600 {nonce}" in said


def test_no_path_is_checked_by_typer_so_an_unreadable_file_exits_77_not_2() -> None:
    """Typer's own check exits 2 (usage) for an unreadable file; the commands report it as 77."""
    import typer

    command = typer.main.get_command(app)
    checked = [name for name, p in _parameters(command) if getattr(p.type, "readable", False)]
    assert checked == []


def test_a_bad_file_is_named_in_its_refusal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("{")
    bad.chmod(0o600)
    text = tmp_path / "text.txt"
    text.write_text("We shall not interfere.")
    said = run("declare", "--party", "RU", "--key", str(bad), "--clauses", "L1", "--text", str(text), "s",
               "--out", str(tmp_path / "d.json"), code=65)  # fmt: skip
    assert said.startswith(f"error: {bad}: key file is not valid JSON")
    key = tmp_path / "k.key"
    run("keys", "new", str(key))
    said = run("keys", "sign", str(text), "--key", str(key), code=65)
    assert said.startswith(f"error: {text}: envelope is not valid JSON")
    said = run("submit", str(text), "--dir", str(tmp_path / "no-registry"), code=65)
    assert said.startswith(f"error: {text}: envelope is not valid JSON")


def test_an_option_the_schema_refuses_is_named_with_what_it_takes(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    run("keys", "new", str(key))
    keyset = ["keys", "keyset", "--root", str(key), "--minister", str(key), "--out", str(tmp_path / "k.json")]
    said = run(*keyset, "--party", "RU", "--version", "0", code=65)
    assert "--version takes 1 or more (1 for a party's first keyset), not 0" in said
    said = run(*keyset, "--party", "ru", code=65)
    assert "--party is refused: $.party does not match ^[A-Z]{2}$ (it takes a state's ISO 3166-1" in said
    said = run(*keyset, "--party", "RU", "--root-threshold", "0", code=65)
    assert "--root-threshold is refused" in said
    said = run("terminate", "0" * 32, "--party", "RU", "--key", str(key), "enough", "tomorrow",
               "--out", str(tmp_path / "t.json"), code=65)  # fmt: skip
    assert "EFFECTIVE is refused" in said
    assert "such as 2030-01-01T00:00:00Z" in said
    said = run("status", "--at", "2024-02-30T00:00:00Z", "--dir", str(tmp_path), code=65)
    assert "--at '2024-02-30T00:00:00Z' is not" in said


def _parameters(command: Any) -> Iterator[tuple[str, Any]]:
    """Every parameter of every command below ``command`` (Typer's own click, whatever its version)."""
    for name, sub in getattr(command, "commands", {}).items():
        yield from ((f"{name} {p}", param) for p, param in _parameters(sub))
    for param in command.params:
        yield str(param.name), param


def test_every_option_and_argument_says_what_it_is() -> None:
    import typer

    command = typer.main.get_command(app)
    helps = {name: str(getattr(p, "help", None) or "") for name, p in _parameters(command)}
    assert [name for name, text in helps.items() if not text] == []
    assert "offered, refused, concluded, declared, protested, replied, incident" in helps["bundle claim"]
    assert "by default Moscow" in helps["offer place"]
    assert "by default Washington" in helps["counter place"]
    assert "SHA256.blob" in helps["offer out_file"]
