"""The registry's folder: its log (a :class:`~detente.tlog.home.LogHome`), notary key and blobs.

Layout of ``DIR``::

    log/            the transparency log's home (log.key, log.vkey, log.db, published-checkpoint)
    notary.key      the notary's Ed25519 key (0600), apart from the log key
    registry.json   {"notary": NAME}
    blobs/<sha256>  content-addressed blobs, checked against their name on every read
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from detente.errors import ConfigError, TamperError
from detente.files import all_or_nothing, replace_durably
from detente.statements.canonical import sha256_hex
from detente.statements.keys import SigningKey
from detente.tlog.home import PRIVATE_FOLDER, LogHome, read_secret, write_secret
from detente.tlog.note import Ed25519Verifier

from .core import Registry

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class FileBlobs:
    """Blobs as files named by their SHA-256, written once (atomically) and checked on every read."""

    path: Path
    _cache: dict[str, bytes] = field(default_factory=dict)

    def get(self, digest: str) -> bytes | None:
        """The blob with this SHA-256, or None."""
        if not _HEX64.fullmatch(digest):
            return None
        if digest in self._cache:
            return self._cache[digest]
        try:
            data = (self.path / digest).read_bytes()
        except FileNotFoundError:
            return None
        if sha256_hex(data) != digest:
            raise TamperError(f"blob file {digest} does not match its hash")
        self._cache[digest] = data
        return data

    def put(self, data: bytes) -> str:
        """Store a blob; return its SHA-256."""
        digest = sha256_hex(data)
        target = self.path / digest
        if not target.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            # durable before the registry appends an entry that cites it (Registry.submit_batch)
            replace_durably(target, data, self.path / f".{digest}.{os.getpid()}.tmp")
        self._cache[digest] = data
        return digest


def utc_now() -> datetime:
    """The system clock in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class RegistryHome:
    """The folder of one registry."""

    path: Path

    @property
    def log_home(self) -> LogHome:
        """The log's own folder."""
        return LogHome(self.path / "log")

    def exists(self) -> bool:
        """Whether a registry was created here."""
        return (self.path / "registry.json").exists()

    def init(
        self,
        origin: str,
        notary_name: str,
        random: Callable[[int], bytes] = os.urandom,
        database: str | None = None,
    ) -> None:
        """Create the log (SQLite here, or ``database``), a notary key and the settings; refuse if a
        registry is already here.

        All or nothing: if a step fails, what this call made in the folder is removed (the folder too if
        it made it), so that a later init can succeed; nothing that was there before is touched.
        """
        if self.exists():
            raise ConfigError(f"{self.path} already holds a registry: use it, or choose another --dir")
        with all_or_nothing(self.path, PRIVATE_FOLDER):
            # the key before the log: a database log cannot be removed with the folder, so it is made
            # after every file step that may fail
            write_secret(self.path / "notary.key", SigningKey.generate(random).to_file().decode())
            self.log_home.init(origin, database).close()
            text = json.dumps({"notary": notary_name}) + "\n"
            (self.path / "registry.json").write_text(text, encoding="utf-8")

    def notary(self) -> tuple[SigningKey, str]:
        """The notary key and name."""
        try:
            name = json.loads((self.path / "registry.json").read_text(encoding="utf-8"))["notary"]
        except FileNotFoundError as exc:
            raise ConfigError(f"{self.path} is not a registry: run `detente init --dir {self.path}`") from exc
        return SigningKey.from_file(read_secret(self.path / "notary.key").encode()), str(name)

    def log_key(self) -> Ed25519Verifier:
        """The log's public key (give it to anyone who verifies bundles)."""
        return self.log_home.verifier()

    def open(self, clock: Callable[[], datetime] = utc_now) -> Registry:
        """Open the registry as the log's one writer and replay the projection."""
        notary, name = self.notary()
        log = self.log_home.open(write=True)
        try:
            return Registry.open(log, notary, name, FileBlobs(self.path / "blobs"), clock)
        except BaseException:
            log.close()
            raise
