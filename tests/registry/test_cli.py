"""The CLI end to end on a real SQLite registry: example, offline signing, acts, bundle, verify."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner

from detente.errors import ConfigError, ConflictError, DetenteError, UnreachableError
from detente.registry import cli_acts
from detente.registry.cli import app
from detente.registry.cli_common import Where
from detente.statements.canonical import canonical
from detente.statements.statement import Statement

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_example_bundle_and_offline_verify(tmp_path: Path) -> None:
    home = tmp_path / "reg"
    run("example", "--dir", str(home))
    ids = json.loads((home / "example.json").read_text())
    timeline = run("timeline", "RU", "US", "--dir", str(home))
    assert "refuse" in timeline
    assert "declaration" in timeline
    bundle = tmp_path / "b.json"
    run("bundle", "concluded", ids["exchange-1933"], "--out", str(bundle), "--dir", str(home))
    said = run("verify", str(bundle), "--log-key", str(home / "log" / "log.vkey"))
    assert "PROVEN as of checkpoint" in said
    assert "SU and US was concluded" in said
    binary = tmp_path / "binary.vkey"
    binary.write_bytes(b"\xff\xfe")
    assert "not even text" in run("verify", str(bundle), "--log-key", str(binary), code=65)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as sparse:
        sparse.truncate(64 * 1024 * 1024 + 1)  # a hole: nothing written, nothing to read
    key = str(home / "log" / "log.vkey")
    assert "at most 67108864 bytes" in run("verify", str(huge), "--log-key", key, code=65)
    too_long_for_a_file_name = "a" * 300
    assert "error" in run("verify", str(bundle), "--log-key", too_long_for_a_file_name, code=65)
    bundle.write_bytes(bundle.read_bytes().replace(b'"SU"', b'"RU"', 1))
    assert "error" in run("verify", str(bundle), "--log-key", str(home / "log" / "log.vkey"), code=65)


def test_keys_offline_threshold_register_offer_refuse(tmp_path: Path) -> None:
    home = tmp_path / "reg"
    run("init", "--dir", str(home))
    for name in ("r1", "r2", "fm", "us-root", "us-fm"):
        run("keys", "new", str(tmp_path / f"{name}.key"))
    k = {n: str(tmp_path / f"{n}.key") for n in ("r1", "r2", "fm", "us-root", "us-fm")}
    ks = tmp_path / "ru-keyset.json"
    # Two root holders sign separate copies offline; the copies are merged to meet the threshold.
    run("keys", "keyset", "--party", "RU", "--root", k["r1"], "--root", k["r2"], "--root-threshold", "2",
        "--minister", k["fm"], "--out", str(ks))  # fmt: skip
    copy = tmp_path / "copy.json"
    copy.write_bytes(ks.read_bytes())
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\xff\xfe\x00")
    binary.chmod(0o600)
    said = run("keys", "sign", str(copy), "--key", str(binary), code=65)
    assert "is not a key file: it is not text" in said
    run("keys", "sign", str(copy), "--key", k["r2"], "--key", k["r2"])  # the same key given twice signs once
    signed = tmp_path / "ru-keyset-signed.json"  # a new file: collect never overwrites one
    run("keys", "collect", str(ks), str(copy), "--out", str(signed))
    run("party", "register", str(signed), "--dir", str(home))
    us = tmp_path / "us-keyset.json"
    run("keys", "keyset", "--party", "US", "--root", k["us-root"], "--minister", k["us-fm"], "--out", str(us))
    run("party", "register", str(us), "--dir", str(home))
    said = run("offer", "--party", "RU", "--key", k["fm"], "--to", "US", "--clauses", "L1,M1",
               "--nonce", str(tmp_path / "na"), "--dir", str(home))  # fmt: skip
    xid = said.split()[1]
    run("refuse", xid, "--party", "US", "--key", k["us-fm"], "--reason", "no", "--dir", str(home))
    assert "refuse" in run("offers", "US", "--dir", str(home))
    assert "refused" in run("status", "--dir", str(home))
    out = run("accept", xid, "--party", "US", "--key", k["us-fm"], "--nonce", str(tmp_path / "nb"),
              "--dir", str(home), code=75)  # fmt: skip
    assert "refused" in out
    assert not (tmp_path / "nb").exists(), "a refused commitment leaves no nonce behind, so a retry can run"
    offer = ["offer", "--party", "RU", "--key", k["fm"], "--to", "US", "--nonce", str(tmp_path / "nc")]
    said = run(*offer, "--clauses", "L1", "--deadline-days", "10000000", "--dir", str(home), code=65)
    assert "--deadline-days takes 1 to 36500" in said
    assert "no clause 'X9' in detente.clauses/1" in run(
        *offer, "--clauses", "L1,X9", "--dir", str(home), code=65
    )
    assert not (tmp_path / "nc").exists()
    assert "$.body.to" in run(*offer[:5], "--to", "usa", "--nonce", str(tmp_path / "nc"), "--clauses", "L1",
                              "--dir", str(home), code=65)  # fmt: skip
    assert not (tmp_path / "nc").exists(), "a statement that cannot be signed leaves no nonce behind"


@pytest.mark.parametrize(
    ("failure", "kept"),
    [
        (UnreachableError("no answer"), True),
        (DetenteError("the registry answered 500"), True),
        (ConflictError("refused"), False),
        (ConfigError("not a registry"), False),
    ],
)
def test_a_commitments_nonce_is_kept_unless_the_registry_refused_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: DetenteError, kept: bool
) -> None:
    """Refused, the commitment was never logged: its nonce goes, so the act can be retried as typed.
    Unanswered, it may be logged: the nonce stays, or its party could never reveal."""

    def deliver(*args: object) -> None:
        raise failure

    monkeypatch.setattr(cli_acts, "_deliver", deliver)
    st = cast(Statement, None)  # never read: delivery is replaced
    with pytest.raises(type(failure)):
        cli_acts._deliver_committed(cast(Where, None), st, (tmp_path / "n", b"\x01" * 32), None)
    assert (tmp_path / "n").exists() is kept


def _with_signature(envelope: Path, keyid: str, sig: str, out: Path) -> Path:
    """A copy of ``envelope`` whose signature by ``keyid`` is replaced by ``sig`` (base64)."""
    value = json.loads(envelope.read_bytes())
    for signature in value["signatures"]:
        if signature["keyid"] == keyid:
            signature["sig"] = sig
    out.write_bytes(canonical(value) + b"\n")
    return out


def test_collect_verifies_the_signatures_it_can_and_names_a_bad_copy(tmp_path: Path) -> None:
    ids, public = {}, {}
    for name in ("r1", "r2", "fm", "other"):
        ids[name], public[name] = run("keys", "new", str(tmp_path / f"{name}.key")).split()
    ks = tmp_path / "keyset.json"
    run("keys", "keyset", "--party", "DE", "--root", public["r1"], "--root", public["r2"],
        "--root-threshold", "2", "--minister", public["fm"], "--out", str(ks))  # fmt: skip
    copies = {}
    for name in ("r1", "r2"):
        copies[name] = tmp_path / f"copy-{name}.json"
        copies[name].write_bytes(ks.read_bytes())
        run("keys", "sign", str(copies[name]), "--key", str(tmp_path / f"{name}.key"))
    said = run("keys", "collect", str(copies["r1"]), str(copies["r2"]), "--out", str(tmp_path / "ok.json"))
    assert "2 signature(s) -> " in said
    assert "(2 verified)" in said, "a keyset's own keys are known"

    r1_sig = json.loads(copies["r1"].read_bytes())["signatures"][0]["sig"]
    forged = _with_signature(copies["r2"], ids["r2"], r1_sig, tmp_path / "forged.json")
    out = tmp_path / "merged.json"
    said = run("keys", "collect", str(copies["r1"]), str(forged), "--out", str(out), code=65)
    assert f"signature by key {ids['r2'][:16]}... in {forged} does not verify" in said
    assert not out.exists(), "nothing is written"
    said = run("keys", "collect", str(copies["r2"]), str(forged), "--out", str(out), code=65)
    assert f"in {forged} does not verify" in said, "of two copies signed by one key, the bad one is named"
    assert not out.exists()

    # another kind: the signer's key is known from the party's keyset given with --keyset
    ks = tmp_path / "keyset-signed.json"
    run("keys", "collect", str(copies["r1"]), str(copies["r2"]), "--out", str(ks))
    decl, text = tmp_path / "decl.json", tmp_path / "text.txt"
    text.write_text("We shall not interfere.")
    run("declare", "--party", "DE", "--key", str(tmp_path / "fm.key"), "--clauses", "L1", "--text", str(text),
        "non-interference", "--out", str(decl))  # fmt: skip
    assert "(0 verified; 1 by keys not given" in run("keys", "collect", str(decl), "--out", str(out))
    out.unlink()
    assert "(1 verified)" in run("keys", "collect", str(decl), "--keyset", str(ks), "--out", str(out))
    out.unlink()
    stranger = tmp_path / "fr.json"
    run("keys", "keyset", "--party", "FR", "--root", public["other"], "--minister", public["other"],
        "--out", str(stranger))  # fmt: skip
    said = run("keys", "collect", str(decl), "--keyset", str(stranger), "--out", str(out), code=65)
    assert "is a keyset of FR, not of DE" in said


def test_a_registry_is_private_to_its_owner_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)  # the most permissive umask there is
    try:
        result = runner.invoke(app, ["init", "--dir", str(tmp_path / "reg")])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    home = tmp_path / "reg"
    folders = [home, *(p for p in home.rglob("*") if p.is_dir())]
    # no one else may enter the folders, so no file in them can be read or replaced by another user
    assert all(stat.S_IMODE(f.stat().st_mode) & stat.S_IRWXO == 0 for f in folders), folders
    assert stat.S_IMODE(home.stat().st_mode) == stat.S_IMODE((home / "log").stat().st_mode) == 0o750
    secrets = [home / "notary.key", home / "log" / "log.key", home / "log" / "config.json"]
    assert {stat.S_IMODE(f.stat().st_mode) for f in secrets} == {0o600}


def test_a_keyset_whose_root_holders_never_meet(tmp_path: Path) -> None:
    """Built from public keys alone (as `keys new` prints them), signed by each root holder on a copy,
    merged, and registered: no machine ever holds two of the keys."""
    home = tmp_path / "reg"
    run("init", "--dir", str(home))
    public = {}
    for name in ("r1", "r2", "fm"):
        public[name] = run("keys", "new", str(tmp_path / f"{name}.key")).split()[1]
    ks = tmp_path / "de-keyset.json"
    built = run("keys", "keyset", "--party", "DE", "--root", public["r1"], "--root", public["r2"],
                "--root-threshold", "2", "--minister", public["fm"], "--out", str(ks))  # fmt: skip
    assert "(0 signature(s))" in built
    assert "lacks its own root threshold" in run("party", "register", str(ks), "--dir", str(home), code=65)
    copies = []
    for name in ("r1", "r2"):
        copy = tmp_path / f"copy-{name}.json"
        copy.write_bytes(ks.read_bytes())
        said = run("keys", "sign", str(copy), "--key", str(tmp_path / f"{name}.key"))
        assert "signed the keyset version 1 of DE issued" in said, "a signer sees what it signs"
        copies.append(str(copy))
    signed = tmp_path / "de-keyset-signed.json"
    run("keys", "collect", *copies, "--out", str(signed))
    assert "registered at index" in run("party", "register", str(signed), "--dir", str(home))
    wrong = run("keys", "keyset", "--party", "DE", "--root", "no-such.key", "--minister", public["fm"],
                "--out", str(tmp_path / "x.json"), code=65)  # fmt: skip
    assert "neither a key file nor a public key" in wrong
    three_of_two = run("keys", "keyset", "--party", "DE", "--root", public["r1"], "--root", public["r2"],
                       "--root-threshold", "3", "--minister", public["fm"], "--out", str(tmp_path / "y.json"),
                       code=65)  # fmt: skip
    assert "threshold 3 but 2 keys" in three_of_two
    assert not (tmp_path / "y.json").exists()
