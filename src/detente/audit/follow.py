"""One audit step against a registry: checkpoint, entries, rebuilt root (consistency), projection check.

Every disagreement is an alarm, not an exception: an auditor's job is to report what it saw. A registry
that cannot be reached, or answers with an HTTP error, is *unavailable*, which is reported apart: it
proves nothing against the log (a network fault looks the same), and the next step tries again. So is a
*stale* one, serving an older checkpoint that the entries held show to be consistent with the newer one
accepted (a mirror or cache behind): the log signed both.

An alarm says what the signed checkpoints show (see :mod:`detente.audit.evidence`): a *fork* (the log
signed two trees that are not one history: the two notes and a consistency proof prove it offline),
entries *tampered* by whoever served them (the two checkpoints are consistent; the entries are not those
they commit to), or the auditor's *own copy damaged* (nothing served is wrong).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from detente.errors import DetenteError
from detente.tlog import merkle
from detente.tlog.checkpoint import Checkpoint, open_checkpoint
from detente.tlog.edge import TreeEdge
from detente.tlog.note import Ed25519Verifier
from detente.tlog.tiles import (
    TILE_WIDTH,
    TileHashSource,
    TileRef,
    decode_entry_bundle,
    entries_path,
    tile_path,
)

from .evidence import Evidence, prefix_of, tampered_lines, wrong_entries
from .mirror import Mirror

# Given every entry of the log, return differences between what they imply and what the API serves.
ProjectionCheck = Callable[[Sequence[bytes], httpx.Client], list[str]]  # see detente.audit.projection

_NOTHING_PROVEN = "an answer the auditor could not check (see the alarm): the checkpoints alone prove nothing"

_TAMPERED = "entries tampered with or corrupted by whoever served them; the log's checkpoints agree"


@dataclass(frozen=True)
class Report:
    """What one audit step saw."""

    size: int
    new_entries: int
    alarms: tuple[str, ...] = ()
    unavailable: str | None = None  # why nothing could be fetched this step
    stale: str | None = None  # an older checkpoint served, consistent with the one held: nothing proven
    # With an alarm: the signed checkpoint served, the one held, what they show and the proofs of it.
    evidence: Evidence | None = None


@dataclass
class Auditor:
    """Follows one registry with its own mirror."""

    http: httpx.Client
    log_key: Ed25519Verifier
    mirror: Mirror
    check_projection: ProjectionCheck | None = None
    alarms: list[str] = field(default_factory=list)
    _edge: TreeEdge | None = None
    _notes: tuple[str, str | None] | None = None  # this step's checkpoint served, and the one held
    _evidence: Evidence | None = None  # what this step's alarm showed, if it knows
    _stale: str | None = None

    def step(self) -> Report:
        """Fetch and check the registry's newest state; return what was seen."""
        self.alarms = []
        self._notes = self._evidence = self._stale = None
        try:
            new = self._step()
        except httpx.HTTPError as exc:  # nothing was accepted from this step: the mirror is as it was
            return Report(self.mirror.size, 0, (), f"{type(exc).__name__}: {exc}")
        except (DetenteError, ValueError, KeyError, TypeError, IndexError) as exc:  # malformed answers too
            self.alarms.append(f"{type(exc).__name__}: {exc}")
            new = 0
        return Report(self.mirror.size, new, tuple(self.alarms), stale=self._stale, evidence=self._kept())

    def _kept(self) -> Evidence | None:
        """The evidence of this step's alarms: the signed checkpoints, and what they show if known."""
        if not self.alarms or self._notes is None:
            return None
        return self._evidence or Evidence(*self._notes, _NOTHING_PROVEN)

    def _step(self) -> int:
        note = self.http.get("/checkpoint").raise_for_status().text
        cp = open_checkpoint(note, self.log_key).checkpoint
        held = self.mirror.size
        old_note = self.mirror.checkpoint()
        held_cp = None if old_note is None else open_checkpoint(old_note, self.log_key).checkpoint
        self._notes = (note, old_note)
        if held_cp is not None and cp.size < held:
            self._older(cp, held_cp)
            return 0
        if held_cp is not None and cp.size == held and held_cp.root != cp.root:
            self._alarm(
                f"two different roots for size {held}: a fork", "a fork: one size, two roots, both signed"
            )
            return 0
        # No consistency proof is asked for: the mirror holds every entry of the old tree, so a new root
        # rebuilt from them and the new entries proves the new tree extends the old one (and the
        # auditor then needs nothing but the C2SP tiles, which any static mirror serves).
        entries = self._fetch(held, cp.size)
        edge = self._edge if self._edge is not None else self.mirror.edge()
        edge, _ = edge.extend([merkle.leaf_hash(e) for e in entries])
        if edge.root() != cp.root:
            self._mismatch(cp, held_cp, entries)
            return 0
        if not self.alarms:
            self.mirror.accept(held, entries, note)
            self._edge = edge
        if self.check_projection is not None and not self.alarms:
            self.alarms.extend(self.check_projection(self.mirror.entries(), self.http))
        return len(entries)

    def _alarm(self, alarm: str, finding: str, details: Sequence[str] = ()) -> None:
        self.alarms.append(alarm)
        if self._notes is not None:
            self._evidence = Evidence(*self._notes, finding, tuple(details))

    def _older(self, cp: Checkpoint, held_cp: Checkpoint) -> None:
        """An older checkpoint served: stale if the entries held begin with its tree, else a fork."""
        try:
            prefix = prefix_of(self.mirror, cp.size, held_cp)  # the copy held, checked against its root
        except DetenteError:
            self._damaged_copy(held_cp.size)
            return
        if prefix.root == cp.root:
            self._stale = (
                f"the registry serves checkpoint {cp.size}, older than checkpoint {held_cp.size} accepted "
                "before and consistent with it (a mirror or cache behind); nothing against the log"
            )
            return
        self._alarm(
            f"the log signed checkpoint {cp.size}, which is not the first {cp.size} entries of checkpoint "
            f"{held_cp.size} it signed before: a fork (a rollback to another history)",
            f"a fork: checkpoint {held_cp.size}'s first {cp.size} leaves have another root than the "
            f"checkpoint {cp.size} served",
            prefix.lines(),
        )

    def _mismatch(self, cp: Checkpoint, held_cp: Checkpoint | None, entries: Sequence[bytes]) -> None:
        """The entries do not rebuild the served root: a fork, tampered entries, or a damaged copy.

        Told apart by the hash tiles served, each checked against the served checkpoint's signed root.
        """
        held = 0 if held_cp is None else held_cp.size
        source = TileHashSource(cp.size, cp.root, self._tile)
        try:
            prefix = None if held_cp is None else prefix_of(source, held, cp)
            wrong = wrong_entries(source, held, entries)
        except (httpx.HTTPError, DetenteError, ValueError) as exc:
            self._alarm(
                f"the entries served do not rebuild the root of checkpoint {cp.size}, and its hash tiles "
                f"cannot tell a fork from tampered entries ({type(exc).__name__}: {exc})",
                _NOTHING_PROVEN,
            )
            return
        if prefix is not None and held_cp is not None and prefix.root != held_cp.root:
            self._alarm(
                f"checkpoint {cp.size} does not extend checkpoint {held}: a fork (its hash tiles, checked "
                f"against its signed root, give its first {held} leaves another root)",
                f"a fork: checkpoint {cp.size}'s first {held} leaves have another root than checkpoint "
                f"{held}",
                prefix.lines(),
            )
            return
        consistent = prefix.lines() if prefix is not None else ()
        if wrong:
            extends = f"; checkpoint {cp.size} extends checkpoint {held}" if held else ""
            self._alarm(
                f"the registry serves entries that checkpoint {cp.size} does not hold ({len(wrong)} of "
                f"{len(entries)}, the first at index {wrong[0]}): tampered or corrupted entries, not a fork"
                f"{extends}",
                _TAMPERED,
                [*consistent, *tampered_lines(source, cp, held, entries, wrong)],
            )
        elif len(entries) != cp.size - held:  # a bundle too short or too long: _fetch's alarm says which
            self._evidence = Evidence(*self._notes, _TAMPERED, consistent) if self._notes else None
        else:
            self._damaged_copy(held)

    def _damaged_copy(self, held: int) -> None:
        self._alarm(
            f"the auditor's own copy of the log no longer rebuilds checkpoint {held} it accepted: its mirror "
            "database is damaged (nothing served is shown wrong); move it away to audit from scratch",
            "the auditor's own copy is damaged; the checkpoints prove nothing against the log",
        )

    def _tile(self, ref: TileRef) -> bytes:
        return self.http.get("/" + tile_path(ref)).raise_for_status().content

    def _fetch(self, start: int, stop: int) -> list[bytes]:
        """Entries ``[start, stop)`` from the C2SP entry bundles (any static mirror serves them)."""
        out: list[bytes] = []
        for tile in range(start // TILE_WIDTH, -(-stop // TILE_WIDTH)):
            width = min(TILE_WIDTH, stop - tile * TILE_WIDTH)
            data = self.http.get("/" + entries_path(tile, width)).raise_for_status().content
            bundle = decode_entry_bundle(data)
            if len(bundle) != width:
                self.alarms.append(f"entry bundle {tile} has {len(bundle)} entries, not {width}")
            lo = max(start, tile * TILE_WIDTH) - tile * TILE_WIDTH
            out.extend(bundle[lo:width])
        return out
