"""Addresses: source keys, prefixes and trusted-proxy resolution.

Invariants:
- A *source key* is the unit the detectors count: an IPv4 address in dotted form, or the /64 prefix of an
  IPv6 address written ``"2001:db8:1:2::/64"`` (one subscriber usually holds a whole /64, so counting
  single IPv6 addresses would let one host look like thousands).
- IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``) and addresses under NAT64's well-known prefix
  (``64:ff9b::192.0.2.1``, RFC 6052: an IPv4 client translated for an IPv6-only server) are treated as
  the IPv4 address they carry; as their /64, every IPv4 client of a translator would be one source.
- Anything that is not an address maps to ``None`` and the line is counted as malformed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import polars as pl

from detente.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# NAT64's well-known prefix (RFC 6052): an IPv4 address in the last 32 bits
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@lru_cache(maxsize=1 << 18)
def parse_address(text: str) -> IPAddress | None:
    """Return the address in ``text`` (an IPv4 address mapped into IPv6 or under :data:`NAT64`'s prefix
    unwrapped), or ``None`` if it is not one."""
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr in NAT64:
            return ipaddress.IPv4Address(int(addr) & 0xFFFF_FFFF)
    return addr


@lru_cache(maxsize=1 << 18)
def source_key(text: str) -> str | None:
    """Return the source key of an address string: IPv4 as is, IPv6 as its /64; ``None`` if invalid."""
    written_out = _written_out_key(text)
    if written_out is not None:
        return written_out
    addr = parse_address(text)
    if addr is None:
        return None
    if isinstance(addr, ipaddress.IPv4Address):
        return str(addr)
    net = ipaddress.IPv6Network((int(addr) >> 64 << 64, 64))
    return str(net)


_H = "[0-9a-fA-F]{1,4}"
# an IPv4 address as Python's ipaddress reads it: four decimal octets of ASCII digits, no leading zero
# ([0-9], not \d: in Python's re and in Rust's regex \d is any Unicode decimal digit, which int() reads
# too, so "١٢.3.4.5" would pass for 12.3.4.5 where ipaddress refuses it)
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"^(?:{_OCTET}\.){{3}}{_OCTET}$"
# a whole IPv6 address whose first four groups are written out (no ``::`` among them), capturing them;
# the rest is any valid lower half (four groups, or at most three around one ``::``)
IPV6_UPPER = (
    rf"^({_H}):({_H}):({_H}):({_H}):"
    rf"(?:{_H}:{_H}:{_H}:{_H}|:(?:{_H}(?::{_H}){{0,2}})?|{_H}::(?:{_H}(?::{_H})?)?"
    rf"|{_H}:{_H}::(?:{_H})?|{_H}:{_H}:{_H}::)$"
)
_WRITTEN_OUT = re.compile(IPV6_UPPER)
# the first four groups of NAT64's prefix, as _written_out_key writes them
_NAT64_UPPER = ["64", "ff9b", "0", "0"]


def _written_out_key(text: str) -> str | None:
    """The /64 key of an IPv6 address whose first four groups are written out (nearly every address a
    server logs), read without :mod:`ipaddress` (ten times cheaper); ``None`` for any other text.

    It is the key :mod:`ipaddress` gives: the lower four groups of a /64 are zero, so the run of zero
    groups it compresses is the trailing one, longer than any among the first four unless all four are
    zero (the unspecified and IPv4-mapped ranges: those are left to :mod:`ipaddress`, and so is NAT64's
    ``64:ff9b::/64``, whose key may be an IPv4 address).
    """
    match = _WRITTEN_OUT.fullmatch(text)
    if match is None:
        return None
    groups = [format(int(group, 16), "x") for group in match.groups()]
    if groups == _NAT64_UPPER:
        return None
    while groups and groups[-1] == "0":
        groups.pop()
    return ":".join(groups) + "::/64" if groups else None


# a /64 source key as :func:`source_key` writes it (one to four groups, then ``::/64``)
KEY64 = rf"^(?:{_H}:){{0,3}}{_H}::/64$"


def source_keys(clients: pl.Series, own: pl.Series | None = None) -> pl.Series:
    """:func:`source_key` of every string of a column, vectorised (the same result for every string).

    ``own``, if given, marks strings already known to be their own key (IPv4 addresses as
    :mod:`ipaddress` writes them, found by the log splitter); only the others are read. IPv4
    addresses are read in Polars; anything else goes to :func:`source_key`, once per distinct string
    (an IPv6 address written with its first four groups, nearly every one, costs it a regular
    expression: as cheap as reading it in Polars, measured in docs/monitor.md).
    """
    if own is not None:
        rest = (~own).arg_true()
        keys = clients.to_frame("c").select(pl.when(own).then(pl.col("c"))).to_series()
        keys = keys.scatter(rest, source_keys(clients.gather(rest))) if rest.len() else keys
        return keys.alias(clients.name)
    distinct = clients.drop_nulls().unique()
    keys = _distinct_source_keys(distinct)
    return clients.replace_strict(distinct, keys, default=None, return_dtype=pl.String).alias(clients.name)


def _distinct_source_keys(clients: pl.Series) -> pl.Series:
    """:func:`source_keys` of distinct, non-null strings (a log repeats its addresses many times)."""
    keys = clients.to_frame("c").select(pl.when(pl.col("c").str.contains(IPV4)).then(pl.col("c"))).to_series()
    todo = clients.filter(keys.is_null())
    if not todo.len():
        return keys.alias(clients.name)
    slow = {t: source_key(t) for t in todo.to_list()}
    fill = clients.replace_strict(slow, default=None, return_dtype=pl.String)
    return keys.fill_null(fill).alias(clients.name)


SMALL = 20_000  # keys: fewer are read one by one in Python (a Polars query costs a few ms whatever its size)
_KEY64 = re.compile(KEY64)


def upper64(keys: pl.Series) -> pl.Series:
    """The top 64 bits (UInt64) of IPv6 source keys as :func:`source_key` writes them; null otherwise.

    Exactly the keys of :data:`KEY64` are read: one to four groups of one to four hex digits, then
    ``::/64``. Up to :data:`SMALL` keys, one by one (:func:`top64`); more, in one Polars query
    (:func:`upper64_vectorised`), the same values (property-tested).
    """
    if len(keys) <= SMALL:
        return pl.Series("v", [top64(key) for key in keys.to_list()], dtype=pl.UInt64)
    return upper64_vectorised(keys)


def top64(key: str | None) -> int | None:
    """The top 64 bits of a key of :data:`KEY64` (the groups before ``::/64``, the missing ones zero)."""
    if key is None or _KEY64.fullmatch(key) is None:
        return None
    value = 0
    for position, group in enumerate(key[: -len("::/64")].split(":")):
        value |= int(group, 16) << (48 - 16 * position)
    return value


def ipv4_integer(key: str | None) -> int | None:
    """The value of an IPv4 address as Python writes it (:data:`IPV4`), else ``None``.

    Read by the C library's ``inet_aton`` and written back by ``inet_ntoa``, which writes exactly the
    form of :data:`IPV4`: ``inet_aton`` also reads other spellings (octal, hexadecimal, fewer parts,
    text after a space), and those do not come back as they were given. About half the cost of the
    pattern and four ``int`` calls (1.8 us against 3.6 us, timeit); a test holds the two readings equal.
    """
    if key is None:
        return None
    try:
        packed = socket.inet_aton(key)
    except (OSError, ValueError):  # not an address; or a NUL, or text beyond ASCII, in it
        return None
    return int.from_bytes(packed, "big") if socket.inet_ntoa(packed) == key else None


def upper64_vectorised(keys: pl.Series) -> pl.Series:
    """:func:`upper64` in Polars: splitting and reading the groups as integers is several times
    cheaper than the regex on many keys."""
    k = pl.col("k")
    frame = keys.to_frame("k").select(
        (k.str.ends_with("::/64")).alias("suffix"),
        k.str.strip_suffix("::/64").str.split_exact(":", 4).struct.unnest(),
    )
    frame = frame.with_columns(
        pl.col(f"field_{i}").str.to_integer(base=16, strict=False).alias(f"n{i}") for i in range(4)
    )
    value: pl.Expr = pl.lit(0, dtype=pl.UInt64)
    valid: pl.Expr = pl.col("suffix") & pl.col("field_4").is_null()
    for i in range(4):
        group, number = pl.col(f"field_{i}"), pl.col(f"n{i}")
        digits = (
            group.str.len_bytes().is_between(1, 4) & ~group.str.starts_with("+") & ~group.str.starts_with("-")
        )
        present = group.is_not_null() if i else pl.lit(True)
        valid = valid & (~present | (digits & number.is_not_null()))
        value = value * 65536 + number.fill_null(0).cast(pl.UInt64)
    return frame.select(pl.when(valid).then(value).alias("v")).to_series()


def network_of(key: str, v4_bits: int = 24, v6_bits: int = 48) -> str:
    """Return the enclosing network of a source key (/24 for IPv4, /48 for IPv6 by default).

    Public summaries carry networks, never single addresses (see the evidence/summary split).
    """
    host = key.split("/", 1)[0]
    addr = ipaddress.ip_address(host)
    bits = v4_bits if isinstance(addr, ipaddress.IPv4Address) else v6_bits
    return str(ipaddress.ip_network((addr, bits), strict=False))


def networks48(keys: pl.Series) -> dict[str, str]:
    """:func:`network_of` of each IPv6 source key, each /48 written once.

    An attack's IPv6 sources share few /48s, and writing one costs far more than finding it: the top 48
    bits come from :func:`upper64`, and only a key it cannot read is parsed whole.
    """
    written: dict[int, str] = {}
    out = {}
    for key, top in zip(keys.to_list(), upper64(keys).to_list(), strict=True):
        if top is None:
            out[key] = network_of(key)
            continue
        if (net := top >> 16) not in written:
            written[net] = str(ipaddress.IPv6Network((net << 80, 48)))
        out[key] = written[net]
    return out


def parse_networks(items: Iterable[str], what: str) -> tuple[IPNetwork, ...]:
    """Parse CIDR strings from configuration; a bad one is a :class:`ConfigError` naming ``what``."""
    out: list[IPNetwork] = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"{what}: {item!r} is not an IP network ({exc})") from exc
    return tuple(out)


@dataclass(frozen=True)
class NetworkSet:
    """A set of networks with a membership test on address strings (a search in merged ranges).

    Published crawler lists hold hundreds of prefixes, so membership is a binary search in the sorted,
    merged ranges of each IP version, not a walk over the networks.
    """

    networks: tuple[IPNetwork, ...]

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):
            return False
        addr = parse_address(text.split("/", 1)[0])
        if addr is None:
            return False
        starts, ends = self._ranges[addr.version]
        at = bisect_right(starts, int(addr)) - 1
        return at >= 0 and int(addr) <= ends[at]

    def __bool__(self) -> bool:
        return bool(self.networks)

    @cached_property
    def _ranges(self) -> dict[int, tuple[list[int], list[int]]]:
        out: dict[int, tuple[list[int], list[int]]] = {4: ([], []), 6: ([], [])}
        spans = sorted((n.version, int(n.network_address), int(n.broadcast_address)) for n in self.networks)
        for version, lo, hi in spans:
            starts, ends = out[version]
            if ends and lo <= ends[-1] + 1:
                ends[-1] = max(ends[-1], hi)
            else:
                starts.append(lo)
                ends.append(hi)
        return out


# an X-Forwarded-For hop with a port: ``[v6]`` or ``[v6]:port``, or ``v4:port`` (one colon: a bare IPv6
# address has two or more, and is read as itself)
_HOP_WITH_PORT = re.compile(r"\[([^\]]*)\](?::[0-9]{1,5})?|([^:]*):[0-9]{1,5}")


def hop_address(hop: str) -> str:
    """The address of an X-Forwarded-For hop, without the port some proxies append (Azure Application
    Gateway writes ``203.0.113.5:4711`` and ``[2001:db8::5]:4711``) or the brackets of an IPv6 one;
    any other text as it is."""
    match = _HOP_WITH_PORT.fullmatch(hop)
    if match is None:
        return hop
    return match[1] if match[1] is not None else match[2]


def client_from_forwarded(peer: str, hops: Sequence[str], trusted: NetworkSet) -> str:
    """Return the client address of a request received from ``peer`` with X-Forwarded-For ``hops``.

    The header is honoured only when the peer is a trusted proxy; then the client is the right-most hop
    that is not itself a trusted proxy (hops to its left can be written by anyone, so the left-most is
    spoofable). When every hop is trusted the left-most hop is the best we know. Hops are read by
    :func:`hop_address` (a port dropped).
    """
    if not trusted or peer not in trusted:
        return peer
    addresses = (hop_address(h.strip()) for h in hops)
    cleaned = [a for a in addresses if a and a not in ("-", "unknown")]
    for hop in reversed(cleaned):
        if hop not in trusted:
            return hop
    return cleaned[0] if cleaned else peer
