"""Run a browser verifier module's cases in Node.js 20 (the same WebCrypto as the browser)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

Cases = list[dict[str, Any]]


def run_in_node(runner: Path, module: Path, cases: Cases, tmp_path: Path) -> Cases:
    """Write ``cases`` to a file, run ``node runner module cases.json``, return its JSON results."""
    file = tmp_path / "cases.json"
    file.write_text(json.dumps(cases))
    command = ["node", str(runner), str(module), str(file)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    results: Cases = json.loads(out.stdout)
    return results
