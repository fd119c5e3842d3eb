"""The ``detente`` console script: dispatches before importing, so each command loads only its part.

``detente monitor scan`` is timed against other log scanners, and its start-up counts: importing the
registry, the service and the web pages for it would cost a second before the first line is read.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``detente`` with the arguments of this process."""
    args = sys.argv[1:]
    if args[:1] == ["monitor"]:
        from detente.monitor.cli import app as monitor_app

        monitor_app(args=args[1:], prog_name="detente monitor")
        return
    from detente.cli import main as full_main

    full_main()
