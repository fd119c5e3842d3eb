"""One audit step against a registry: checkpoint, entries, rebuilt root (consistency), projection check.

Every disagreement is an alarm, not an exception: an auditor's job is to report what it saw. A registry
that cannot be reached, or answers with an HTTP error, is *unavailable*, which is reported apart: it
proves nothing against the log (a network fault looks the same), and the next step tries again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from detente.errors import DetenteError
from detente.tlog import merkle
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.edge import TreeEdge
from detente.tlog.note import Ed25519Verifier
from detente.tlog.tiles import TILE_WIDTH, decode_entry_bundle, entries_path

from .mirror import Mirror

# Given every entry of the log, return differences between what they imply and what the API serves.
ProjectionCheck = Callable[[Sequence[bytes], httpx.Client], list[str]]  # see detente.audit.projection


@dataclass(frozen=True)
class Report:
    """What one audit step saw."""

    size: int
    new_entries: int
    alarms: tuple[str, ...] = ()
    unavailable: str | None = None  # why nothing could be fetched this step
    # With an alarm: the signed checkpoint the registry served, and the last one the auditor had accepted
    # (both signed by the log key, so together they prove a fork or a rollback to anyone, offline).
    evidence: tuple[str, str | None] | None = None


@dataclass
class Auditor:
    """Follows one registry with its own mirror."""

    http: httpx.Client
    log_key: Ed25519Verifier
    mirror: Mirror
    check_projection: ProjectionCheck | None = None
    alarms: list[str] = field(default_factory=list)
    _edge: TreeEdge | None = None
    _evidence: tuple[str, str | None] | None = None  # this step's checkpoint served, and the one held

    def step(self) -> Report:
        """Fetch and check the registry's newest state; return what was seen."""
        self.alarms = []
        self._evidence = None
        try:
            new = self._step()
        except httpx.HTTPError as exc:  # nothing was accepted from this step: the mirror is as it was
            return Report(self.mirror.size, 0, (), f"{type(exc).__name__}: {exc}")
        except (DetenteError, ValueError, KeyError, TypeError, IndexError) as exc:  # malformed answers too
            self.alarms.append(f"{type(exc).__name__}: {exc}")
            new = 0
        return Report(
            self.mirror.size, new, tuple(self.alarms), evidence=self._evidence if self.alarms else None
        )

    def _step(self) -> int:
        note = self.http.get("/checkpoint").raise_for_status().text
        cp = open_checkpoint(note, self.log_key).checkpoint
        held = self.mirror.size
        old_note = self.mirror.checkpoint()
        self._evidence = (note, old_note)  # both signed by the log key: evidence if this step goes wrong
        if cp.size < held:
            self.alarms.append(f"the log shrank: it served size {cp.size} after {held}")
            return 0
        if (
            old_note is not None
            and cp.size == held
            and open_checkpoint(old_note, self.log_key).checkpoint.root != cp.root
        ):
            self.alarms.append(f"two different roots for size {held}: a fork")
            return 0
        # No consistency proof is asked for: the mirror holds every entry of the old tree, so a new root
        # rebuilt from them and the new entries proves the new tree extends the old one (and the
        # auditor then needs nothing but the C2SP tiles, which any static mirror serves).
        entries = self._fetch(held, cp.size)
        edge = self._edge if self._edge is not None else self.mirror.edge()
        edge, _ = edge.extend([merkle.leaf_hash(e) for e in entries])
        if edge.root() != cp.root:
            self.alarms.append(
                f"checkpoint {cp.size} does not extend checkpoint {held}: the entries held and those served "
                "do not rebuild its root (a fork, or tampered entries)"
                if held
                else f"the entries served do not rebuild the root of checkpoint {cp.size}"
            )
            return 0
        if not self.alarms:
            self.mirror.accept(held, entries, note)
            self._edge = edge
        if self.check_projection is not None and not self.alarms:
            self.alarms.extend(self.check_projection(self.mirror.entries(), self.http))
        return len(entries)

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
