"""Files replaced atomically and durably: what a crash leaves is the old file or the new one, and once
the call returns, the new one survives a power cut.
"""

from __future__ import annotations

import os
from pathlib import Path


def replace_durably(target: Path, data: bytes, tmp: Path) -> None:
    """Write ``data`` to ``tmp``, flush it to the disk, rename it to ``target``, then flush the folder
    (the rename is an entry of the folder, not of the file)."""
    with tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(target)
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
