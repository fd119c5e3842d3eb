"""A writer that appends batches until it is killed, acknowledging each commit on stdout.

Run by the crash test as ``python -m tests.tlog.crash_writer DIR SEED``. Entry ``j`` of batch ``b`` of
length ``n`` is ``b"<b>:<j>/<n>"``, so a reader can tell whether any batch is only partly visible.
"""

from __future__ import annotations

import base64
import random
import sys
from pathlib import Path

from detente.tlog.home import LogHome


def main() -> None:
    """Append batches forever; print ``ack <size> <root>`` after each commit."""
    home, seed = LogHome(Path(sys.argv[1])), int(sys.argv[2])
    rng = random.Random(seed)
    log = home.open(write=True)
    batch = log.size
    while True:
        n = rng.randint(1, 700)
        done = log.append([f"{batch}:{j}/{n}".encode() for j in range(n)])
        root = base64.b64encode(done.checkpoint.root).decode()
        print(f"ack {done.checkpoint.size} {root}", flush=True)
        batch += n


if __name__ == "__main__":
    main()
