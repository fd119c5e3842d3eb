"""Reading the monitor's JSON documents (incidents, evidence, truth): a module of its own, light to
import, so that the registry's incident commands can read them without loading the scanner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from detente.errors import MalformedError


def read_document(path: Path, schema: str) -> dict[str, Any]:
    """Read a JSON document of the monitor (incidents, evidence, truth), refusing any other schema."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MalformedError(f"{path}: not a readable JSON document ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        raise MalformedError(f"{path}: not a document of schema {schema}")
    return doc
