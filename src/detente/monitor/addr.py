"""Addresses: source keys, prefixes and trusted-proxy resolution.

Invariants:
- A *source key* is the unit the detectors count: an IPv4 address in dotted form, or the /64 prefix of an
  IPv6 address written ``"2001:db8:1:2::/64"`` (one subscriber usually holds a whole /64, so counting
  single IPv6 addresses would let one host look like thousands).
- IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``) are treated as the IPv4 address they carry.
- Anything that is not an address maps to ``None`` and the line is counted as malformed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from detente.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=1 << 18)
def parse_address(text: str) -> IPAddress | None:
    """Return the address in ``text`` (IPv4-mapped IPv6 unwrapped), or ``None`` if it is not one."""
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


@lru_cache(maxsize=1 << 18)
def source_key(text: str) -> str | None:
    """Return the source key of an address string: IPv4 as is, IPv6 as its /64; ``None`` if invalid."""
    addr = parse_address(text)
    if addr is None:
        return None
    if isinstance(addr, ipaddress.IPv4Address):
        return str(addr)
    net = ipaddress.IPv6Network((int(addr) >> 64 << 64, 64))
    return str(net)


def network_of(key: str, v4_bits: int = 24, v6_bits: int = 48) -> str:
    """Return the enclosing network of a source key (/24 for IPv4, /48 for IPv6 by default).

    Public summaries carry networks, never single addresses (see the evidence/summary split).
    """
    host = key.split("/", 1)[0]
    addr = ipaddress.ip_address(host)
    bits = v4_bits if isinstance(addr, ipaddress.IPv4Address) else v6_bits
    return str(ipaddress.ip_network((addr, bits), strict=False))


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
    """A set of networks with a cached membership test on address strings."""

    networks: tuple[IPNetwork, ...]

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and _member(self.networks, text)

    def __bool__(self) -> bool:
        return bool(self.networks)


@lru_cache(maxsize=1 << 16)
def _member(networks: tuple[IPNetwork, ...], text: str) -> bool:
    addr = parse_address(text.split("/", 1)[0])
    if addr is None:
        return False
    return any(addr.version == net.version and addr in net for net in networks)


def client_from_forwarded(peer: str, hops: Sequence[str], trusted: NetworkSet) -> str:
    """Return the client address of a request received from ``peer`` with X-Forwarded-For ``hops``.

    The header is honoured only when the peer is a trusted proxy; then the client is the right-most hop
    that is not itself a trusted proxy (hops to its left can be written by anyone, so the left-most is
    spoofable). When every hop is trusted the left-most hop is the best we know.
    """
    if not trusted or peer not in trusted:
        return peer
    cleaned = [h.strip() for h in hops if h.strip() and h.strip() not in ("-", "unknown")]
    for hop in reversed(cleaned):
        if hop not in trusted:
            return hop
    return cleaned[0] if cleaned else peer
