"""What an audit alarm rests on, written so that anyone holding the log's key can check it offline.

Two checkpoints signed by the log key, of sizes ``a <= b``, show a fork in one of two ways:

- ``a == b`` and two roots: the notes alone prove it.
- ``a < b``: a consistency proof from ``a`` to ``b`` that verifies (RFC 9162 2.1.4.2) with checkpoint
  ``b``'s root and a root ``P`` for its first ``a`` leaves, where ``P`` is not the root the log signed for
  size ``a``. Such a proof cannot be made for a tree that does not hold ``P`` (SHA-256 collisions aside),
  so ``P`` and the proof prove what the log's tree ``b`` holds, and the log contradicts itself.

The same proof with ``P`` equal to checkpoint ``a``'s root shows the two are *consistent*: then an
alarm about entries is tampering by whoever served them, not a fork; each entry served wrongly is kept
with the leaf hash the signed tree holds at its index and the inclusion proof of that leaf hash.

The hashes behind a proof come from a source checked against the signed root of the larger tree (hash
tiles through :class:`~detente.tlog.tiles.TileHashSource`, or the auditor's own entries), and a proof is
verified before it is offered as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detente.errors import VerificationError
from detente.tlog import merkle
from detente.tlog.checkpoint import Checkpoint
from detente.tlog.note import b64encode

MAX_ENTRIES_KEPT = 8  # wrong entries kept in one evidence file: the first ones show the tampering


@dataclass(frozen=True)
class Evidence:
    """An alarm's evidence: the signed checkpoint served, the one held, what they show, and the proofs."""

    served: str
    held: str | None
    finding: str
    details: tuple[str, ...] = ()

    def text(self) -> str:
        """The evidence file's text (the signed notes exactly as signed, and one detail a line)."""
        held = self.held if self.held is not None else "(none accepted before)\n"
        parts = [
            f"finding: {self.finding}\n",
            f"served by the registry:\n{self.served}\n",
            f"last accepted by this auditor:\n{held}",
        ]
        if self.details:
            parts.append("\n" + "".join(f"{line}\n" for line in self.details))
        return "".join(parts)


@dataclass(frozen=True)
class Prefix:
    """The root of a tree's first ``size`` leaves, and the consistency proof from there to the tree."""

    size: int
    root: bytes
    tree: Checkpoint
    proof: tuple[bytes, ...]

    def lines(self) -> tuple[str, ...]:
        """The proof as evidence lines, said so that anyone can check it with an RFC 9162 verifier."""
        if self.size in (0, self.tree.size):
            return (
                f"root of the first {self.size} leaves of checkpoint {self.tree.size}: "
                f"{b64encode(self.root)}",
            )
        return (
            f"root of the first {self.size} leaves of checkpoint {self.tree.size}: {b64encode(self.root)}",
            f"consistency proof from size {self.size} to {self.tree.size} (RFC 9162 2.1.4.2, base64, one "
            "hash per line), which verifies with that root and the checkpoint's:",
            *(b64encode(h) for h in self.proof),
        )


def prefix_of(source: merkle.HashSource, size: int, tree: Checkpoint) -> Prefix:
    """The root of the first ``size`` leaves of ``tree``, read from ``source``, and the proof of it.

    Raises:
        VerificationError: the source does not hold ``tree`` (the proof does not verify with its root).
    """
    root = merkle.tree_root(source, size)
    if size in (0, tree.size):
        if size == tree.size and root != tree.root:
            raise VerificationError(f"the hashes read do not rebuild the root of checkpoint {tree.size}")
        return Prefix(size, root, tree, ())
    proof = tuple(merkle.consistency_proof(source, size, tree.size))
    merkle.verify_consistency(size, tree.size, root, tree.root, proof)
    return Prefix(size, root, tree, proof)


def wrong_entries(source: merkle.HashSource, first: int, entries: Sequence[bytes]) -> list[int]:
    """Indexes of ``entries`` (the first at index ``first``) whose leaf hash is not the source's."""
    return [
        first + i
        for i, entry in enumerate(entries)
        if merkle.leaf_hash(entry) != source.subtree_hash(0, first + i)
    ]


def tampered_lines(
    source: merkle.HashSource, tree: Checkpoint, first: int, entries: Sequence[bytes], wrong: Sequence[int]
) -> list[str]:
    """Evidence that the entries at indexes ``wrong`` are not those ``tree`` holds (the first few)."""
    lines = [
        line for i in wrong[:MAX_ENTRIES_KEPT] for line in _entry_lines(source, tree, i, entries[i - first])
    ]
    if len(wrong) > MAX_ENTRIES_KEPT:
        lines.append(f"and {len(wrong) - MAX_ENTRIES_KEPT} more entries served wrongly")
    return lines


def _entry_lines(source: merkle.HashSource, tree: Checkpoint, index: int, served: bytes) -> tuple[str, ...]:
    """Evidence that the entry served at ``index`` is not the one ``tree`` holds."""
    committed = source.subtree_hash(0, index)
    return (
        f"entry {index} as served (base64): {b64encode(served)}",
        f"its leaf hash: {b64encode(merkle.leaf_hash(served))}; the leaf hash checkpoint {tree.size} holds "
        f"at {index}: {b64encode(committed)}, with this inclusion proof (RFC 9162 2.1.3.2):",
        *(b64encode(h) for h in merkle.inclusion_proof(source, index, tree.size)),
    )
