"""Every act signed on a machine with no registry (``--out``), then submitted from a connected one."""

from __future__ import annotations

from pathlib import Path

import pytest

from detente.registry.home import RegistryHome
from tests.registry.clirun import example_registry, run


class Machines:
    """A connected machine holding the registry ``home``, and an air-gapped one (``--dir`` names no
    registry) holding the keys; ``tmp`` is where each writes its files."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = example_registry(tmp)
        self.notary = RegistryHome(self.home).notary()[0].public
        self.air_gap = ["--dir", str(tmp / "no-registry-here")]

    def key(self, party: str) -> str:
        return str(self.home / "keys" / f"{party}-foreign-minister.key")

    def sign(self, *args: str, code: int = 0) -> str:
        """Run an act on the air-gapped machine."""
        return run(*args, *self.air_gap, code=code)

    def submit(self, envelope: Path, *blobs: Path) -> str:
        """Carry a file to the connected machine and submit it there."""
        given = [arg for blob in blobs for arg in ("--blob", str(blob))]
        said = run("submit", str(envelope), *given, "--dir", str(self.home))
        assert "logged at index" in said, said
        return said


@pytest.fixture
def m(tmp_path: Path) -> Machines:
    return Machines(tmp_path)


def test_an_exchange_signed_offline_from_offer_to_reveals(m: Machines) -> None:
    t = m.tmp
    offer = ["offer", "--party", "RU", "--key", m.key("RU"), "--to", "US", "--clauses", "L1",
             "--nonce", str(t / "ru.nonce"), "--out", str(t / "offer.json")]  # fmt: skip
    said = m.sign(*offer, code=78)
    assert "to sign without a registry, pass --notary" in said
    assert not (t / "ru.nonce").exists()
    said = m.sign(*offer, "--notary", m.notary.b64)
    xid = said.split()[1]
    [terms] = t.glob("*.blob")
    m.submit(t / "offer.json", terms)

    accept = ["accept", xid, "--party", "US", "--key", m.key("US"), "--nonce", str(t / "us.nonce"),
              "--out", str(t / "accept.json")]  # fmt: skip
    assert "to sign without a registry, pass --offer FILE" in m.sign(*accept, code=78)
    m.sign(*accept, "--offer", str(t / "offer.json"))
    m.submit(t / "accept.json")
    for party in ("RU", "US"):
        nonce = str(t / f"{party.lower()}.nonce")
        m.sign("reveal", xid, "--party", party, "--key", m.key(party), "--nonce", nonce,
               "--offer", str(t / "offer.json"), "--out", str(t / f"reveal-{party}.json"))  # fmt: skip
        m.submit(t / f"reveal-{party}.json")
    assert "concluded" in run("status", "--xid", xid, "--dir", str(m.home))

    resolve = ["resolve", xid, "--party", "US", "--key", m.key("US"), "--out", str(t / "resolve.json")]
    m.sign(*resolve, "--offer", str(t / "offer.json"), "--acceptance", str(t / "accept.json"))
    said = m.sign(*resolve, "--offer", str(t / "offer.json"), code=2)
    assert "give --offer and --acceptance together" in said


def test_each_other_act_signs_offline(m: Machines) -> None:
    t = m.tmp
    said = m.sign("offer", "--party", "RU", "--key", m.key("RU"), "--to", "US", "--clauses", "L1",
                  "--nonce", str(t / "ru.nonce"), "--notary", m.notary.keyid,
                  "--out", str(t / "offer.json"))  # fmt: skip
    xid = said.split()[1]
    offer = ["--offer", str(t / "offer.json")]
    for act, extra in [
        ("counter", ["--clauses", "L1", "--nonce", str(t / "us.nonce"), "--notary", m.notary.b64, *offer]),
        ("refuse", ["--reason", "not now", *offer]),
    ]:
        assert f"signed {act}" in m.sign(act, xid, "--party", "US", "--key", m.key("US"), *extra,
                                         "--out", str(t / f"{act}.json"))  # fmt: skip
    for act, extra in [("withdraw", offer), ("abort", offer)]:
        assert f"signed {act}" in m.sign(act, xid, "--party", "RU", "--key", m.key("RU"), *extra,
                                         "--out", str(t / f"{act}.json"))  # fmt: skip
    ru = ["--party", "RU", "--key", m.key("RU")]
    assert "signed termination" in m.sign("terminate", xid, *ru, "enough", "2030-01-01T00:00:00Z",
                                          "--out", str(t / "terminate.json"))  # fmt: skip
    assert "signed protest" in m.sign("protest", *ru, "--to", "US", "--ref", xid, "--clauses", "L1",
                                      "breach", "--out", str(t / "protest.json"))  # fmt: skip
    assert "signed reply" in m.sign("reply", "0" * 32, *ru, "rejects", "no breach",
                                    "--out", str(t / "reply.json"))  # fmt: skip


def test_an_offer_file_must_be_the_offer_of_the_exchange(m: Machines) -> None:
    t = m.tmp
    said = m.sign("offer", "--party", "RU", "--key", m.key("RU"), "--to", "US", "--clauses", "L1", "--nonce",
                  str(t / "n"), "--notary", "not-a-key", "--out", str(t / "offer.json"), code=65)  # fmt: skip
    assert "--notary 'not-a-key' is neither a public key in base64 nor a key id" in said
    m.sign("offer", "--party", "RU", "--key", m.key("RU"), "--to", "US", "--clauses", "L1", "--nonce",
           str(t / "n"), "--notary", m.notary.b64, "--out", str(t / "offer.json"))  # fmt: skip
    said = m.sign("refuse", "0" * 32, "--party", "US", "--key", m.key("US"), "--reason", "no",
                  "--offer", str(t / "offer.json"), "--out", str(t / "refuse.json"), code=65)  # fmt: skip
    assert f"{t / 'offer.json'} is the offer of exchange" in said
    assert f"not of {'0' * 32}" in said
