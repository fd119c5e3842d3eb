"""Declarations, protests, replies, incidents and acts as frozen records of the projection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Declaration:
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


@dataclass(frozen=True)
class Protest:
    """A protest citing clause ids of an exchange or declaration."""

    pid: str
    party: str
    to: str
    ref: str
    clauses: tuple[str, ...]
    sid: str
    reply: str | None = None  # the reply's statement id


@dataclass(frozen=True)
class Incident:
    """A signed incident report: an origin territory, never an attributed actor."""

    iid: str
    party: str
    to: str
    clauses: tuple[str, ...]
    evidence: str
    sid: str
    reply: str | None = None


@dataclass(frozen=True)
class Act:
    """One logged statement as the timeline shows it."""

    index: int
    received: datetime
    issued: str
    kind: str
    party: str
    counterparty: str | None
    ref: str | None
    sid: str
