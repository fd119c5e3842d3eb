"""A small world for tests: seeded keys, a clock, parties with keysets, a registry over an in-memory log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from detente.accords import acts
from detente.accords.acts import Authority
from detente.accords.letters import Person, Terms, reciprocal_letters, terms_document
from detente.registry.core import Registry
from detente.registry.entry import MemoryBlobs
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.keys import SigningKey
from detente.statements.keysets import keyset_body, sign_keyset
from detente.statements.statement import Statement
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.storage.memory import MemoryStore

START = datetime(2018, 6, 7, 9, 0, tzinfo=UTC)


def key(label: str) -> SigningKey:
    """A deterministic key (tests only)."""
    return SigningKey(hashlib.sha256(f"detente test key {label}".encode()).digest())


def rand(label: str, n: int = 32) -> bytes:
    """Deterministic 'random' bytes."""
    return hashlib.sha256(f"detente test random {label}".encode()).digest()[:n]


def xid(label: str) -> str:
    """A deterministic exchange id."""
    return rand(label, 16).hex()


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def text(self) -> str:
        return format_time(self.now)


@dataclass
class PartyKeys:
    """A party's keys: two root keys (threshold 2), a foreign minister key, a cert key."""

    party: str
    version: int = 1
    roots: tuple[SigningKey, ...] = ()
    minister: SigningKey = field(default_factory=lambda: key("unset"))
    cert: SigningKey = field(default_factory=lambda: key("unset"))

    @classmethod
    def make(cls, party: str, generation: int = 0) -> PartyKeys:
        g = f"{party}{generation}"
        return cls(party, 1, (key(f"{g} root 1"), key(f"{g} root 2")), key(f"{g} fm"), key(f"{g} cert"))

    def keyset(
        self, issued: str, previous: Statement | None = None, signers: tuple[SigningKey, ...] = ()
    ) -> Statement:
        body = keyset_body(
            self.version,
            previous.sid if previous is not None else None,
            {
                "root": ([k.public for k in self.roots], 2),
                "foreign-minister": ([self.minister.public], 1),
                "cert": ([self.cert.public], 1),
            },
        )
        return sign_keyset(self.party, issued, body, (*self.roots, *signers))

    @property
    def fm(self) -> Authority:
        return Authority(self.party, (self.minister,))

    @property
    def certs(self) -> Authority:
        return Authority(self.party, (self.cert,))


NOTARY = key("notary")
LOG_SIGNER = Signer("registry.test", hashlib.sha256(b"detente test log key").digest())


def new_registry(clock: Clock) -> Registry:
    log = Log.create(MemoryStore(), LOG_SIGNER)
    return Registry.open(log, NOTARY, "notary.test", MemoryBlobs(), clock)


@dataclass
class World:
    """A registry and registered parties."""

    clock: Clock
    registry: Registry
    parties: dict[str, PartyKeys]
    keysets: dict[str, Statement]

    def terms(self, a: str, b: str, clauses: tuple[str, ...] = ("L1", "M2", "M3")) -> bytes:
        t = Terms(
            Person(a, "Minister of Foreign Affairs", f"Minister of {a}"),
            Person(b, "Secretary of State", f"Minister of {b}"),
            "Moscow", "2018-06-07", clauses,
        )  # fmt: skip
        return terms_document(reciprocal_letters(t), 90)

    def offer(
        self,
        a: str,
        b: str,
        label: str,
        hours: float = 48,
        notary: str = NOTARY.keyid,
        doc: bytes | None = None,
    ) -> tuple[Statement, bytes, bytes]:
        """Return (m1, nonce of a, terms document)."""
        doc = self.terms(a, b) if doc is None else doc
        nonce = rand(f"nonce {label} {a}")
        deadline = format_time(self.clock.now + timedelta(hours=hours))
        m1 = acts.offer(
            self.parties[a].fm, self.clock.text(), xid=xid(label), to=b, notary=notary,
            deadline=deadline, terms=sha256_hex(doc), nonce=nonce,
        )  # fmt: skip
        return m1, nonce, doc


def world(parties: tuple[str, ...] = ("RU", "US", "FR")) -> World:
    clock = Clock()
    registry = new_registry(clock)
    keys = {p: PartyKeys.make(p) for p in parties}
    keysets = {}
    for p, k in keys.items():
        st = k.keyset(clock.text())
        registry.submit(st.envelope.encode(), register=True)
        keysets[p] = st
    return World(clock, registry, keys, keysets)
