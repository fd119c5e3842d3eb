"""``detente`` commands for each act of the assurances: the Typer sub-app ``app`` that the lead mounts.

The commands live in ``cli_common`` (registry, keys, parties, submit), ``cli_acts`` (the acts) and
``cli_views`` (status, timeline, bundles, verification, the example, incidents); importing them
registers them on ``app``.
"""

from detente.registry import cli_acts, cli_views
from detente.registry.cli_common import app

__all__ = ["app", "cli_acts", "cli_views"]
