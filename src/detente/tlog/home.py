"""A log's home folder: its key, its published checkpoint, its database and its settings.

Layout of ``DIR``::

    config.json             {"origin": ..., "database": URL or null for DIR/log.db}
    log.key                 PRIVATE+KEY+... (mode 0600, never printed)
    log.vkey                the verifier key, to hand to anyone who checks the log
    published-checkpoint    the newest checkpoint published (kept outside the database)
    log.db                  the SQLite database, when no database URL is set

The key and the published checkpoint live outside the database on purpose: a database backup carries
neither, and a restored database is compared with the published checkpoint before use.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from detente.errors import ConfigError, MalformedError
from detente.files import all_or_nothing
from detente.tlog.log import Log
from detente.tlog.note import Ed25519Verifier, Signer, parse_ed25519_vkey, parse_private_key
from detente.tlog.published import PublishedCheckpoint
from detente.tlog.storage.port import LogStore, open_store

# A folder holding keys and a log: its owner's (and group's, to read), never anyone else's, whatever the
# umask; a world-writable folder would let another user replace a verifier key or the settings.
PRIVATE_FOLDER = 0o750


def write_secret(path: Path, text: str) -> None:
    """Write a secret file created with mode 0600 (never world- or group-readable, even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def read_secret(path: Path, what: str = "key file") -> str:
    """Read a secret file (``what`` it is, for the messages: a key file, a nonce file), refusing one that
    others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} does not exist") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{what} {path} is readable by others; run: chmod 600 {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # never the bytes themselves: they may be a key
        raise MalformedError(f"{path} is not a {what}: it is not text") from None


@dataclass(frozen=True)
class LogHome:
    """The folder that holds one log's key, settings and (by default) database."""

    path: Path

    @property
    def published(self) -> PublishedCheckpoint:
        """The published-checkpoint file."""
        return PublishedCheckpoint(self.path / "published-checkpoint")

    def config(self) -> dict[str, str | None]:
        """Read config.json."""
        try:
            data = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            if (self.path / "log" / "config.json").exists():  # a registry's folder: its log is inside
                hint = f"this is a registry's folder; its log is {self.path / 'log'}"
            else:
                hint = f"run `detente log init --dir {self.path}`"
            raise ConfigError(f"{self.path} is not a log folder: {hint}") from exc
        return {"origin": data["origin"], "database": data.get("database")}

    def database_url(self) -> str:
        """The store URL: the configured one, or the SQLite file in the folder."""
        return self.config()["database"] or f"sqlite:///{self.path / 'log.db'}"

    def verifier(self) -> Ed25519Verifier:
        """The log's public key."""
        return parse_ed25519_vkey((self.path / "log.vkey").read_text(encoding="utf-8"))

    def signer(self) -> Signer:
        """The log's private key, from a 0600 file."""
        return parse_private_key(read_secret(self.path / "log.key"))

    def init(self, origin: str, database: str | None = None) -> Log:
        """Create the folder, a new key, and an empty log; refuse if a log is already here.

        All or nothing: if a step fails (an unreachable database, a store that holds a log already),
        the files this call made are removed, so that the folder can be initialised again; nothing that
        was there before is touched.
        """
        with all_or_nothing(self.path, PRIVATE_FOLDER):
            if (self.path / "config.json").exists():
                raise ConfigError(f"{self.path} already holds a log")
            signer = Signer.generate(origin)
            write_secret(self.path / "log.key", signer.private_key_string + "\n")
            (self.path / "log.vkey").write_text(signer.vkey + "\n", encoding="utf-8")
            config = {"origin": origin, "database": database}
            # 0600: a database URL may hold its password
            write_secret(self.path / "config.json", json.dumps(config, indent=2) + "\n")
            return Log.create(open_store(self.database_url()), signer, self.published)

    def store(self) -> LogStore:
        """Open the log's store."""
        return open_store(self.database_url())

    def open(self, *, write: bool = False) -> Log:
        """Open the log, checked against its key and published checkpoint; ``write`` takes the lock."""
        signer = self.signer() if write else None
        return Log.open(self.store(), self.verifier(), signer=signer, published=self.published)
