"""What the CLI prints: ids only for acts that were accepted, and nothing before a refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry.clirun import example_registry, run


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry built by ``detente example`` (keys in ``keys/``)."""
    return example_registry(tmp_path_factory.mktemp("example"))


def test_a_refused_act_prints_no_id(home: Path, tmp_path: Path) -> None:
    us_key = str(home / "keys" / "US-foreign-minister.key")
    offer = ["offer", "--party", "RU", "--key", us_key, "--to", "US", "--clauses", "L1", "--dir", str(home)]
    said = run(*offer, "--nonce", str(tmp_path / "n1"), code=65)  # signed with another party's key
    assert said.startswith("error:"), "no 'exchange XID' line"
    (tmp_path / "n2").write_text("kept")
    said = run(*offer, "--nonce", str(tmp_path / "n2"), code=73)
    assert "exchange" not in said
    text = tmp_path / "text.txt"
    text.write_text("We shall not interfere.")
    said = run("declare", "--party", "RU", "--key", us_key, "--clauses", "L1", "--text", str(text), "summary",
               "--dir", str(home), code=65)  # fmt: skip
    assert said.startswith("error: the declaration is not signed"), "no 'declaration DID' line"
    said = run("protest", "--party", "RU", "--key", us_key, "--to", "US", "--ref", "0" * 32, "--clauses",
               "L1", "summary", "--dir", str(home), code=65)  # fmt: skip
    assert said.startswith("error:"), "no 'protest PID' line"


def test_status_refuses_a_bad_at_or_an_unknown_xid_before_printing(home: Path) -> None:
    said = run("status", "--at", "2024-02-30T00:00:00Z", "--dir", str(home), code=65)
    assert "exchanges" not in said
    xid = "0" * 32
    said = run("status", "--xid", xid, "--dir", str(home), code=66)
    assert f"no exchange {xid}" in said
    assert "exchanges" not in said
    said = run("status", "--xid", "nope", "--dir", str(home), code=65)  # as a service refuses it
    assert "'nope' is not an exchange id: one is 32 hex digits" in said
