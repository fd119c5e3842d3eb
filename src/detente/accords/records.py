"""Declarations, protests, replies, incidents and acts as frozen records of the projection.

They are msgspec's frozen structs, not frozen dataclasses: one is built for every statement the writer
applies (an ``Act``, and an ``Incident`` for each incident), and a struct is built in C, about a tenth
of a frozen dataclass's cost (0.10 us against 0.89-0.98 us for an ``Act``, docs/performance.md). A changed
record is a new one (``msgspec.structs.replace``).
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class Declaration(msgspec.Struct, frozen=True):
    """A unilateral declaration: binding on its own, revocable only with notice."""

    did: str
    party: str
    to: str | None
    clauses: tuple[str, ...]
    effective: datetime
    notice_days: int
    sid: str
    terminated: datetime | None = None  # when a termination takes effect

    def in_force(self, at: datetime) -> bool:
        """Whether the declaration binds at ``at``."""
        return self.effective <= at and (self.terminated is None or at < self.terminated)


class Protest(msgspec.Struct, frozen=True):
    """A protest citing clause ids of an exchange or declaration."""

    pid: str
    party: str
    to: str
    ref: str
    clauses: tuple[str, ...]
    sid: str
    reply: str | None = None  # the reply's statement id


class Incident(msgspec.Struct, frozen=True):
    """A signed incident report: an origin territory, never an attributed actor."""

    iid: str
    party: str
    to: str
    clauses: tuple[str, ...]
    evidence: str
    sid: str
    reply: str | None = None


class Act(msgspec.Struct, frozen=True):
    """One logged statement as the timeline shows it."""

    index: int
    received: datetime
    issued: str
    kind: str
    party: str
    counterparty: str | None
    ref: str | None
    sid: str
