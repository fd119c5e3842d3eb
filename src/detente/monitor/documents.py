"""Reading the monitor's JSON documents (incidents, evidence, truth): a module of its own, light to
import, so that the registry's incident commands can read them without loading the scanner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from detente.errors import MalformedError


def _one_of_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of the document, refused if it names a key twice: readers disagree on which one
    counts (Python's and most others keep the last), so an evidence entry could show one set of
    sources to the counterparty and another to a court while matching the signed digest in both."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"the key {key[:40]!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def read_document(path: Path, schema: str) -> dict[str, Any]:
    """Read a JSON document of the monitor (incidents, evidence, truth), refusing any other schema and
    any object that names a key twice."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_one_of_each)
    except ValueError as exc:  # a file that cannot be read is the shell's to report (66, 77 or 74)
        raise MalformedError(f"{path}: not a readable JSON document ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        raise MalformedError(f"{path}: not a document of schema {schema}")
    return doc
