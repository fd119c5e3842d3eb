"""Attribution of source keys to territory (country) and network (ASN), from the offline tables.

Lookups are vectorised: keys become integers (IPv4: the address; IPv6: the top 64 bits) and one
``numpy.searchsorted`` per family finds the range. The tables are loaded once, lazily, never downloaded.
An address outside every range is ``"unknown"`` (country) or ASN 0 (``"unknown"``): never guessed.

Some IPv6 ranges say nothing of where their sender is, whatever the tables hold for them
(:data:`NO_TERRITORY6`): they are ``"unknown"`` and ASN 0. A 6to4 address (``2002::/16``) carries its
sender's IPv4 address in bits 16 to 47, and is looked up as that address: the tables give the whole
of ``2002::/16`` to the relay operator that announces it (Japan, AS6939), whoever sent the packet.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from detente.errors import ConfigError

from .addr import SMALL, ipv4_integer, top64, upper64
from .geodata import DATA_DIR, compact

U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RangeTable:
    """Sorted boundaries and the value of each range (0 = unknown)."""

    starts: U64
    values: npt.NDArray[np.uint32]

    def find(self, keys: U64) -> npt.NDArray[np.uint32]:
        """Return the value of each key; the invariant ``starts[0] == 0`` makes every index valid."""
        idx = np.searchsorted(self.starts, keys, side="right") - 1
        return self.values[idx]


# IANA's IPv6 Special-Purpose Address Registry (RFC 6890) and address space registry: ranges whose
# registration names no territory or network of the sender. 2002::/16 is read as IPv4 (SIX_TO_FOUR6).
NO_TERRITORY6 = (
    "::/64",  # unspecified, loopback, the deprecated IPv4-compatible form (RFC 4291)
    "64:ff9b::/64",  # NAT64's well-known prefix past its /96, read as IPv4 (.addr.parse_address; RFC 6052)
    "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
    "100::/64",  # discard-only (RFC 6666)
    "100:0:0:1::/64",  # dummy prefix (RFC 9780)
    "2001::/32",  # Teredo (RFC 4380): the client's address, obfuscated, is in the lower 64 bits
    "2001:2::/48",  # benchmarking (RFC 5180)
    "2001:10::/28",  # ORCHID (RFC 4843): identifiers (hashes), not locators
    "2001:20::/28",  # ORCHIDv2 (RFC 7343): likewise
    "2001:30::/28",  # drone remote ID entity tags (RFC 9374): likewise
    "2001:db8::/32",  # documentation (RFC 3849)
    "3fff::/20",  # documentation (RFC 9637)
    "5f00::/16",  # segment routing SIDs (RFC 9602)
    "fc00::/7",  # unique local (RFC 4193)
    "fe80::/10",  # link-local (RFC 4291)
    "fec0::/10",  # site-local, deprecated (RFC 3879)
    "ff00::/8",  # multicast: never a sender
)
SIX_TO_FOUR6 = "2002::/16"  # 6to4 (RFC 3056): the sender's IPv4 address in bits 16 to 47
_GLOBAL, _NO_TERRITORY, _SIX_TO_FOUR = 0, 1, 2  # the values of :data:`SPECIAL6`


def _special_table() -> RangeTable:
    """:data:`NO_TERRITORY6` and :data:`SIX_TO_FOUR6` as ranges of the top 64 bits of IPv6 keys."""
    nets = [(n, _NO_TERRITORY) for n in NO_TERRITORY6] + [(SIX_TO_FOUR6, _SIX_TO_FOUR)]
    ranges = []
    for text, value in nets:
        net = ipaddress.IPv6Network(text)
        ranges.append((int(net.network_address) >> 64, (int(net.broadcast_address) >> 64) + 1, value))
    starts, values = compact(sorted(ranges), 1 << 64)
    return RangeTable(np.array(starts, dtype=np.uint64), np.array(values, dtype=np.uint32))


SPECIAL6 = _special_table()


def _special(ints: U64, is6: Bools, ok: Bools) -> tuple[U64, Bools, Bools]:
    """:func:`key_integers`' results with each 6to4 key made the IPv4 address it carries and each key
    of :data:`NO_TERRITORY6` invalid (so ``"unknown"``, ASN 0): new arrays, one binary search."""
    kind = np.where(is6 & ok, SPECIAL6.find(ints), _GLOBAL)
    six_to_four = kind == _SIX_TO_FOUR
    v4 = (ints >> np.uint64(16)) & np.uint64(0xFFFF_FFFF)
    return np.where(six_to_four, v4, ints), is6 & ~six_to_four, ok & (kind != _NO_TERRITORY)


def _table(npz: Any, prefix: str) -> RangeTable:
    # 64-bit starts, as the keys are: searchsorted would otherwise convert the table on every call
    return RangeTable(npz[f"{prefix}_starts"].astype(np.uint64), npz[f"{prefix}_values"].astype(np.uint32))


def _strings(blob: npt.NDArray[np.uint8]) -> list[str]:
    return blob.tobytes().decode("utf-8").split("\n")


@dataclass(frozen=True)
class Organisations:
    """Organisation names by ASN, decoded from the table's bytes only when asked: decoding all 91,065
    names into a dict cost every scan 20 ms, far more than looking up the networks of its incidents."""

    asns: npt.NDArray[np.uint32]  # sorted
    blob: bytes  # the names in the order of ``asns``, each followed by a newline but the last
    ends: npt.NDArray[np.intp]  # where each name ends in ``blob``

    @classmethod
    def read(cls, asns: npt.NDArray[np.uint32], blob: npt.NDArray[np.uint8]) -> Organisations:
        """From the table's arrays; raises ValueError when they do not match (so there is at least one)."""
        ends = np.append(np.flatnonzero(blob == ord("\n")), len(blob))
        if len(ends) != len(asns):
            raise ValueError(f"{len(asns)} ASNs but {len(ends)} organisation names")
        return cls(asns, blob.tobytes(), ends)

    def names(self, asns: Sequence[int]) -> list[str | None]:
        """The name of each ASN (one binary search for them all), None where the table has none."""
        wanted = np.asarray(asns, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.asns, wanted), len(self.asns) - 1)
        found = self.asns[at] == wanted
        starts = np.where(at > 0, self.ends[at - 1] + 1, 0)
        return [
            self.blob[start:end].decode("utf-8") if hit else None
            for hit, start, end in zip(found.tolist(), starts.tolist(), self.ends[at].tolist(), strict=True)
        ]


@dataclass(frozen=True)
class Attribution:
    """Country and ASN tables for IPv4 and IPv6, and where they come from (``sources``)."""

    country4: RangeTable
    country6: RangeTable
    country_names: tuple[str, ...]
    asn4: RangeTable
    asn6: RangeTable
    orgs: Organisations
    sources: dict[str, Any]

    def lookup(self, keys: Sequence[str]) -> tuple[list[str], list[int]]:
        """Return ``(countries, asns)`` for source keys (IPv4 addresses or IPv6 /64s)."""
        cc, asn = self._find(keys)
        # numpy does the per-key work; a Python loop here cost more than the lookups themselves
        names = np.array(self.country_names, dtype=object)
        return names[cc].tolist(), asn.tolist()

    def attribute(self, keys: pl.Series) -> tuple[pl.Series, pl.Series]:
        """:meth:`lookup` as Polars columns: ``country`` and ``asn`` (the number written as a string)."""
        cc, asn = self._find(keys)
        names = pl.Series("country", self.country_names, dtype=pl.String)
        return names.gather(cc), pl.Series("asn", asn).cast(pl.String)

    def _find(self, keys: Sequence[str] | pl.Series) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        """Country index and ASN of each key (0 where no range holds it, or where the key's range names
        no territory; a 6to4 key's are those of the IPv4 address it carries: :func:`_special`)."""
        ints, is6, ok = _special(*key_integers(keys))
        cc = np.zeros(len(keys), dtype=np.uint32)
        asn = np.zeros(len(keys), dtype=np.uint32)
        v4 = ok & ~is6
        v6 = ok & is6
        cc[v4] = self.country4.find(ints[v4])
        cc[v6] = self.country6.find(ints[v6])
        asn[v4] = self.asn4.find(ints[v4])
        asn[v6] = self.asn6.find(ints[v6])
        return cc, asn

    def org(self, asn: int) -> str:
        """Organisation name of an ASN, ``"unknown"`` for ASN 0 or an ASN missing from the data."""
        return self.org_names([asn])[0]

    def org_names(self, asns: Sequence[int]) -> list[str]:
        """:meth:`org` of each ASN, looked up together."""
        return [
            name if asn and name is not None else "unknown"
            for asn, name in zip(asns, self.orgs.names(asns), strict=True)
        ]


def key_integers(keys: Sequence[str] | pl.Series) -> tuple[U64, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Integers of source keys, vectorised: IPv4 addresses, and the top 64 bits of IPv6 /64 keys.

    Returns ``(ints, is_ipv6, valid)``; invalid keys get 0 and ``valid`` False. Up to
    :data:`.addr.SMALL` keys are read one by one (:func:`_key_integers_few`), more in Polars and numpy
    (:func:`_key_integers_many`): the same results.
    """
    s = keys if isinstance(keys, pl.Series) else pl.Series("k", keys, dtype=pl.String)
    return _key_integers_few(s) if len(s) <= SMALL else _key_integers_many(s)


def _key_integers_few(s: pl.Series) -> tuple[U64, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """:func:`key_integers` one key at a time: the keys a scan writes (an IPv4 address as Python writes
    it, a /64 key) in Python; any other string by :func:`_key_integers_many`, so the results are its
    results whatever the strings (property-tested)."""
    texts = s.to_list()
    ints, is6, ok = [0] * len(texts), [False] * len(texts), [False] * len(texts)
    others = []
    for i, text in enumerate(texts):
        if text is None:
            others.append(i)
        elif ":" in text:  # a /64 key has one, an IPv4 address none
            if (top := top64(text)) is None:
                others.append(i)
            else:
                ints[i], is6[i], ok[i] = top, True, True
        elif (value := ipv4_integer(text)) is None:
            others.append(i)
        else:
            ints[i], ok[i] = value, True
    out = np.array(ints, dtype=np.uint64), np.array(is6, dtype=bool), np.array(ok, dtype=bool)
    if others:
        for column, values in zip(out, _key_integers_many(s.gather(others)), strict=True):
            column[others] = values
    return out


def _key_integers_many(s: pl.Series) -> tuple[U64, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """:func:`key_integers` in Polars and numpy, a few ms whatever the number of keys. IPv6 keys in
    the form :func:`.addr.source_key` writes are read in Polars; any other form goes to Python."""
    parts = s.str.split_exact(".", 3).struct.unnest()
    octets = [parts[c].cast(pl.UInt64, strict=False) for c in parts.columns]
    v4 = pl.repeat(True, len(s), eager=True)
    total = pl.repeat(0, len(s), dtype=pl.UInt64, eager=True)
    for o in octets:
        v4 = v4 & o.is_not_null() & (o.fill_null(256) < 256)
        total = total * 256 + o.fill_null(0)
    v4_np = v4.to_numpy().astype(bool)
    ints = np.where(v4_np, total.to_numpy(), 0).astype(np.uint64)
    is6 = s.str.contains(":", literal=True).fill_null(False).to_numpy().astype(bool)
    six = np.flatnonzero(is6)
    fast = np.zeros(len(s), dtype=bool)
    if six.size:  # most logs have few IPv6 sources or none
        top = upper64(s.gather(six))
        got = top.is_not_null().to_numpy().astype(bool)
        fast[six[got]] = True
        ints[six[got]] = top.filter(top.is_not_null()).to_numpy()
    ok = v4_np | fast
    for i in np.flatnonzero(is6 & ~fast).tolist():
        value = _v6_top(s[i])
        if value is not None:
            ints[i] = value
            ok[i] = True
    return ints, is6, ok


@lru_cache(maxsize=1 << 16)
def _v6_top(key: str) -> int | None:
    try:
        return int(ipaddress.IPv6Address(key.split("/", 1)[0])) >> 64
    except ValueError:
        return None


@cache
def load(folder: Path = DATA_DIR) -> Attribution:
    """Load the tables of ``folder``, once per process: they are immutable, so every caller (a scan,
    then its report) shares one copy. A refusal is not remembered: the next call tries again."""
    try:
        with np.load(folder / "country.npz") as c, np.load(folder / "asn.npz") as a:
            orgs = Organisations.read(a["org_asn"], a["org_names"])
            sources = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
            return Attribution(
                country4=_table(c, "v4"),
                country6=_table(c, "v6"),
                country_names=tuple(_strings(c["names"])),
                asn4=_table(a, "v4"),
                asn6=_table(a, "v6"),
                orgs=orgs,
                sources=sources,
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(
            f"attribution tables in {folder} are missing or damaged ({exc}); "
            "rebuild them with `python -m detente.monitor.geodata build`"
        ) from exc


def attribution_note(sources: dict[str, Any]) -> str:
    """One line naming each table's source, licence and date, printed in every report."""
    parts = [
        f"{name}: {meta.get('source')} ({meta.get('licence')}, {meta.get('date')})"
        for name, meta in sources.items()
    ]
    return "; ".join(parts)
