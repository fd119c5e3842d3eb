"""Protected assets, declared in TOML.

Example (the full reference is in ``docs/monitor.md``)::

    [[asset]]
    name = "central-election-commission"
    party = "XX"                      # owning party, ISO 3166-1 alpha-2
    kind = "election-body"            # or "state-agency"
    hosts = ["cec.example", "www.cec.example"]
    login_paths = ["/login", "/account/signin"]
    login_failure_status = [401, 403] # how this site answers a failed login
    trusted_proxies = ["10.0.0.0/8"]  # X-Forwarded-For is honoured only from these
    allow = ["192.0.2.0/28"]          # expected heavy users: the site's own monitoring
    allow_files = ["googlebot.json"]  # published crawler ranges, kept beside this file (read offline)
    [asset.expect]
    requests_per_minute = 400         # optional prior for the baseline before traffic is seen

Invariants: names are unique; every network parses; the first asset is the default for lines whose host
matches no asset (most logs carry no host at all).
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detente.errors import ConfigError

from .addr import NetworkSet, parse_networks

ASSET_KINDS = ("state-agency", "election-body")


@dataclass(frozen=True)
class Expectation:
    """Optional prior for the baseline: the normal traffic level, per minute."""

    requests_per_minute: float | None = None
    sources_per_minute: float | None = None


@dataclass(frozen=True)
class Asset:
    """A protected website: who owns it, how to recognise its lines and its logins."""

    name: str
    party: str = "ZZ"
    kind: str = "state-agency"
    hosts: tuple[str, ...] = ()
    login_paths: tuple[str, ...] = ("/login",)
    login_methods: tuple[str, ...] = ("POST",)
    login_failure_status: tuple[int, ...] = (401, 403)
    trusted_proxies: NetworkSet = field(default_factory=lambda: NetworkSet(()))
    allow: NetworkSet = field(default_factory=lambda: NetworkSet(()))
    expect: Expectation = field(default_factory=Expectation)


def _strings(raw: dict[str, Any], key: str, default: tuple[str, ...], where: str) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _allow(raw: dict[str, Any], where: str, base: Path) -> NetworkSet:
    """The ``allow`` networks and those of each file in ``allow_files`` (relative to ``base``)."""
    networks = list(parse_networks(_strings(raw, "allow", (), where), where))
    for name in _strings(raw, "allow_files", (), where):
        path = base / name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read allow file {path}: {exc}") from exc
        networks += parse_networks(range_file(text, str(path)), f"{where}, {path}")
    return NetworkSet(tuple(networks))


def range_file(text: str, origin: str) -> list[str]:
    """The prefixes of a published range list: the JSON that Google and Bing publish for their crawlers
    (``{"prefixes": [{"ipv4Prefix": ...}, {"ipv6Prefix": ...}]}``), or one CIDR per line (``#`` comments).
    """
    if not text.lstrip().startswith("{"):
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return [line for line in lines if line]
    try:
        prefixes = json.loads(text)["prefixes"]
        return [p.get("ipv4Prefix") or p["ipv6Prefix"] for p in prefixes]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{origin}: not a published range list (prefixes of ipv4Prefix/ipv6Prefix)"
        ) from exc


ASSET_KEYS = frozenset(
    {"name", "party", "kind", "hosts", "login_paths", "login_methods", "login_failure_status",
     "trusted_proxies", "allow", "allow_files", "expect"}
)  # fmt: skip
EXPECT_KEYS = frozenset({"requests_per_minute", "sources_per_minute"})


def _asset(raw: dict[str, Any], index: int, base: Path) -> Asset:
    where = f"asset #{index + 1}"
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: a name is required")
    where = f"asset {name!r}"
    _known(raw, ASSET_KEYS, where)  # a misspelt key (say `allow_file`) must not quietly do nothing
    party = raw.get("party", "ZZ")
    if not isinstance(party, str) or len(party) != 2 or not (party.isascii() and party.isupper()):
        raise ConfigError(f'{where}: party must be an ISO 3166-1 alpha-2 code such as "RU", not {party!r}')
    kind = raw.get("kind", "state-agency")
    if kind not in ASSET_KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(ASSET_KINDS)}, not {kind!r}")
    status = raw.get("login_failure_status", [401, 403])
    if not isinstance(status, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in status
    ):
        raise ConfigError(f"{where}: login_failure_status must be a list of HTTP status codes (100-599)")
    login_paths = _strings(raw, "login_paths", ("/login",), where)
    if any(c.isspace() for p in login_paths for c in p):
        # no request's path holds a space, and a line without a target has one (formats.NO_TARGET)
        raise ConfigError(f"{where}: a login path must be a path such as /login, without spaces")
    expect = raw.get("expect", {})
    if not isinstance(expect, dict):
        raise ConfigError(f"{where}: expect must be a table")
    _known(expect, EXPECT_KEYS, f"{where}: expect")
    return Asset(
        name=name,
        party=party,
        kind=kind,
        hosts=tuple(h.lower() for h in _strings(raw, "hosts", (), where)),
        login_paths=login_paths,
        login_methods=tuple(m.upper() for m in _strings(raw, "login_methods", ("POST",), where)),
        login_failure_status=tuple(status),
        trusted_proxies=NetworkSet(parse_networks(_strings(raw, "trusted_proxies", (), where), where)),
        allow=_allow(raw, where, base),
        expect=Expectation(
            requests_per_minute=_number(expect, "requests_per_minute", where),
            sources_per_minute=_number(expect, "sources_per_minute", where),
        ),
    )


def _known(raw: dict[str, Any], keys: frozenset[str], where: str) -> None:
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(keys))}")


def _number(raw: dict[str, Any], key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < math.inf:
        raise ConfigError(f"{where}: expect.{key} must be a non-negative number")
    return float(value)


def parse_assets(text: str, origin: str = "assets.toml", base: Path = Path()) -> tuple[Asset, ...]:
    """Parse the TOML text of an assets file (``allow_files`` are found under ``base``); raise
    :class:`ConfigError` saying what is wrong."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML ({exc})") from exc
    raw = doc.get("asset")
    if not isinstance(raw, list) or not raw or not all(isinstance(item, dict) for item in raw):
        raise ConfigError(f"{origin}: declare at least one [[asset]] table")
    assets = tuple(_asset(item, i, base) for i, item in enumerate(raw))
    names = [a.name for a in assets]
    if len(set(names)) != len(names):
        raise ConfigError(f"{origin}: asset names must be unique")
    return assets


def load_assets(path: Path) -> tuple[Asset, ...]:
    """Read and parse an assets file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read assets file {path}: {exc}") from exc
    return parse_assets(text, str(path), path.parent)


def default_asset(name: str = "site") -> Asset:
    """The asset used when no assets file is given: every line belongs to it."""
    return Asset(name=name)
