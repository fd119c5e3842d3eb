"""C2SP tlog-tiles: paths, tile arithmetic, entry bundles, and hashes read from tiles.

Invariants:
- A hash tile ``(level, index)`` holds the hashes at tree level ``8 * level`` with indexes
  ``[256 * index, 256 * index + width)``; a full tile has width 256, a partial one less.
- Full tiles never change. A partial tile only grows; a stored partial tile serves every narrower
  width by truncation, so tiles for an older tree size come from the same storage.
- :class:`TileHashSource` never returns a hash it has not checked against the signed root: a full tile
  is checked against its parent hash, the partial tiles of the right edge together against the root.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from detente.errors import MalformedError, TamperError, TooLargeError
from detente.tlog.merkle import HASH_SIZE, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY_SIZE = 0xFFFF  # entry bundles prefix each entry with a big-endian uint16 length

TileKey = tuple[int, int]  # (tile level, tile index)


@dataclass(frozen=True)
class TileRef:
    """One tile of one tree: level, index and width (256 when full)."""

    level: int
    index: int
    width: int

    @property
    def full(self) -> bool:
        """Whether the tile holds all 256 hashes (or entries)."""
        return self.width == TILE_WIDTH


def _encode_index(index: int) -> str:
    """Encode N in groups of three digits, all but the last prefixed by ``x`` (1234067 -> x001/x234/067)."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def tile_path(ref: TileRef) -> str:
    """Return the C2SP path of a hash tile, such as ``tile/0/x001/x234/067.p/8``."""
    suffix = "" if ref.full else f".p/{ref.width}"
    return f"tile/{ref.level}/{_encode_index(ref.index)}{suffix}"


def entries_path(index: int, width: int) -> str:
    """Return the C2SP path of an entry bundle, such as ``tile/entries/000.p/3``."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/entries/{_encode_index(index)}{suffix}"


_PATH = re.compile(r"tile/(entries|[0-9]|[1-5][0-9]|6[0-3])/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?")


def parse_tile_path(path: str) -> tuple[int | None, int, int]:
    """Parse a C2SP tile path into ``(level or None for entries, index, width)``.

    Raises:
        MalformedError: the path is not a canonical C2SP tile path.
    """
    match = _PATH.fullmatch(path)
    if match is None:
        raise MalformedError(f"not a C2SP tile path: {path!r} (expected tile/<L>/<N>[.p/<W>])")
    kind, groups, width_text = match.groups()
    index = int(groups.replace("x", "").replace("/", ""))
    width = TILE_WIDTH if width_text is None else int(width_text)
    if width_text is not None and (not 1 <= width < TILE_WIDTH or width_text != str(width)):
        raise MalformedError(f"partial tile width must be 1..255 without leading zeros: {path!r}")
    if _encode_index(index) != groups:
        raise MalformedError(f"tile index is not canonically encoded: {path!r}")
    return (None if kind == "entries" else int(kind)), index, width


def tiles_for_size(size: int) -> list[TileRef]:
    """Return every hash tile of the tree of ``size`` leaves, bottom level first."""
    refs: list[TileRef] = []
    level, count = 0, size
    while count > 0:
        full, rest = divmod(count, TILE_WIDTH)
        refs.extend(TileRef(level, i, TILE_WIDTH) for i in range(full))
        if rest:
            refs.append(TileRef(level, full, rest))
        level, count = level + 1, count >> TILE_HEIGHT
    return refs


def tile_for_hash(tree_level: int, index: int, size: int) -> tuple[TileRef, int, int]:
    """Locate complete subtree ``(tree_level, index)`` of a tree of ``size`` in its tile.

    Returns:
        The tile, the level inside the tile (0..7) and the offset at that level.
    """
    level, inner = divmod(tree_level, TILE_HEIGHT)
    base = index << inner
    tile_index = base >> TILE_HEIGHT
    width = min(TILE_WIDTH, (size >> (TILE_HEIGHT * level)) - tile_index * TILE_WIDTH)
    return TileRef(level, tile_index, width), inner, (base & (TILE_WIDTH - 1)) >> inner


def split_hashes(data: bytes, what: str) -> list[bytes]:
    """Split concatenated 32-byte hashes; refuse a ragged length."""
    if len(data) % HASH_SIZE:
        raise MalformedError(f"{what} is {len(data)} bytes, not a multiple of {HASH_SIZE}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def pair_up(hashes: Sequence[bytes]) -> list[bytes]:
    """Hash each pair of neighbours; an odd last hash is dropped (it is not a complete subtree)."""
    return [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes) - 1, 2)]


def expand_tile(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Return the complete subtree hashes at each level inside a tile (level 0 = the tile's hashes)."""
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        levels.append(pair_up(levels[-1]))
    return levels


def edge_nodes(hashes: Sequence[bytes], base_level: int) -> list[tuple[int, bytes]]:
    """Return the complete subtrees a partial tile splits into, as ``(tree level, hash)``, left first."""
    levels = expand_tile(hashes)
    nodes: list[tuple[int, bytes]] = []
    offset = 0
    for inner in range(len(levels) - 1, -1, -1):
        if len(hashes) >> inner & 1:
            nodes.append((base_level + inner, levels[inner][offset >> inner]))
            offset += 1 << inner
    return nodes


def fold_right(nodes: Sequence[bytes]) -> bytes:
    """Fold the right edge of a tree (highest subtree first) into its root."""
    root = nodes[-1]
    for node in reversed(nodes[:-1]):
        root = node_hash(node, root)
    return root


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Encode entries as a C2SP entry bundle: each prefixed by its big-endian uint16 length."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise TooLargeError(f"entry is {len(entry)} bytes; the limit is {MAX_ENTRY_SIZE}")
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Decode a C2SP entry bundle.

    Raises:
        MalformedError: a length prefix runs past the end of the bundle.
    """
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise MalformedError(f"entry bundle ends inside a length prefix at byte {pos}")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + length > len(data):
            raise MalformedError(f"entry bundle entry at byte {pos} claims {length} bytes past the end")
        entries.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return entries


TileFetch = Callable[[TileRef], bytes]
Expanded = list[bytes]  # per level inside a tile: its complete subtree hashes, concatenated


def _expand_packed(hashes: Sequence[bytes]) -> Expanded:
    return [b"".join(level) for level in expand_tile(hashes)]


@dataclass
class TileCache:
    """Checked full tiles, least recently used dropped first. Full tiles never change, so a tile
    checked against one signed tree stays valid for every consistent later tree."""

    capacity: int = 4096
    tiles: OrderedDict[TileKey, Expanded] = field(default_factory=OrderedDict)

    def get(self, key: TileKey) -> Expanded | None:
        """Return a cached tile and mark it recently used."""
        tile = self.tiles.get(key)
        if tile is not None:
            self.tiles.move_to_end(key)
        return tile

    def put(self, key: TileKey, tile: Expanded) -> None:
        """Cache a checked tile."""
        self.tiles[key] = tile
        if len(self.tiles) > self.capacity:
            self.tiles.popitem(last=False)


@dataclass
class TileHashSource:
    """Complete-subtree hashes of one signed tree, read from tiles and checked before use.

    ``fetch`` returns a tile's bytes (at least ``width`` hashes; a wider stored partial tile is
    truncated here). The cache may be shared between sources of consistent trees.
    """

    size: int
    root: bytes
    fetch: TileFetch
    cache: TileCache = field(default_factory=TileCache)
    _edge: dict[TileKey, Expanded] = field(default_factory=dict)

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Return complete subtree ``(level, index)``, from a checked tile."""
        ref, inner, offset = tile_for_hash(level, index, self.size)
        row = self.tile(ref)[inner]
        return row[offset * HASH_SIZE : (offset + 1) * HASH_SIZE]

    def tile(self, ref: TileRef) -> Expanded:
        """Return a checked tile of this tree, expanded to all its inner levels."""
        key = (ref.level, ref.index)
        if ref.full:
            tile = self.cache.get(key)
            if tile is None:
                tile = _expand_packed(self._read(ref))
                parent = self.subtree_hash(TILE_HEIGHT * (ref.level + 1), ref.index)
                if tile[-1] != parent:
                    raise TamperError(f"stored {tile_path(ref)} does not match the signed tree")
                self.cache.put(key, tile)
            return tile
        if not self._edge:
            self._load_edge()
        return self._edge[key]

    def _read(self, ref: TileRef) -> list[bytes]:
        data = self.fetch(ref)
        if len(data) < ref.width * HASH_SIZE:
            raise TamperError(f"stored {tile_path(ref)} is missing or short: {len(data)} bytes")
        return split_hashes(data[: ref.width * HASH_SIZE], tile_path(ref))

    def _load_edge(self) -> None:
        """Read every partial tile of the right edge and check them together against the root."""
        edge = sorted((r for r in tiles_for_size(self.size) if not r.full), key=lambda r: -r.level)
        rows = {(r.level, r.index): self._read(r) for r in edge}
        nodes = [h for r in edge for _, h in edge_nodes(rows[r.level, r.index], r.level * TILE_HEIGHT)]
        if not nodes or fold_right(nodes) != self.root:
            raise TamperError(f"stored edge tiles do not match the signed root of size {self.size}")
        self._edge = {key: _expand_packed(row) for key, row in rows.items()}
