"""The log: one writer that sequences entries into a signed Merkle tree, and verifying readers.

Invariants:
- Everything served (entries, tiles, proofs, the checkpoint) is checked against the signed checkpoint
  first; stored data that does not match raises :class:`~detente.errors.TamperError` and is not served.
- Only a log opened with the log's signing key writes; it takes the store's writer lock, so a second
  writer is refused. Each batch commits entries, tiles and the new checkpoint in one transaction by
  compare-and-swap on the old checkpoint: a batch is wholly visible or not at all.
- With a :class:`PublishedCheckpoint`, a store that is behind or disagrees with the last published
  checkpoint is refused (:class:`~detente.errors.ForkError`) instead of being served or extended.
- Not thread-safe: the :class:`~detente.tlog.sequencer.Sequencer` is the one thread that writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from detente.errors import (
    ConfigError,
    ConflictError,
    ForkError,
    InputError,
    NotFoundError,
    TamperError,
    TooLargeError,
)
from detente.tlog import merkle
from detente.tlog.checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint
from detente.tlog.edge import TreeEdge
from detente.tlog.note import Ed25519Verifier, Signer
from detente.tlog.published import PublishedCheckpoint
from detente.tlog.storage.port import Batch, LogStore
from detente.tlog.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    TileCache,
    TileHashSource,
    TileRef,
    encode_entry_bundle,
    tiles_for_size,
)

logger = logging.getLogger("detente.log")


@dataclass(frozen=True)
class Integration:
    """The result of appending a batch: where it landed and the checkpoint that covers it."""

    first_index: int
    count: int
    checkpoint: Checkpoint
    signed_checkpoint: str


def _open_stored(note: str, log_key: Ed25519Verifier) -> SignedCheckpoint:
    try:
        return open_checkpoint(note, log_key)
    except InputError as exc:
        raise TamperError(f"the stored checkpoint does not verify with the log key: {exc}") from exc


@dataclass
class Log:
    """A transparency log over one store. Build it with :meth:`create` or :meth:`open`."""

    store: LogStore
    log_key: Ed25519Verifier
    signed: SignedCheckpoint
    edge: TreeEdge
    signer: Signer | None = field(default=None, repr=False)
    published: PublishedCheckpoint | None = None
    cache: TileCache = field(default_factory=TileCache)
    _source: TileHashSource | None = None

    @classmethod
    def create(cls, store: LogStore, signer: Signer, published: PublishedCheckpoint | None = None) -> Log:
        """Start a new empty log in ``store`` and open it for writing.

        On any failure the store is closed (as :meth:`open` closes it), so that what a failed creation
        made can be removed at once.
        """
        empty = Checkpoint(signer.name, 0, merkle.EMPTY_ROOT).sign([signer])
        try:
            store.create(empty)
            if published is not None:
                published.record(empty)
        except BaseException:
            store.close()
            raise
        return cls.open(store, signer.verifier(), signer=signer, published=published)

    @classmethod
    def open(
        cls,
        store: LogStore,
        log_key: Ed25519Verifier,
        *,
        signer: Signer | None = None,
        published: PublishedCheckpoint | None = None,
    ) -> Log:
        """Open an existing log; with ``signer``, as its one writer.

        Raises:
            ConfigError: the store holds no log, or the signer is not the log's key.
            TamperError: the stored checkpoint or edge tiles do not verify.
            ForkError: the store is behind or disagrees with the last published checkpoint.
            WriterBusyError: another writer holds the log.

        On any failure the store is closed.
        """
        try:
            return cls._open(store, log_key, signer, published)
        except BaseException:
            store.close()  # a log that cannot be opened holds no lock and no connection
            raise

    @classmethod
    def _open(
        cls,
        store: LogStore,
        log_key: Ed25519Verifier,
        signer: Signer | None,
        published: PublishedCheckpoint | None,
    ) -> Log:
        note = store.load_checkpoint()
        if note is None:
            raise ConfigError("this store holds no log: create one with `detente log init` first")
        if signer is not None and signer.verifier() != log_key:
            raise ConfigError("the signing key given is not this log's key")
        signed = _open_stored(note, log_key)
        size = signed.checkpoint.size
        edge_refs = [r for r in tiles_for_size(size) if not r.full]
        stored = dict(zip(edge_refs, store.read_tiles(edge_refs), strict=True))
        if any(len(stored[r]) < 32 * r.width for r in edge_refs):
            raise TamperError(f"edge tiles of the tree of size {size} are missing or short")
        edge = TreeEdge.from_tiles(size, stored)
        edge.check(signed.checkpoint.root)
        log = cls(store, log_key, signed, edge, None, published)
        log.check_published()
        if signer is not None:
            store.lock_writer()
            log.signer = signer
        return log

    # --- state -------------------------------------------------------------------------------

    @property
    def checkpoint(self) -> Checkpoint:
        """The current checkpoint."""
        return self.signed.checkpoint

    @property
    def size(self) -> int:
        """The number of entries in the log."""
        return self.signed.checkpoint.size

    @property
    def signed_checkpoint(self) -> str:
        """The current checkpoint as a signed note."""
        return self.signed.text

    def source(self) -> TileHashSource:
        """Checked hashes of the current tree."""
        if self._source is None or self._source.size != self.size:
            cp = self.checkpoint
            self._source = TileHashSource(cp.size, cp.root, self._fetch_tile, self.cache)
        return self._source

    def _fetch_tile(self, ref: TileRef) -> bytes:
        return self.store.read_tiles([ref])[0]

    def check_published(self) -> None:
        """Refuse a store that is behind or disagrees with the last published checkpoint."""
        note = None if self.published is None else self.published.load()
        if note is None:
            return
        try:
            published = open_checkpoint(note, self.log_key).checkpoint
        except InputError as exc:
            raise ForkError(f"the published checkpoint file does not verify: {exc}") from exc
        if published.size > self.size:
            raise ForkError(
                f"the store holds {self.size} entries but checkpoint {published.size} was published: "
                "restored from an old backup? Refusing to serve or append; restore a newer backup"
            )
        if merkle.tree_root(self.source(), published.size) != published.root:
            raise ForkError(f"the store disagrees with the published checkpoint of size {published.size}")

    def refresh(self) -> bool:
        """Move a reader to the store's newest checkpoint, checking that it extends the one held.

        Returns:
            Whether the checkpoint changed.

        Raises:
            TamperError: the stored checkpoint does not verify.
            ForkError: the new tree does not extend the old one (the reader keeps the old one).
        """
        note = self.store.load_checkpoint()
        if note is None or note == self.signed_checkpoint:
            return False
        previous = self.signed
        signed = _open_stored(note, self.log_key)
        old = previous.checkpoint
        if signed.checkpoint.size < old.size:
            raise ForkError(f"the store went back from size {old.size} to {signed.checkpoint.size}")
        self.signed, self._source = signed, None
        if old.size and self.root_at(old.size) != old.root:
            self.signed, self._source = previous, None
            raise ForkError(f"the store's new tree does not extend the checkpoint of size {old.size}")
        return True

    # --- writing -----------------------------------------------------------------------------

    def append(self, entries: Sequence[bytes]) -> Integration:
        """Integrate a batch of entries and sign the new checkpoint (one transaction).

        Raises:
            TooLargeError: an entry is over 65,535 bytes (nothing is appended).
            ConflictError: the log is read-only here, or another writer moved the checkpoint.
        """
        if self.signer is None:
            raise ConflictError("this log was opened read-only; open it with the log key to append")
        for i, entry in enumerate(entries):
            if len(entry) > MAX_ENTRY_SIZE:
                raise TooLargeError(
                    f"entry {i} of the batch is {len(entry)} bytes; the limit is {MAX_ENTRY_SIZE} "
                    "(store large bodies as blobs and log their hash)"
                )
        edge, tiles = self.edge.extend([merkle.leaf_hash(e) for e in entries])
        new = Checkpoint(self.checkpoint.origin, edge.size, edge.root())
        note = new.sign([self.signer])
        self.store.commit(Batch(self.size, entries, tiles, self.signed_checkpoint, note))
        first = self.size
        self.edge = edge
        self.signed = open_checkpoint(note, self.log_key)
        if self.published is not None:
            self._publish(note)
        return Integration(first, len(entries), new, note)

    def _publish(self, note: str) -> None:
        """Record ``note`` as published, after its batch committed: a file that cannot be written (a
        full disk) fails no batch, since the batch is in the log whatever the file says. The file then
        lags behind the store, which the fork check at the next start accepts (the store extends it),
        and the next batch writes it again."""
        assert self.published is not None
        try:
            self.published.record(note)
        except OSError as exc:
            logger.error(
                "the batch is in the log, but the published checkpoint file %s could not be written "
                "(%s); it is written again with the next batch",
                self.published.path,
                exc.strerror or type(exc).__name__,
            )

    # --- reading -----------------------------------------------------------------------------

    def entries(self, start: int, stop: int) -> list[bytes]:
        """Return entries ``[start, stop)``, each checked against its leaf hash."""
        if not 0 <= start <= stop <= self.size:
            raise NotFoundError(f"entries {start}..{stop} are outside the log of size {self.size}")
        found = self.store.read_entries(start, stop)
        if len(found) != stop - start:
            raise TamperError(f"entries {start}..{stop} are missing from the store")
        source = self.source()
        for index, entry in enumerate(found, start):
            if merkle.leaf_hash(entry) != source.subtree_hash(0, index):
                raise TamperError(f"stored entry {index} does not match the signed tree")
        return found

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of entry ``index`` in the tree of ``size`` (default: current)."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise NotFoundError(f"no entry {index} in a tree of size {size} (log size {self.size})")
        return merkle.inclusion_proof(self.source(), index, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """Return the consistency proof from tree size ``old`` to ``new`` (default: current)."""
        new = self.size if new is None else new
        if not 0 < old <= new <= self.size:
            raise NotFoundError(f"no consistency proof from {old} to {new} (log size {self.size})")
        return merkle.consistency_proof(self.source(), old, new)

    def root_at(self, size: int) -> bytes:
        """Return the root hash of the tree of ``size`` entries (a prefix of the current tree)."""
        if not 0 <= size <= self.size:
            raise NotFoundError(f"no tree of size {size} (log size {self.size})")
        return merkle.tree_root(self.source(), size)

    def tile(self, ref: TileRef) -> bytes:
        """Return a checked hash tile of the current tree (narrower partial widths allowed)."""
        count = self.size >> (8 * ref.level)
        if not 1 <= ref.width <= TILE_WIDTH or ref.index * TILE_WIDTH + ref.width > count:
            raise NotFoundError(f"no such tile in the tree of size {self.size}: {ref}")
        source = self.source()
        full_width = min(TILE_WIDTH, count - ref.index * TILE_WIDTH)
        row = source.tile(TileRef(ref.level, ref.index, full_width))[0]
        return row[: 32 * ref.width]

    def entry_bundle(self, index: int, width: int) -> bytes:
        """Return the checked entry bundle ``index`` of ``width`` entries."""
        start = index * TILE_WIDTH
        return encode_entry_bundle(self.entries(start, start + width))

    def close(self) -> None:
        """Release the store (and the writer lock)."""
        self.store.close()
