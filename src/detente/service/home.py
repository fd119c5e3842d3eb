"""The service's folder: the log (its own :class:`~detente.tlog.home.LogHome`), the notary key, the blobs
and the service settings.

Layout of ``DIR``::

    service.json      settings (origin, notary name, witnesses, limits); no secrets
    notary.key        the notary's Ed25519 key (mode 0600, never printed, never served)
    blobs/<sha256>    content-addressed blobs (terms, texts), each written once
    log/              the log's folder: log.key (0600), log.vkey, config.json, log.db unless PostgreSQL

The log key and the notary key are apart on purpose (ARCHITECTURE.md, "Parties and authority").
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from detente.errors import ConfigError, MalformedError
from detente.files import all_or_nothing
from detente.registry.home import FileBlobs, RegistryHome
from detente.service.webhooks import Webhook
from detente.statements.keys import SigningKey
from detente.tlog.home import PRIVATE_FOLDER, LogHome
from detente.tlog.log import Log
from detente.witness.client import Witness

DATABASE_ENV = "DETENTE_DATABASE_URL"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class _Range:
    """The values a numeric setting may take: finite, from ``least`` (itself allowed or not) up to
    ``most``."""

    least: float
    allowed: bool  # whether ``least`` itself is allowed
    most: float
    unit: str
    whole: bool = False  # a whole number (a count of bytes), not any number

    def admits(self, value: object) -> bool:
        """Whether ``value`` is in range (a JSON true or false is no number, though Python counts it one)."""
        kinds = int if self.whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        above = value >= self.least if self.allowed else value > self.least
        return above and value <= self.most  # compared exactly: a 400-digit integer is no float

    def describe(self) -> str:
        """The range in words, for the error message."""
        kind = "a whole number" if self.whole else "a number"
        bound = f"{self.least:g} or more" if self.allowed else f"more than {self.least:g}"
        return f"{kind} of {self.unit}, {bound}, at most {self.most:g}"


DAY = 86_400.0
# Below these a limit does not limit but breaks the service: a rate of 0 divides by zero on the first
# request, a max_body under 1 refuses every request (a GET too), a burst under 1 never lets one through,
# an interval of 0 would spin. A wait of 0 has a meaning: answer 202 at once. Above them a setting means
# nothing more (an interval of more than a day) or overflows the clock (1e300 seconds killed the lapse
# thread): the bounds of rate and burst leave room for "no limit" (1e9, as benchmarks set it).
_RANGES = {
    "publish_interval": _Range(0, allowed=False, most=DAY, unit="seconds"),
    "max_body": _Range(1, allowed=True, most=1 << 30, unit="bytes", whole=True),
    "rate": _Range(0, allowed=False, most=1e12, unit="requests per second"),
    "burst": _Range(1, allowed=True, most=1e12, unit="requests"),
    "wait": _Range(0, allowed=True, most=DAY, unit="seconds"),
    "lapse_interval": _Range(0, allowed=False, most=DAY, unit="seconds"),
}
_TEXTS = ("origin", "notary", "public_url", "trusted_proxies")


@dataclass(frozen=True)
class WitnessSetting:
    """A witness the registry sends its checkpoints to."""

    url: str
    vkey: str

    def witness(self) -> Witness:
        """The client-side witness."""
        from detente.tlog.cosignature import parse_cosignature_vkey

        return Witness(self.url.rstrip("/"), parse_cosignature_vkey(self.vkey))


@dataclass(frozen=True)
class Settings:
    """The service settings kept in ``service.json`` (all public)."""

    origin: str = "registry.detente.localhost"
    notary: str = "notary.detente.localhost"
    witnesses: tuple[WitnessSetting, ...] = ()
    webhooks: tuple[Webhook, ...] = ()  # [{"url": ..., "party": "US"}]: new statements concerning a party
    publish_interval: float = 5.0  # seconds between witness rounds, at most one round per interval
    max_body: int = 1 << 20  # bytes of a request body
    rate: float = 50.0  # requests per second per client address
    burst: float = 200.0
    wait: float = 10.0  # seconds a submission waits for its batch before answering 202
    lapse_interval: float = 60.0  # seconds between deadline checks at most
    public_url: str = ""  # e.g. https://registry.example.org: the links webhooks and feeds carry
    trusted_proxies: str = "127.0.0.1"  # addresses whose X-Forwarded-For is believed ("" believes none)

    def _check_kinds(self) -> None:
        """Refuse a setting of the wrong kind or out of range, at load time: the service would otherwise
        start and fail on each request (a 500, or a 413 for every GET)."""
        for name, allowed in _RANGES.items():
            value = getattr(self, name)
            if not allowed.admits(value):
                raise ConfigError(
                    f"service.json: {name} is {_shown(value)}, but it must be {allowed.describe()}: "
                    f"correct it, or remove it for the default ({getattr(Settings, name)!r})"
                )
        for name in _TEXTS:
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ConfigError(f"service.json: {name} is {_shown(value)}, but it must be a string")

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        value = asdict(self)
        value["witnesses"] = [asdict(w) for w in self.witnesses]
        value["webhooks"] = [asdict(w) for w in self.webhooks]
        return value

    @classmethod
    def from_json(cls, value: Any) -> Settings:
        """Read settings; unknown fields are refused so that a typo is not silently ignored."""
        if not isinstance(value, dict):
            raise ConfigError("service.json must hold a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(f"service.json has unknown settings: {', '.join(unknown)}")
        witnesses = tuple(WitnessSetting(str(w["url"]), str(w["vkey"])) for w in value.get("witnesses", []))
        webhooks = tuple(Webhook(str(w["url"]), str(w["party"])) for w in value.get("webhooks", []))
        return cls(**{**value, "witnesses": witnesses, "webhooks": webhooks})

    def __post_init__(self) -> None:
        """Refuse settings that cannot work together, saying which and why.

        Raises:
            ConfigError: a numeric setting is not a number in its range (``_RANGES``), a text setting
                is not text, ``public_url`` is not an http(s) address without a path's trailing slash,
                or webhooks are set without it (the links they carry would lead nowhere).
        """
        self._check_kinds()
        if self.public_url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*[^/?#\s])?", self.public_url):
            raise ConfigError(
                f"public_url {self.public_url[:80]!r} must be an http(s) address such as "
                "https://registry.example.org, without a trailing slash"
            )
        if self.webhooks and not self.public_url:
            raise ConfigError(
                "webhooks need public_url in service.json (the registry's address as its receivers reach "
                "it): each act they carry links to its entry page there"
            )


def _shown(value: object) -> str:
    """A setting's value as service.json spells it (a string quoted), cut short if long."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # a value built in Python, not read from JSON
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class ServiceHome:
    """The folder of one registry service."""

    path: Path

    @property
    def log_home(self) -> LogHome:
        """The log's own folder."""
        return LogHome(self.path / "log")

    def exists(self) -> bool:
        """Whether a registry was created here."""
        return (self.path / "service.json").exists()

    def settings(self) -> Settings:
        """Read service.json."""
        try:
            return Settings.from_json(json.loads((self.path / "service.json").read_text(encoding="utf-8")))
        except FileNotFoundError as exc:
            hint = f"run `detente serve --dir {self.path}`"
            raise ConfigError(f"{self.path} holds no registry: {hint}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"service.json is not valid: {exc}") from exc

    def adoptable(self) -> bool:
        """Whether a registry made by ``detente init`` or ``detente example`` is here, not yet served."""
        return not self.exists() and RegistryHome(self.path).exists()

    def adopt(self) -> None:
        """Serve the registry made here by ``detente init``: write default settings with its names.

        Its keys, log and statements stay as they are; only ``service.json`` is added.
        """
        if not self.adoptable():
            raise ConfigError(f"{self.path} holds no registry made by `detente init` to serve")
        origin = str(self.log_home.config()["origin"])
        self.save(Settings(origin=origin, notary=RegistryHome(self.path).notary()[1]))

    def init(self, settings: Settings, database: str | None = None) -> None:
        """Create the keys, settings and an empty log; refuse if a registry is already here.

        All or nothing: if a step fails (an unreachable database, say), what this call made is removed,
        so that the next ``detente serve`` starts afresh; a registry already here is never touched.
        """
        if self.exists() or RegistryHome(self.path).exists():
            raise ConfigError(f"{self.path} already holds a registry: choose another folder")
        with all_or_nothing(self.path, PRIVATE_FOLDER):
            RegistryHome(self.path).init(settings.origin, settings.notary, os.urandom, database)
            self.save(settings)

    def save(self, settings: Settings) -> None:
        """Write service.json."""
        text = json.dumps(settings.to_json(), indent=2) + "\n"
        (self.path / "service.json").write_text(text, encoding="utf-8")

    def notary(self) -> SigningKey:
        """The notary key, from its 0600 file."""
        try:
            return RegistryHome(self.path).notary()[0]
        except MalformedError as exc:
            raise ConfigError(f"notary.key is not a key file: {exc}") from exc

    def blobs(self) -> FileBlobs:
        """The blob store."""
        return FileBlobs(self.path / "blobs")

    def open_writer(self) -> Log:
        """The log opened as its one writer (takes the writer lock)."""
        self._check_database()
        return self.log_home.open(write=True)

    def open_reader(self) -> Log:
        """A read-only view of the log on its own connection."""
        return self.log_home.open()

    def _check_database(self) -> None:
        wanted = os.environ.get(DATABASE_ENV)
        configured = self.log_home.config()["database"]
        if wanted and wanted != configured:
            raise ConfigError(
                f"{DATABASE_ENV} names another database than the one this registry was created with "
                f"({self.log_home.path / 'config.json'}); unset it or use another --dir"
            )
