"""The ``detente`` console script: dispatches before importing, so each command loads only its part.

``detente monitor scan`` is timed against other log scanners, and its start-up counts: importing the
registry, the service and the web pages for it would cost a second before the first line is read.
Its end counts too: the monitor's commands freeze the garbage collector's objects once they are done
(their outputs written and closed), so that the interpreter's exit does not walk them all again (0.15-0.2
s after a scan of 1.5M lines, measured in docs/monitor.md); the operating system reclaims the memory.
And the monitor runs numpy's OpenBLAS on one thread: it does no linear algebra, and OpenBLAS's idle
threads spin (2.4% of a scan's CPU samples under ``perf``, on two cores that the scan fills).
"""

from __future__ import annotations

import gc
import os
import sys


def main() -> None:
    """Run ``detente`` with the arguments of this process."""
    args = sys.argv[1:]
    if args[:1] == ["monitor"]:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read when numpy is first imported
        from detente.monitor.cli import app as monitor_app

        gc.freeze()  # the modules live as long as the process: no collection need walk them
        try:
            monitor_app(args=args[1:], prog_name="detente monitor")
        finally:
            gc.freeze()
        return
    from detente.cli import main as full_main

    full_main()
