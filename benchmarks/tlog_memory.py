"""Child process for peak-memory figures: build an in-memory log of N entries, print VmHWM (KB).

VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec.

``python -m benchmarks.tlog_memory detente|pymerkle|baseline N``
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    """Build the log named on the command line and print the peak RSS."""
    kind, n = sys.argv[1], int(sys.argv[2])
    entries = (i.to_bytes(8, "big") * 13 for i in range(n))  # 104-byte entries, made lazily
    if kind == "detente":
        from detente.tlog.log import Log
        from detente.tlog.note import Signer
        from detente.tlog.storage import MemoryStore

        log = Log.create(MemoryStore(), Signer.generate("bench/memory"))
        batch: list[bytes] = []
        for entry in entries:
            batch.append(entry)
            if len(batch) == 4096:
                log.append(batch)
                batch = []
        log.append(batch)
    elif kind == "pymerkle":
        from pymerkle import InmemoryTree

        tree = InmemoryTree(algorithm="sha256")
        for entry in entries:
            tree.append_entry(entry)
    status = Path("/proc/self/status").read_text().splitlines()
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))


if __name__ == "__main__":
    main()
