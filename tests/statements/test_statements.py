"""DSSE, keys, canonical JSON, schemas, offline signing and threshold collection."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from detente.errors import MalformedError, VerificationError
from detente.statements.canonical import (
    b64e,
    canonical,
    format_time,
    parse_canonical,
    parse_json,
    parse_time,
    reparse_canonical,
)
from detente.statements.dsse import MAX_SIGNATURES, Envelope, Signature, merge_envelopes, pae, sign_envelope
from detente.statements.keys import PublicKey, SigningKey, key_id
from detente.statements.kinds import payload_type
from detente.statements.schema import TIME, validate
from detente.statements.statement import (
    Statement,
    make_payload,
    open_statement,
    read_statement,
    reopen_statement,
)
from tests.statements.golden import golden_statements, seed_key


def test_pae_matches_the_dsse_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_key_id_is_sha256_of_the_raw_public_key() -> None:
    key = seed_key("k")
    assert key.keyid == key_id(key.public.raw)
    assert len(key.keyid) == 64
    assert SigningKey.from_file(key.to_file()) == key
    assert "seed" not in repr(key) or key.seed.hex() not in repr(key)


def test_key_file_with_wrong_key_id_is_refused() -> None:
    data = (
        seed_key("k").to_file().replace(b'"keyid":"', b'"keyid":"0', 1).replace(b'","schema', b'","schema', 1)
    )
    with pytest.raises(MalformedError):
        SigningKey.from_file(data)


def test_signature_over_pae_binds_the_type() -> None:
    key = seed_key("k")
    env = sign_envelope(payload_type("offer"), b"{}", [key])
    moved = Envelope(payload_type("accept"), env.payload, env.signatures)
    with pytest.raises(VerificationError):
        moved.verified_by({key.keyid: key.public})
    assert env.verified_by({key.keyid: key.public}) == {key.keyid}
    assert env.verified_by({}) == frozenset()  # unknown keys count for nothing


def test_threshold_signatures_collected_offline_merge() -> None:
    a, b = seed_key("a"), seed_key("b")
    payload = make_payload(
        "withdraw", "RU", "2018-06-07T09:00:00Z", {"xid": "0" * 32, "offer": "1" * 64, "reason": ""}
    )
    file_a = sign_envelope(payload_type("withdraw"), payload, [a]).encode() + b"\n"
    file_b = sign_envelope(payload_type("withdraw"), payload, [b]).encode() + b"\n"
    merged = merge_envelopes([Envelope.decode(file_a), Envelope.decode(file_b)])
    assert merged.verified_by({a.keyid: a.public, b.keyid: b.public}) == {a.keyid, b.keyid}
    other = sign_envelope(payload_type("withdraw"), payload.replace(b'"RU"', b'"US"'), [b])
    with pytest.raises(MalformedError, match="same payload"):
        merge_envelopes([merged, other])
    b_sig = next(s.sig for s in merged.signatures if s.keyid == b.keyid)
    swapped = Envelope(payload_type("withdraw"), payload, (Signature(a.keyid, b_sig),))
    with pytest.raises(VerificationError, match="different signatures by key"):
        merge_envelopes([merged, swapped])  # a's signature in one copy, b's bytes under a's id in the other


def test_envelope_refuses_duplicate_key_ids_and_bad_shapes() -> None:
    key = seed_key("k")
    env = sign_envelope("t", b"x", [key])
    with pytest.raises(MalformedError):
        Envelope("t", b"x", env.signatures * 2)
    with pytest.raises(MalformedError):
        Envelope.decode(canonical({**env.to_json(), "extra": 1}))
    with pytest.raises(MalformedError):
        Envelope.decode(canonical({**env.to_json(), "signatures": [{"keyid": "AB", "sig": ""}]}))


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',
        b'{"a":1.5}',
        b'{"a":NaN}',
        b"\xff",
        b'{"b":1,"a":2}',
        b'{"a": 1}',
        b"[" * 5000,
        b"[" + b"9" * 4400 + b"]",
        b'{"a":9007199254740992}',  # 2**53: past the safe range, by one
        b"[-9007199254740992]",
        b"-0",
        b'{"a":1e5}',
    ],
)
def test_strict_canonical_parsing(data: bytes) -> None:
    with pytest.raises(MalformedError):
        parse_canonical(data, "test")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(), c, max_size=6),
    max_leaves=20,
)


@pytest.mark.parametrize("value", [2**53 - 1, -(2**53) + 1, [0, -1, 10**15]])
def test_safe_integers_of_every_length_are_read(value: Any) -> None:
    assert parse_canonical(canonical(value), "v") == value


@given(JSON)
def test_fast_canonical_equals_rfc8785(value: Any) -> None:
    assert canonical(value) == bytes(rfc8785.dumps(value))


@given(JSON)
def test_canonical_round_trip(value: object) -> None:
    data = canonical(value)
    assert parse_canonical(data, "v") == value == parse_json(data, "v")


def test_schema_names_the_wrong_path() -> None:
    with pytest.raises(MalformedError, match=r"\$\.body\.xid"):
        make_payload("abort", "RU", "2018-06-07T09:00:00Z", {"xid": "XYZ", "offer": "0" * 64})
    with pytest.raises(MalformedError, match="unknown fields"):
        make_payload("abort", "RU", "2018-06-07T09:00:00Z", {"xid": "0" * 32, "offer": "0" * 64, "x": 1})
    with pytest.raises(MalformedError, match="type integer"):
        validate(True, {"type": "integer"})
    with pytest.raises(MalformedError, match="party"):
        make_payload("abort", "ru", "2018-06-07T09:00:00Z", {"xid": "0" * 32, "offer": "0" * 64})


def test_public_key_must_be_32_bytes() -> None:
    with pytest.raises(MalformedError):
        PublicKey(b"short")


def test_a_public_key_verifies_exactly_its_own_signatures_of_the_message() -> None:
    key, other = seed_key("k"), seed_key("other")
    signature = key.sign(b"message")
    assert key.public.verify(b"message", signature)
    assert not key.public.verify(b"messagE", signature)
    assert not other.public.verify(b"message", signature)
    assert not key.public.verify(b"message", other.sign(b"message"))
    # a signature of another length is refused, never read into the message (or the message into it)
    assert not key.public.verify(b"message"[1:], signature + b"message"[:1])
    assert not key.public.verify(b"m" + b"message", signature[:-1])
    assert not key.public.verify(b"message", b"")


def test_open_statement_round_trip() -> None:
    key = seed_key("k")
    payload = make_payload("abort", "RU", "2018-06-07T09:00:00Z", {"xid": "0" * 32, "offer": "0" * 64})
    st_ = open_statement(sign_envelope(payload_type("abort"), payload, [key]))
    assert st_.kind == "abort"
    assert st_.party == "RU"
    assert st_.issued_at.year == 2018


def test_a_remembered_signature_check_counts_only_for_the_key_it_was_made_with() -> None:
    a, b = seed_key("a"), seed_key("b")
    env = sign_envelope(payload_type("offer"), b"{}", [a])
    env.check_signatures({a.keyid: a.public})  # verifies, and remembers: valid with key a
    assert env.verified_by({a.keyid: a.public}) == {a.keyid}
    with pytest.raises(VerificationError):  # another key under the same id is checked afresh
        env.verified_by({a.keyid: b.public})
    assert env.verified_by({}) == frozenset()  # a remembered check of an id not given counts for nothing


def test_checking_signatures_early_decides_nothing() -> None:
    a = seed_key("a")
    env = sign_envelope(payload_type("offer"), b"{}", [a])
    forged = Envelope(env.payload_type, env.payload, (Signature(a.keyid, bytes(64)),))
    forged.check_signatures({a.keyid: a.public})  # no refusal here: nothing was asked yet
    with pytest.raises(VerificationError, match="does not verify"):
        forged.verified_by({a.keyid: a.public})


def test_a_decoded_envelope_encodes_to_the_bytes_it_was_read_from() -> None:
    env = sign_envelope(payload_type("offer"), b"{}", [seed_key("a"), seed_key("b")])
    data = canonical(env.to_json())
    decoded = Envelope.decode(data + b"\n")
    assert decoded.encode() == data
    assert decoded == env


@pytest.mark.parametrize("golden", golden_statements(), ids=lambda g: g.kind)
def test_a_reopened_statement_is_the_statement_read_with_the_same_checks(golden: Statement) -> None:
    data = golden.envelope.encode() + b"\n"
    read = read_statement(data)
    keys = {s.keyid: seed_key("other").public for s in read.envelope.signatures}  # each check fails
    read.envelope.check_signatures(keys)
    back = reopen_statement(data, read.envelope.outcomes(), read.sid)  # what a pre-verifier sends back
    assert back == read
    assert (back.sid, back.body, type(back.body)) == (read.sid, read.body, dict)
    assert back.envelope.encode() == read.envelope.encode() == data[:-1]
    assert back.envelope.outcomes() == read.envelope.outcomes() != {}  # the outcomes travel along
    with pytest.raises(VerificationError):  # and still count only for the key they were made with
        back.envelope.verified_by(keys)
    # the id is taken as given (the pre-verifier's answer is held to the writer's own in test_precheck)
    assert reopen_statement(data, read.envelope.outcomes(), "given").sid == "given"


@given(JSON)
def test_reparsing_gives_what_the_checked_parse_gave(value: Any) -> None:
    data = canonical(value)
    assert reparse_canonical(data) == parse_canonical(data, "v") == value


def _read_strictly(data: bytes) -> Envelope | MalformedError:
    """What :meth:`Envelope.decode` gave before its typed reading: the strict parse, then ``from_json``."""
    try:
        return Envelope.from_json(parse_canonical(data.removesuffix(b"\n"), "envelope"))
    except MalformedError as exc:
        return exc


def _decoded(data: bytes) -> Envelope | MalformedError:
    try:
        return Envelope.decode(data)
    except MalformedError as exc:
        return exc


_ENVELOPE = canonical(
    sign_envelope(payload_type("offer"), b'{"a":1}', [seed_key("a"), seed_key("b")]).to_json()
)
_TWISTS = [  # each a way an envelope can be almost right
    b'"payload","', b'"keyid":"', b'"sig":"', b"==", b"\\u00e9", b"\\ud800", b"\xff", b"\xf0\x9f\x98\x80",
    b" ", b",", b"1", b"null", b'"', b"\\", b"A", b"+", b"-", b"[]", b"{}", b'"extra":1,', b"a" * 64,
]  # fmt: skip


@given(
    st.lists(
        st.tuples(
            st.integers(0, len(_ENVELOPE)),
            st.integers(0, 6),
            st.sampled_from(_TWISTS) | st.binary(max_size=3),
        ),
        max_size=3,
    )
)
def test_an_envelope_is_decoded_as_the_strict_reading_decodes_it(edits: list[tuple[int, int, bytes]]) -> None:
    data = _ENVELOPE
    for at, cut, text in edits:  # replace ``cut`` bytes at ``at`` with ``text``
        data = data[:at] + text + data[at + cut :]
    fast, strict = _decoded(data), _read_strictly(data)
    if isinstance(strict, MalformedError):
        assert isinstance(fast, MalformedError)
        assert str(fast) == str(strict)
    else:
        assert fast == strict
        assert fast.encode() == data.removesuffix(b"\n")
        assert Envelope.reopen(data, {}) == fast  # what a pre-verifier accepted, the writer reads


def _signed_by(count: int, copies: int = 1) -> bytes:
    """An envelope signed by ``count`` keys, each signature ``copies`` times, whatever the limits (built
    as JSON, not through :class:`Envelope`, which would refuse it)."""
    keys = [seed_key(f"k{n}") for n in range(count)] * copies
    sigs = [{"keyid": k.keyid, "sig": b64e(k.sign(pae("t", b"x")))} for k in keys]
    return canonical({"payload": b64e(b"x"), "payloadType": "t", "signatures": sigs})


@pytest.mark.parametrize(
    "data",
    [
        _ENVELOPE,
        _ENVELOPE.replace(b'"payloadType":"', b'"payloadType":"\xf0\x9f\x98\x80', 1),  # beyond the BMP
        _ENVELOPE.replace(b'"payloadType":"', b'"payloadType":"\\u001f', 1),
        _ENVELOPE.replace(b'"payloadType":"', b'"payloadType":"\\u00e9', 1),  # escaped needlessly
        _ENVELOPE.replace(b'"payloadType":"', b'"payloadType":"\\ud800', 1),  # a lone surrogate
        _ENVELOPE.replace(b'"}', b'","sig":"AA=="}', 1),  # a signature's field twice
        _ENVELOPE.replace(b"==", b"=", 1),
        b'{"payload":"QR==","payloadType":"t","signatures":[]}',  # base64 with stray bits
        b'{"payload":"","payload":"","payloadType":"t","signatures":[]}',
        b'{"payload":"","payloadType":"t","signatures":[]}',
        _signed_by(MAX_SIGNATURES),
        _signed_by(MAX_SIGNATURES + 1),
        _signed_by(2, copies=2),  # a key id twice
        _ENVELOPE.replace(seed_key("a").keyid.encode(), seed_key("a").keyid.upper().encode()),
        canonical(
            {"payload": "", "payloadType": "t", "signatures": [{"keyid": "a" * 64, "sig": b64e(b"s" * 63)}]}
        ),
    ],
)
def test_an_awkward_envelope_is_decoded_as_the_strict_reading_decodes_it(data: bytes) -> None:
    fast, strict = _decoded(data), _read_strictly(data)
    assert type(fast) is type(strict)
    assert str(fast) == str(strict)
    assert not isinstance(strict, Envelope) or fast == strict


@given(st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.replace(microsecond=0)))
def test_times_are_written_and_read_back_exactly_in_every_year(moment: datetime) -> None:
    """Years before 1000 too: strftime's %Y wrote year 1 as "1", which no reader takes for a time."""
    text = format_time(moment)
    assert re.fullmatch(TIME, text), text
    assert parse_time(text) == moment


def test_year_one_is_written_with_four_digits() -> None:
    assert format_time(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
