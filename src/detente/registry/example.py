"""``detente example``: the example record, replayed through the protocol.

It replays history: each statement carries its historical ``issued`` date, ``received`` is the time of
the replay, and every outcome follows from the protocol (offers are answered within deadlines set from
the replay time), not from backdating. Texts of the 1933 notes are given in the project's own wording
with their citation; dates the public record does not give exactly are marked as approximate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from detente.accords import acts
from detente.accords.acts import Authority
from detente.accords.letters import Letter, Person, Terms, reciprocal_letters, terms_document
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.keys import SigningKey
from detente.statements.keysets import keyset_body, sign_keyset
from detente.statements.statement import Statement

from .core import Registry

Random = Callable[[int], bytes]


@dataclass
class ExampleRecord:
    """What the example built: ids by name and every party's keys (to keep acting)."""

    ids: dict[str, str] = field(default_factory=dict)
    keys: dict[str, dict[str, SigningKey]] = field(default_factory=dict)


@dataclass
class _Builder:
    registry: Registry
    random: Random
    record: ExampleRecord = field(default_factory=ExampleRecord)

    def fm(self, party: str) -> Authority:
        return Authority(party, (self.record.keys[party]["foreign-minister"],))

    def register(self, party: str, issued: str) -> None:
        keys = {role: SigningKey.generate(self.random) for role in ("root", "foreign-minister", "cert")}
        body = keyset_body(1, None, {role: ([key.public], 1) for role, key in keys.items()})
        self.record.keys[party] = keys
        st = sign_keyset(party, issued, body, [keys["root"]])
        self.registry.submit(st.envelope.encode(), register=True)

    def submit(self, st: Statement, *blobs: bytes) -> Statement:
        self.registry.submit(st.envelope.encode(), blobs)
        return st

    def offer(self, name: str, by: str, to: str, issued: str, terms: bytes) -> tuple[Statement, bytes]:
        nonce, xid = self.random(32), self.random(16).hex()
        deadline = format_time(self.registry.clock() + timedelta(days=30))
        m1 = acts.offer(
            self.fm(by), issued, xid=xid, to=to, notary=self.registry.notary.keyid, deadline=deadline,
            terms=sha256_hex(terms), nonce=nonce,
        )  # fmt: skip
        self.record.ids[name] = xid
        return self.submit(m1, terms), nonce


LITVINOV = Person("SU", "People's Commissar for Foreign Affairs", "Maxim Litvinov")
ROOSEVELT = Person("US", "President of the United States", "Franklin D. Roosevelt")
LAVROV = Person("RU", "Minister of Foreign Affairs", "Minister of Foreign Affairs of Russia")
SECSTATE = Person("US", "Secretary of State", "Secretary of State of the United States")


def _terms_1933() -> bytes:
    pledge = Letter(LITVINOV, ROOSEVELT, "Washington", "1933-11-16", ("L1", "L2", "L3", "L4"), "C0")
    answer = Letter(ROOSEVELT, LITVINOV, "Washington", "1933-11-16", ("R1",), "C0", quoted=None)
    return terms_document((pledge, answer), 0)


def _terms_modern(date: str) -> bytes:
    terms = Terms(LAVROV, SECSTATE, "Moscow", date, ("L1", "M1", "M2", "M3", "M4", "M5"), "C0", 180)
    return terms_document(reciprocal_letters(terms), terms.notice_days)


def build_example(registry: Registry, random: Random) -> ExampleRecord:
    """Build the example record in ``registry`` (an empty one)."""
    b = _Builder(registry, random)
    b.register("SU", "1933-11-01T00:00:00Z")
    b.register("US", "1933-11-01T00:00:00Z")
    b.register("RU", "1992-01-01T00:00:00Z")
    _exchange_1933(b)
    _offers_refused(b)
    _declaration(b)
    _protest_1935(b)
    return b.record


def _exchange_1933(b: _Builder) -> None:
    day = "1933-11-16T12:00:00Z"
    m1, na = b.offer("exchange-1933", "SU", "US", day, _terms_1933())
    nb = b.random(32)
    b.submit(acts.accept(b.fm("US"), day, m1, nb))
    b.submit(acts.reveal(b.fm("SU"), day, m1, na))
    b.submit(acts.reveal(b.fm("US"), day, m1, nb))


def _offers_refused(b: _Builder) -> None:
    m1, _ = b.offer("offer-2017", "RU", "US", "2017-06-01T00:00:00Z", _terms_modern("2017-06-01"))
    reason = "Declined (2017; exact dates not public)."
    b.submit(acts.refuse(b.fm("US"), "2017-06-30T00:00:00Z", m1, reason))
    m1, _ = b.offer("offer-2018", "RU", "US", "2018-06-07T00:00:00Z", _terms_modern("2018-06-07"))
    reason = "Declined before the Helsinki summit of 16 July 2018 (exact date not public)."
    b.submit(acts.refuse(b.fm("US"), "2018-07-15T00:00:00Z", m1, reason))


def _declaration(b: _Builder) -> None:
    text = (
        b"Illustrative: the Russian Federation declares that it will not interfere in the internal affairs "
        b"of the United States, including by information and communication technologies, and will not "
        b"knowingly allow its territory to be used for such acts (clauses L1, M1, M3)."
    )
    did = b.random(16).hex()
    b.record.ids["declaration-2018"] = did
    b.submit(
        acts.declaration(
            b.fm("RU"), "2018-10-12T00:00:00Z", did=did, to="US", clauses=["L1", "M1", "M3"],
            summary="Unilateral assurance of non-interference (illustrative).", text=sha256_hex(text),
            effective="2018-10-12T00:00:00Z", notice_days=180,
        ),
        text,
    )  # fmt: skip


def _protest_1935(b: _Builder) -> None:
    pid = b.random(16).hex()
    b.record.ids["protest-1935"] = pid
    summary = "The United States protests a breach of the paragraph numbered 4 (the Comintern congress)."
    b.submit(
        acts.protest(
            b.fm("US"),
            "1935-08-25T00:00:00Z",
            pid=pid,
            to="SU",
            ref=b.record.ids["exchange-1933"],
            clauses=["L4"],
            summary=summary,
        )
    )
    reply = "The Soviet Government denies any obligation concerning the Communist International."
    b.submit(acts.reply(b.fm("SU"), "1935-08-27T00:00:00Z", pid, "rejects", reply))
