"""Keysets: thresholds, self-signed first versions, root-signed rotation and recovery."""

from __future__ import annotations

from typing import Any

import pytest

from detente.errors import MalformedError, VerificationError
from detente.statements.dsse import sign_envelope
from detente.statements.keys import SigningKey
from detente.statements.keysets import Keyset, check_keyset_change, keyset_body, sign_keyset
from detente.statements.kinds import payload_type
from tests.statements.golden import seed_key

ISSUED = "2018-06-07T09:00:00Z"
R1, R2, R3, FM = (seed_key(x) for x in ("r1", "r2", "r3", "fm"))


def body(
    version: int, previous: str | None, roots: tuple[SigningKey, ...] = (R1, R2, R3), threshold: int = 2
) -> dict[str, Any]:
    roles = {"root": ([k.public for k in roots], threshold), "foreign-minister": ([FM.public], 1)}
    return keyset_body(version, previous, roles)


def test_first_version_needs_its_own_root_threshold() -> None:
    one = check_keyset_change(None, sign_keyset("RU", ISSUED, body(1, None), [R1, R2]))
    assert one.version == 1
    assert one.roles["root"].threshold == 2
    with pytest.raises(VerificationError, match="own root threshold"):
        check_keyset_change(None, sign_keyset("RU", ISSUED, body(1, None), [R1]))
    with pytest.raises(VerificationError, match="version 1"):
        check_keyset_change(None, sign_keyset("RU", ISSUED, body(2, "0" * 64), [R1, R2]))


def test_rotation_and_recovery_after_a_lost_key() -> None:
    v1 = sign_keyset("RU", ISSUED, body(1, None), [R1, R2])
    one = check_keyset_change(None, v1)
    r4 = seed_key("r4")
    # R3 is lost: the remaining two roots (the threshold) sign a version without it.
    v2 = sign_keyset("RU", ISSUED, body(2, v1.sid, (R1, R2, r4)), [R1, R2, r4])
    two = check_keyset_change(one, v2)
    assert set(two.roles["root"].keys) == {R1.keyid, R2.keyid, r4.keyid}
    thief = seed_key("thief")
    stolen = sign_keyset("RU", ISSUED, body(3, v2.sid, (thief,), 1), [thief, R3])
    with pytest.raises(VerificationError, match="root threshold of version 2"):
        check_keyset_change(two, stolen)
    with pytest.raises(VerificationError, match="must follow"):
        check_keyset_change(two, sign_keyset("RU", ISSUED, body(3, v1.sid), [R1, R2]))


def test_inconsistent_keysets_are_refused() -> None:
    bad = body(1, None)
    bad["roles"]["root"]["threshold"] = 4
    with pytest.raises(MalformedError, match="threshold 4"):
        Keyset.from_statement(sign_keyset("RU", ISSUED, bad, [R1, R2]))


def test_authorised_counts_distinct_valid_signatures_of_the_role() -> None:
    one = check_keyset_change(None, sign_keyset("RU", ISSUED, body(1, None), [R1, R2]))
    env = sign_envelope(payload_type("keyset"), b"{}", [R1, FM])
    assert one.authorised(env, ["root"]) is None  # one root signature of two needed
    assert one.authorised(env, ["root", "foreign-minister"]) == "foreign-minister"
