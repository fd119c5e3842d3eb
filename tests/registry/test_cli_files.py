"""The files the CLI writes for its user: never over an existing file, and all of a command's or none."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from detente.registry import cli_common
from detente.statements.canonical import sha256_hex
from tests.registry.clirun import example_registry, run


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry built by ``detente example`` (keys in ``keys/``, ids in ``example.json``)."""
    return example_registry(tmp_path_factory.mktemp("example"))


def _key(home: Path, party: str = "RU") -> Path:
    return home / "keys" / f"{party}-foreign-minister.key"


def _a_key(tmp_path: Path, name: str) -> tuple[Path, bytes]:
    path = tmp_path / name
    run("keys", "new", str(path))
    return path, path.read_bytes()


def test_an_out_that_names_a_key_leaves_the_key_as_it_was(tmp_path: Path, example: Path) -> None:
    root, _ = _a_key(tmp_path, "root.key")
    fm, _ = _a_key(tmp_path, "fm.key")
    victim, before = _a_key(tmp_path, "root-2.key")
    said = run("keys", "keyset", "--party", "RU", "--root", str(root), "--minister", str(fm),
               "--out", str(victim), code=73)  # fmt: skip
    assert f"{victim}: File exists" in said
    assert "does not overwrite" in said
    assert victim.read_bytes() == before

    xid = json.loads((example / "example.json").read_text())["offer-2017"]
    signer = tmp_path / "signer.key"
    signer.write_bytes(_key(example).read_bytes())
    signer.chmod(0o600)
    before = signer.read_bytes()
    said = run("withdraw", xid, "--party", "RU", "--key", str(signer), "--out", str(signer),
               "--dir", str(example), code=73)  # fmt: skip
    assert signer.read_bytes() == before, "withdraw --out naming its own signing key replaced it"


def test_keys_collect_and_bundle_never_overwrite(tmp_path: Path, example: Path) -> None:
    root, _ = _a_key(tmp_path, "root.key")
    keyset = tmp_path / "keyset.json"
    run("keys", "keyset", "--party", "RU", "--root", str(root), "--minister", str(root), "--out", str(keyset))
    victim, before = _a_key(tmp_path, "victim.key")
    run("keys", "collect", str(keyset), "--out", str(victim), code=73)
    assert victim.read_bytes() == before
    xid = json.loads((example / "example.json").read_text())["exchange-1933"]
    run("bundle", "concluded", xid, "--out", str(victim), "--dir", str(example), code=73)
    assert victim.read_bytes() == before


def test_an_envelope_and_its_blob_are_written_both_or_neither(tmp_path: Path) -> None:
    key, _ = _a_key(tmp_path, "fm.key")
    text = tmp_path / "text.txt"
    text.write_text("We shall not interfere.")
    blob = tmp_path / f"{sha256_hex(text.read_bytes())}.blob"
    blob.write_text("something else")  # a file of that name, not holding the text
    declare = ["declare", "--party", "DE", "--key", str(key), "--clauses", "L1", "--text", str(text),
               "non-interference"]  # fmt: skip
    out = tmp_path / "declaration.json"
    assert f"{blob}: File exists" in run(*declare, "--out", str(out), code=73)
    assert not out.exists(), "an envelope was left without the blob it cites"
    assert blob.read_text() == "something else"
    blob.write_bytes(text.read_bytes())  # the blob itself, written by an earlier act: the same file
    assert "signed declaration" in run(*declare, "--out", str(out))
    assert blob.read_bytes() == text.read_bytes()


def test_a_failed_out_leaves_no_nonce_so_the_retry_runs(tmp_path: Path, example: Path) -> None:
    nonce, offer = tmp_path / "o1.nonce", tmp_path / "offer.json"
    act = ["offer", "--party", "RU", "--key", str(_key(example)), "--to", "US", "--clauses", "L1",
           "--nonce", str(nonce), "--dir", str(example)]  # fmt: skip
    run(*act, "--out", str(tmp_path / "no-such-folder" / "offer.json"), code=66)
    assert not nonce.exists(), "a nonce whose envelope was never written was left behind"
    offer.write_text("in the way")
    run(*act, "--out", str(offer), code=73)
    assert not nonce.exists()
    assert offer.read_text() == "in the way"
    offer.unlink()
    assert "signed offer" in run(*act, "--out", str(offer))
    assert nonce.exists()
    assert [p.suffix for p in tmp_path.glob("*.blob")] == [".blob"], "the terms are written beside it"

    xid = json.loads((example / "example.json").read_text())["offer-2018"]
    accept = ["accept", xid, "--party", "US", "--key", str(_key(example, "US")), "--nonce",
              str(tmp_path / "a.nonce"), "--dir", str(example)]  # fmt: skip
    run(*accept, "--out", str(tmp_path / "no-such-folder" / "accept.json"), code=66)
    assert not (tmp_path / "a.nonce").exists()
    assert "signed accept" in run(*accept, "--out", str(tmp_path / "accept.json"))


def test_an_offer_whose_report_cannot_be_printed_leaves_none_of_its_files(
    tmp_path: Path, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nonce, the envelope and its blob are the command's files, printing its report included: a
    stdout that cannot be written (``> /dev/full``) must not leave an envelope whose nonce was removed."""

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli_common.out, "print", full)
    nonce, offer = tmp_path / "o.nonce", tmp_path / "offer.json"
    run("offer", "--party", "RU", "--key", str(_key(example)), "--to", "US", "--clauses", "L1",
        "--nonce", str(nonce), "--dir", str(example), "--out", str(offer), code=74)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a file of the failed offer was left"


def test_submit_reads_no_further_than_an_envelope_can_be(tmp_path: Path) -> None:
    huge = tmp_path / "big.json"
    with huge.open("wb") as sparse:
        sparse.truncate(300 * 1024 * 1024)  # a hole: nothing written, and nothing may be read whole
    said = run("submit", str(huge), "--dir", str(tmp_path / "no-registry"), code=65)
    assert f"{huge} is over 65535 bytes, the most a signed envelope can be" in said
    said = run("keys", "sign", str(huge), "--key", str(_a_key(tmp_path, "k.key")[0]), code=65)
    assert "the most a signed envelope can be" in said
