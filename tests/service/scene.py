"""A registry service for tests: a real store, a hand-moved clock, three parties and a small record.

The record: RU and US conclude an exchange of letters (both nonces revealed), FR refuses an offer by US,
US declares to all, RU protests to US citing the exchange, and US replies.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from detente.accords import acts
from detente.accords.letters import Person, Terms, reciprocal_letters, terms_document
from detente.registry.core import Receipt, Request
from detente.service.core import RegistryService
from detente.service.home import ServiceHome, Settings
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.statement import Statement
from tests.accords.world import Clock, PartyKeys, rand, xid

PARTIES = ("RU", "US", "FR")


def incident(by: acts.Authority, n: int, issued: str) -> Statement:
    """An incident reported by ``by`` (the ``n``-th of the burst)."""
    body = {
        "iid": sha256_hex(b"burst %d" % n)[:32], "to": "US", "monitor_id": f"{n:016x}",
        "asset": {"name": "cec", "kind": "election-body"}, "attack": "flood", "start": issued,
        "end": issued, "requests": 1000 + n, "peak_per_minute": 60, "sources": 3,
        "origin": {"country": "US", "requests": 1000, "sources": 3}, "networks": [], "clauses": [],
        "evidence": sha256_hex(n.to_bytes(8, "big")), "attributed_actor": None,
    }  # fmt: skip
    return by.sign("incident", issued, body)


def submission(st: Statement, *blobs: bytes) -> dict[str, object]:
    """The JSON body of ``POST /v1/statements``."""
    return {"envelope": st.envelope.to_json(), "blobs": [base64.b64encode(b).decode() for b in blobs]}


@dataclass
class Scene:
    """A started service, its clock and the parties' keys."""

    home: ServiceHome
    service: RegistryService
    clock: Clock
    keys: dict[str, PartyKeys] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def submit(self, st: Statement, *blobs: bytes, register: bool = False) -> Receipt:
        """Submit in process, through the writer thread; raise the refusal."""
        done = self.service.submit(Request(st.envelope.encode(), blobs, register)).result()
        assert isinstance(done, Receipt)
        return done

    def terms(self, a: str, b: str, clauses: tuple[str, ...] = ("L1", "M2", "M3")) -> bytes:
        """A terms document of two reciprocal letters."""
        t = Terms(
            Person(a, "Minister for Foreign Affairs", f"The Minister of {a}"),
            Person(b, "Minister for Foreign Affairs", f"The Minister of {b}"),
            "Geneva", "2018-06-07", clauses,
        )  # fmt: skip
        return terms_document(reciprocal_letters(t), 90)

    def offer(self, a: str, b: str, label: str, hours: float = 48) -> tuple[Statement, bytes, bytes]:
        """m1 by ``a`` to ``b`` naming this registry's notary; returns (m1, nonce, terms)."""
        doc = self.terms(a, b)
        nonce = rand(f"nonce {label}")
        m1 = acts.offer(
            self.keys[a].fm, self.clock.text(), xid=xid(label), to=b,
            notary=self.service.registry.notary_keyid(),
            deadline=format_time(self.clock.now + timedelta(hours=hours)), terms=sha256_hex(doc), nonce=nonce,
        )  # fmt: skip
        return m1, nonce, doc

    def register_all(self) -> None:
        """Register the first keyset of every party (the operator's act)."""
        for party in PARTIES:
            self.keys[party] = PartyKeys.make(party)
            self.submit(self.keys[party].keyset(self.clock.text()), register=True)

    def record(self) -> None:
        """The small record described in the module docstring."""
        m1, na, doc = self.offer("RU", "US", "concluded")
        self.submit(m1, doc)
        nb = rand("nb concluded")
        self.submit(acts.accept(self.keys["US"].fm, self.clock.text(), m1, nb))
        self.submit(acts.reveal(self.keys["RU"].fm, self.clock.text(), m1, na))
        self.submit(acts.reveal(self.keys["US"].fm, self.clock.text(), m1, nb))
        self.ids["concluded"] = m1.body["xid"]
        m1b, _, docb = self.offer("US", "FR", "refused")
        self.submit(m1b, docb)
        self.submit(acts.refuse(self.keys["FR"].fm, self.clock.text(), m1b, "not now"))
        self.ids["refused"] = m1b.body["xid"]
        text = b"The Government of the United States will not interfere in elections anywhere."
        did = xid("declaration")
        decl = acts.declaration(
            self.keys["US"].fm, self.clock.text(), did=did, to=None, clauses=["L1"],
            summary="No interference", text=sha256_hex(text), effective=self.clock.text(), notice_days=30,
        )  # fmt: skip
        self.submit(decl, text)
        self.ids["declared"] = did
        pid = xid("protest")
        protest = acts.protest(
            self.keys["RU"].fm, self.clock.text(), pid=pid, to="US", ref=m1.body["xid"], clauses=["L1"],
            summary="Interference <script>alert(1)</script> observed",
        )  # fmt: skip
        self.submit(protest)
        self.submit(acts.reply(self.keys["US"].fm, self.clock.text(), pid, "rejects", "We deny it."))
        self.ids["protested"] = pid


def make_home(tmp_path: Path, store_url: str, settings: Settings | None = None) -> ServiceHome:
    """A new registry folder whose log lives in ``store_url``."""
    home = ServiceHome(tmp_path / "registry")
    home.init(settings or Settings(wait=10.0), store_url)
    return home


@contextmanager
def scene(
    tmp_path: Path, store_url: str, settings: Settings | None = None, *, record: bool = True
) -> Iterator[Scene]:
    """A started service over a new registry, with the parties registered (and the record)."""
    clock = Clock()
    home = make_home(tmp_path, store_url, settings)
    with RegistryService.open(home, clock) as service:
        service.start(lapse_timer=False, publish=False)
        s = Scene(home, service, clock)
        s.register_all()
        if record:
            s.record()
        yield s
