"""A witness's folder: its key (0600), the logs it trusts, and its state.

Layout of ``DIR``: ``witness.key`` (cosignature/v1 key, mode 0600), ``witness.vkey``, ``logs.json``
(``{origin: verifier key}``), ``state.db``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from detente.errors import ConfigError
from detente.files import replace_durably
from detente.tlog.home import PRIVATE_FOLDER, read_secret, write_secret
from detente.tlog.note import (
    ALG_COSIGNATURE_V1,
    Ed25519Verifier,
    Signer,
    parse_ed25519_vkey,
    parse_private_key,
)
from detente.witness.state import WitnessState


@dataclass(frozen=True)
class WitnessHome:
    """The folder of one witness."""

    path: Path

    def init(self, name: str) -> Signer:
        """Create the folder and a new witness key; refuse if one exists."""
        self.path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
        if (self.path / "witness.key").exists():
            raise ConfigError(f"{self.path} already holds a witness")
        signer = Signer.generate(name, alg=ALG_COSIGNATURE_V1)
        write_secret(self.path / "witness.key", signer.private_key_string + "\n")
        (self.path / "witness.vkey").write_text(signer.vkey + "\n", encoding="utf-8")
        (self.path / "logs.json").write_text("{}\n", encoding="utf-8")
        return signer

    def signer(self) -> Signer:
        """The witness key."""
        signer = parse_private_key(read_secret(self.path / "witness.key"))
        if signer.alg != ALG_COSIGNATURE_V1:
            raise ConfigError("witness.key is not a cosignature/v1 key")
        return signer

    def logs(self) -> dict[str, Ed25519Verifier]:
        """The logs this witness cosigns, by origin."""
        path = self.path / "logs.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{self.path} is not a witness folder: run `detente witness init`") from exc
        except ValueError as exc:  # not UTF-8, not JSON
            raise ConfigError(f"{path} is damaged ({exc}); restore it or add the logs again") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ConfigError(f"{path} is not an object of origins and log keys; restore it")
        return {origin: parse_ed25519_vkey(vkey) for origin, vkey in data.items()}

    def add_log(self, vkey: str) -> str:
        """Trust a log's key (its name is its origin); return the origin."""
        verifier = parse_ed25519_vkey(vkey)
        logs = {origin: v.vkey for origin, v in self.logs().items()}
        logs[verifier.name] = verifier.vkey
        text = json.dumps(logs, indent=2) + "\n"
        replace_durably(self.path / "logs.json", text.encode("utf-8"), self.path / "logs.json.tmp")
        return verifier.name

    def state(self) -> WitnessState:
        """Open the durable state."""
        return WitnessState(self.path / "state.db")
