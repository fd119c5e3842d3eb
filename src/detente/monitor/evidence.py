"""An incident's evidence and its digest: what the assurances side reads of the monitor's output.

Kept apart from :mod:`.incidents` (which builds incidents with Polars) so that reading or checking
evidence loads no data frame library: the registry's commands check evidence digests
(:mod:`detente.registry.incidents`) without Polars or numpy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


def canonical(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, compact, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Evidence:
    """The private part: every attributed source and a redacted sample of requests."""

    incident: str
    sources: list[dict[str, Any]]
    sample: list[str]

    def digest(self) -> str:
        """SHA-256 of the canonical JSON (sorted keys, no spaces) of this evidence."""
        doc = {"incident": self.incident, "sources": self.sources, "sample": self.sample}
        return hashlib.sha256(canonical(doc)).hexdigest()  # asdict would deep-copy every source
