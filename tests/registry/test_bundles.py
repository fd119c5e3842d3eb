"""Evidence bundles: every claim verifies offline; any single changed byte is refused."""

from __future__ import annotations

import base64
import json

import pytest

from detente.accords import acts
from detente.errors import DetenteError, NotFoundError, TooLargeError, VerificationError
from detente.registry.bundle import build_bundle, verify_bundle
from detente.statements.canonical import canonical
from tests.accords.world import LOG_SIGNER, rand, world
from tests.registry.example_world import example

CLAIMS = [
    ("offered", "offer-2018", "RU", "US"),
    ("refused", "offer-2017", "US", "RU"),
    ("concluded", "exchange-1933", "SU", "US"),
    ("declared", "declaration-2018", "RU", "US"),
    ("protested", "protest-1935", "US", "SU"),
    ("replied", "protest-1935", "SU", "US"),
]


@pytest.mark.parametrize(("claim", "name", "party", "counterparty"), CLAIMS)
def test_each_claim_verifies_offline(claim: str, name: str, party: str, counterparty: str) -> None:
    registry, record, _ = example()
    data = build_bundle(registry, claim, record.ids[name])
    result = verify_bundle(data, LOG_SIGNER.verifier())
    assert (result.claim.type, result.claim.party, result.claim.counterparty) == (claim, party, counterparty)
    assert result.size == registry.log.size
    assert result.describe().startswith(f"PROVEN as of checkpoint {registry.log.size} of registry.test")


def test_resolved_exchange_bundle_carries_the_notary_key() -> None:
    w = world()
    m1, _, doc = w.offer("RU", "US", "resolved")
    w.registry.submit(m1.envelope.encode(), [doc])
    m2 = acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("b"))
    w.registry.submit(m2.envelope.encode())
    w.registry.submit(acts.resolve(w.parties["US"].fm, w.clock.text(), m1, m2).envelope.encode())
    result = verify_bundle(build_bundle(w.registry, "concluded", m1.body["xid"]), LOG_SIGNER.verifier())
    assert result.claim.type == "concluded"


def test_claims_the_log_does_not_support_are_not_built() -> None:
    registry, record, _ = example()
    with pytest.raises(NotFoundError):
        build_bundle(registry, "concluded", record.ids["offer-2018"])
    with pytest.raises(NotFoundError):
        build_bundle(registry, "refused", record.ids["exchange-1933"])


def test_a_bundle_with_any_single_byte_changed_is_refused() -> None:
    registry, record, _ = example()
    data = build_bundle(registry, "declared", record.ids["declaration-2018"])
    key = LOG_SIGNER.verifier()
    verify_bundle(data, key)
    accepted = []
    for i in range(len(data)):
        changed = bytearray(data)
        changed[i] ^= 0x01
        try:
            verify_bundle(bytes(changed), key)
        except DetenteError:
            continue
        accepted.append(i)
    assert accepted == [], f"bytes whose change went unnoticed: {accepted[:10]}"


def test_a_bundle_checked_with_another_log_key_is_refused() -> None:
    registry, record, _ = example()
    data = build_bundle(registry, "offered", record.ids["offer-2018"])
    from detente.tlog.note import Signer

    other = Signer("registry.test", bytes(32)).verifier()
    with pytest.raises(DetenteError):
        verify_bundle(data, other)


def test_a_second_signature_line_by_the_log_key_is_refused() -> None:
    """A signed-note reader passes over a repeated key's line unverified; a bundle must not hold one."""
    registry, record, _ = example()
    data = build_bundle(registry, "offered", record.ids["offer-2018"])
    value = json.loads(data)
    line = value["checkpoint"].rstrip("\n").rsplit("\n", 1)[1]  # the log key's line: "— name base64"
    prefix, encoded = line.rsplit(" ", 1)
    bogus = f"{prefix} {base64.b64encode(base64.b64decode(encoded)[:4] + bytes(64)).decode()}\n"
    old, new = value["checkpoint"], value["checkpoint"] + bogus
    value["checkpoint"] = new
    for item in value["entries"]:
        item["proof"] = item["proof"].replace(old, new)
    with pytest.raises(VerificationError, match="not one verified signature"):
        verify_bundle(canonical(value) + b"\n", LOG_SIGNER.verifier())


def test_a_bundle_over_the_size_limit_is_refused_before_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    registry, record, _ = example()
    data = build_bundle(registry, "offered", record.ids["offer-2018"])
    monkeypatch.setattr("detente.registry.bundle.MAX_BUNDLE", len(data) - 1)
    with pytest.raises(TooLargeError, match=f"the bundle is {len(data)} bytes"):
        verify_bundle(data, LOG_SIGNER.verifier())
